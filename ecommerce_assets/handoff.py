"""Files handed from the step that wrote something to the next step on this host that reads it: the lake's
spool of an object it just uploaded, the warehouse's spool of a day it just loaded. A file is kept under the
identity of exactly what it holds (an object's URI and ETag; a table's day and the digest of its load), taken by
its first reader — renamed, so it is that reader's alone — and the newest `keep` of each group (a bucket's
objects; a table's days in one database) are kept, older ones deleted. Nothing depends on a file being there:
a reader that finds none reads the store."""

import hashlib
import os
import socket
import tempfile
import time
from pathlib import Path

SHARED_MEMORY = Path("/dev/shm")


def memory_backed_or_temporary() -> Path:
    """Where a file read soon after it is written costs no disk: Linux's shared memory filesystem when there is
    one to write to (a file there is RAM, outside any process's RSS), else the temporary directory."""
    if SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK):
        return SHARED_MEMORY
    return Path(tempfile.gettempdir())


# A file is for the next step, which runs within seconds or minutes: one nobody took within the hour is deleted
# by the next hand-off of any group (a group that is never written again — a test's throwaway database — leaves
# nothing behind for long).
EXPIRE_SECONDS = 3600


class HandOff:
    def __init__(self, name: str, suffix: str, keep: int = 2, base: Path | None = None,
                 expire_seconds: float = EXPIRE_SECONDS) -> None:
        self.directory = (base or Path(tempfile.gettempdir())) / f"ecommerce-{name}-handoff"
        self.suffix = suffix
        self.keep = keep
        self.expire_seconds = expire_seconds

    def path(self, *identity: str, group: str = "") -> Path:
        name = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:40]
        return self.directory / f"{group}{name}{self.suffix}"

    def new_file(self, prefix: str) -> str:
        """A new empty file of the caller's on the hand-off's filesystem (so giving it is a rename), in a folder
        the pruning of kept files never looks into. Its name carries the process's id and host: files left there
        by a process of this host that died (a killed worker, mid-load) are deleted by the next process that makes
        one (another host's — a container sharing the folder — are never judged from here)."""
        private = self.directory / "private"
        private.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().replace("-", "_")
        for entry in private.glob(f"*@{host}-*{self.suffix}"):
            pid, _, owner_host = entry.name.split("-")[0].partition("@")
            if owner_host == host and pid.isdigit() and not _alive(int(pid)):
                entry.unlink(missing_ok=True)
        fd, path = tempfile.mkstemp(prefix=f"{os.getpid()}@{host}-{prefix}", suffix=self.suffix, dir=private)
        os.close(fd)
        return path

    def give(self, file: str, *identity: str, group: str = "") -> None:
        """Keep `file` (moved) for the next reader of what `identity` names on this host; of the files of
        `group` (a prefix of their names), the newest `keep` stay, and no file stays past its hour."""
        self.directory.mkdir(parents=True, exist_ok=True)
        mine = self.path(*identity, group=group)
        os.replace(file, mine)
        kept: list[tuple[float, Path]] = []
        expired = time.time() - self.expire_seconds
        for entry in self.directory.glob(f"*{self.suffix}"):
            try:
                modified = entry.stat().st_mtime
            except FileNotFoundError:  # taken meanwhile by a reader in another process
                continue
            if modified < expired and entry != mine:
                entry.unlink(missing_ok=True)
            elif entry.name.startswith(group):
                kept.append((modified, entry))
        for _, old in sorted(kept, reverse=True)[self.keep:]:
            old.unlink(missing_ok=True)

    def take(self, *identity: str, group: str = "") -> str | None:
        """The path of the file kept for exactly `identity`, now the caller's to read and delete; None when there
        is none (written on another host, taken by another reader, or replaced since)."""
        local = self.new_file("taken-")
        try:
            os.replace(self.path(*identity, group=group), local)
        except FileNotFoundError:
            os.unlink(local)
            return None
        return local


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
