"""What the local runner says while its runs execute and before they start: dead runs freed, full pools and
who holds them, each step retry as it happens, and a clean stop on Ctrl-C or SIGTERM. Its runs carry the
`ecom/pid` and `ecom/host` tags, so a runner killed mid-run leaves runs the next one (or `dead_run_sensor`)
recognises as dead."""

import fcntl
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from ecommerce_assets.diagnosis import SetupProblem
from ecommerce_assets.failure_classes import classify
from ecommerce_assets.retries import step_retries
from ecommerce_assets.run_health import LIVE, free_dead_runs, process_tags, slot_holders

BLOCKED = "Step blocked by limit for pool"
# Set by Ctrl-C or SIGTERM, whichever Python handler is current: Dagster replaces the runner's while a run
# executes and, inside a step, raises the interrupt where the runner never hears of it (`signals_noticed`).
STOP = threading.Event()
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def request_stop(signum: int, frame: object) -> None:
    """The runner's handler of SIGINT and SIGTERM: remember the request, then stop what runs now."""
    STOP.set()
    raise KeyboardInterrupt


def stop_requested() -> bool:
    return STOP.is_set()


@contextmanager
def signals_noticed() -> Iterator[None]:
    """While the block runs (in the main thread), every SIGINT and SIGTERM the process receives sets STOP,
    whatever Python handler is current: the interpreter writes each signal's number to a wakeup fd before any
    handler runs, and a thread reads it."""
    readable, writable = os.pipe()
    os.set_blocking(writable, False)
    previous = signal.set_wakeup_fd(writable, warn_on_full_buffer=False)

    def read() -> None:
        while data := os.read(readable, 64):
            if STOP_SIGNALS & set(data):
                STOP.set()

    thread = threading.Thread(target=read, name="ecommerce-signals", daemon=True)
    thread.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        os.close(writable)  # the reader sees the end of the pipe
        thread.join(timeout=5)
        os.close(readable)


def free_dead(instance: DagsterInstance, pools: list[str], say: Callable[[str], None]) -> None:
    """Before the first run: free the runs whose process is gone, then name who holds any full pool."""
    for dead in free_dead_runs(instance, "the local runner"):
        say(f"freed: {dead.line()}")
    for line in slot_holders(instance, pools):
        say(f"waiting: {line} (this run starts its steps when they end; stop them in the UI to go first)")


def _ours(instance: DagsterInstance) -> list[str]:
    tags = process_tags()
    return [r.dagster_run.run_id for r in instance.get_run_records(filters=RunsFilter(statuses=LIVE, tags=tags))]


@contextmanager
def watching(instance: DagsterInstance, pools: list[str], say: Callable[[str], None],
             every: float = 0.5) -> Iterator[None]:
    """While the block runs, print each step retry of this process's runs, and who holds a pool a step waits
    for, as they happen."""
    stop = threading.Event()
    cursors: dict[str, str | None] = {}
    retries: Counter[tuple[str, str]] = Counter()

    def report(run_id: str) -> None:
        records = instance.get_records_for_run(run_id, cursor=cursors.get(run_id),
                                               of_type={DagsterEventType.STEP_UP_FOR_RETRY,
                                                        DagsterEventType.ENGINE_EVENT})
        cursors[run_id] = records.cursor
        for record in records.records:
            event = record.event_log_entry.dagster_event
            if event is None:
                continue
            step = event.step_key or "?"
            if event.event_type == DagsterEventType.STEP_UP_FOR_RETRY:
                data: Any = event.event_specific_data
                retries[(run_id, step)] += 1
                cause = classify(data.error).cause if data is not None and data.error is not None else "failed"
                wait = f" in {data.seconds_to_wait:.0f} s" if data is not None and data.seconds_to_wait else ""
                say(f"retry {step}: {cause}, retry {retries[(run_id, step)]} of {step_retries()}{wait}")
            elif (record.event_log_entry.message or "").startswith(BLOCKED):
                for line in slot_holders(instance, pools):
                    say(f"waiting {step}: {line}")

    def loop() -> None:
        while not stop.wait(every):
            try:
                for run_id in _ours(instance):
                    report(run_id)
            except Exception:  # the watcher only reports; a hiccup of the run storage is the run's to report
                continue

    thread = threading.Thread(target=loop, name="ecommerce-retry-watcher", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        for run_id in list(cursors):
            with suppress(Exception):
                report(run_id)  # what happened since the last look


def cancel_ours(instance: DagsterInstance) -> list[str]:
    """After an interrupt: this process's runs still marked live are marked canceled, their slots freed;
    returns their ids."""
    cancelled = []
    for run_id in _ours(instance):
        run = instance.get_run_by_id(run_id)
        if run is None or run.status not in LIVE:
            continue
        instance.report_run_canceled(run, message="interrupted (Ctrl-C or SIGTERM to the local runner)")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        cancelled.append(run_id)
    return cancelled


def interrupted_line(instance: DagsterInstance, started: list[str]) -> str:
    """The one line said on an interrupt: the run stopped (this process's live runs, else the last it
    started — or that it had finished first), and that nothing was left half-written."""
    tail = "nothing half-written (each load commits whole or not at all; run the same command again to finish)"
    stopped = cancel_ours(instance)
    if not stopped and started:
        last = instance.get_run_by_id(started[-1])
        if last is not None and last.status == DagsterRunStatus.SUCCESS:
            return f"interrupted: run {started[-1][:8]} had finished, nothing more started, {tail}"
        stopped = started[-1:]
    runs = ", ".join(run_id[:8] for run_id in stopped) or "none started"
    return f"interrupted: run {runs} cancelled, {tail}"


@contextmanager
def single_dev(state_dir: Path, port: int, prog: str) -> Iterator[None]:
    """Hold the state folder's `dev.lock` while the block runs; another `dev` on the same folder refuses at
    once, naming the one that runs (its pid and UI). The lock goes with the process, however it ends."""
    path = state_dir / "dev.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise SetupProblem(f"{prog} dev is already running on the state folder {state_dir} ({holder})\n"
                           "  → open that UI, or stop it (Ctrl-C in its terminal) first") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}, UI http://127.0.0.1:{port}")
    handle.flush()
    try:
        yield
    finally:
        handle.close()
