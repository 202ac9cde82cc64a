"""Several hosts on one machine, for tests of the platform spread over workers: each worker in a network
namespace of its own, joined to this host by a veth pair (this host 10.231.N.1, the worker 10.231.N.2), the
way a worker on another machine reaches the services over the network. The services listen on loopback
here, so this host forwards each of them from its veth address (a TCP relay), and the workers are given
those addresses. Where namespaces cannot be made (not root, no `ip`), workers are plain local processes
reaching the services through the same relays on 127.0.0.1, and `Hosts.isolated` says so."""

import os
import selectors
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field


def namespaces_available() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"ecomprobe{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True)
    if made.returncode:
        return False
    subprocess.run(["ip", "netns", "delete", probe], capture_output=True)
    return True


class Relay:
    """Forwards TCP connections accepted on (host, port) to (target_host, target_port), in a thread."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server((host, 0))
        self.address = self.listener.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.address[1])

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        pair = {client: upstream, upstream: client}
        selector = selectors.DefaultSelector()
        for sock in pair:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.5):
                    source = key.fileobj
                    assert isinstance(source, socket.socket)
                    try:
                        data = source.recv(1 << 16)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        return
                    pair[source].setblocking(True)
                    try:
                        pair[source].sendall(data)
                    except OSError:
                        return
                    finally:
                        pair[source].setblocking(False)
        finally:
            selector.close()
            for sock in pair:
                sock.close()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


@dataclass
class Host:
    """One worker host: the command prefix that runs a process on it and the addresses it reaches the
    services at."""

    name: str
    address: str            # the worker's own address
    gateway: str            # this host, as the worker sees it
    prefix: list[str]       # e.g. ["ip", "netns", "exec", name]
    services: dict[str, tuple[str, int]] = field(default_factory=dict)  # service -> (host, port) to use

    def url(self, service: str) -> str:
        host, port = self.services[service]
        return f"{host}:{port}"


@dataclass
class Hosts:
    isolated: bool  # True: network namespaces; False: plain processes on this host
    hosts: list[Host]


@contextmanager
def worker_hosts(count: int, services: dict[str, tuple[str, int]]) -> Iterator[Hosts]:
    """`count` worker hosts reaching each of `services` (name -> loopback address) over the network."""
    isolated = namespaces_available()
    tag = uuid.uuid4().hex[:5]
    made: list[str] = []
    with ExitStack() as stack:
        hosts: list[Host] = []
        for n in range(count):
            if isolated:
                name, outside, inside = f"ecomw{n}{tag}", f"ecv{n}{tag}h", f"ecv{n}{tag}w"
                subnet = 10 + n
                gateway, address = f"10.231.{subnet}.1", f"10.231.{subnet}.2"
                for command in (
                    ["ip", "netns", "add", name],
                    ["ip", "link", "add", outside, "type", "veth", "peer", "name", inside],
                    ["ip", "link", "set", inside, "netns", name],
                    ["ip", "addr", "add", f"{gateway}/24", "dev", outside],
                    ["ip", "link", "set", outside, "up"],
                    ["ip", "netns", "exec", name, "ip", "addr", "add", f"{address}/24", "dev", inside],
                    ["ip", "netns", "exec", name, "ip", "link", "set", inside, "up"],
                    ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
                ):
                    subprocess.run(command, check=True, capture_output=True)
                    if command[:3] == ["ip", "netns", "add"]:
                        made.append(name)
                stack.callback(subprocess.run, ["ip", "link", "delete", outside], capture_output=True)
                prefix = ["ip", "netns", "exec", name]
            else:
                name, gateway, address, prefix = f"worker{n}", "127.0.0.1", "127.0.0.1", []
            host = Host(name=name, address=address, gateway=gateway, prefix=prefix)
            for service, target in services.items():
                relay = Relay(gateway, target)
                stack.callback(relay.close)
                host.services[service] = (gateway, relay.port)
            hosts.append(host)
        try:
            yield Hosts(isolated=isolated, hosts=hosts)
        finally:
            for name in made:
                subprocess.run(["ip", "netns", "pids", name], capture_output=True)
                subprocess.run(["ip", "netns", "delete", name], capture_output=True)
