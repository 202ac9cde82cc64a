"""Rows that arrive in batches and are read once — a day too large to hold in memory — on their way into
PostgreSQL: re-cut into batches of a fixed size, fingerprinted as they pass, and COPYed over several
connections at once."""

import hashlib
import os
import queue
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

# Rows per batch on the way to COPY: a COPY per connection holds one, one waits per connection, DuckDB makes the
# next. The ODS rules and load of 1M products alone peaked at 894 MiB with 65,536 rows a batch and 715 with
# 16,384 (5M: 690), the COPY no slower (4.1–4.3 s against 4.5–4.7 s, alternated).
BATCH_ROWS = 16_384
# COPYs of one day at once: each is one server process, and the server's parsing of the rows, not the
# network, bounds a COPY — so one more than the cores (measured: 1M rows in 5.6 s with one, 4.1 with two,
# 3.6 with three, on two cores).
MAX_PARALLEL_COPIES = 4

Ingest = Callable[[str, pa.Table | pa.RecordBatchReader], None]



def fixed_batches(batches: Iterable[pa.RecordBatch], schema: pa.Schema, size: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """The same rows in batches of exactly `size` rows (the last one shorter), however they arrived."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= size:
            table = pa.Table.from_batches(pending, schema)
            yield table.slice(0, size).combine_chunks().to_batches()[0]
            rest = table.slice(size)
            pending, held = rest.combine_chunks().to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending, schema).combine_chunks().to_batches()[0]


class _DigestSink:
    """A file-like object that only hashes what is written to it."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.closed = False

    def write(self, data: bytes | memoryview) -> int:
        self.hash.update(data)
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


class StreamDigest:
    """SHA-256 of rows as an Arrow IPC stream of fixed-size batches: the same rows in the same order give
    the same digest however they were batched on the way."""

    def __init__(self, schema: pa.Schema) -> None:
        self._sink = _DigestSink()
        self._writer = pa.ipc.new_stream(self._sink, schema)
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        self._writer.close()
        return self._sink.hash.hexdigest()



_DONE = object()


def copy_stream(ingest: Ingest, name: str, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> None:
    """COPY `batches` into `staging.name` over up to MAX_PARALLEL_COPIES connections at once, each taking
    the next batch when it is ready (at most one batch per connection waits in memory). Every COPY commits
    on its own: meant for a table that only becomes visible by being attached, dropped if any COPY fails."""
    first = next(batches, None)
    if first is None:
        return
    second = next(batches, None)
    if second is None:  # one batch: one COPY
        ingest(name, pa.Table.from_batches([first], schema))
        return
    parts = max(1, min(MAX_PARALLEL_COPIES, (os.cpu_count() or 1) + 1))
    waiting: queue.Queue[object] = queue.Queue(maxsize=parts)

    def take() -> Iterator[pa.RecordBatch]:
        while (item := waiting.get()) is not _DONE:
            assert isinstance(item, pa.RecordBatch)
            yield item

    with ThreadPoolExecutor(parts, thread_name_prefix="copy") as pool:
        copies = [pool.submit(ingest, name, pa.RecordBatchReader.from_batches(schema, take())) for _ in range(parts)]

        def hand_over(item: object) -> None:
            while True:
                try:
                    waiting.put(item, timeout=0.2)
                    return
                except queue.Full:
                    if any(copy.done() for copy in copies):  # a COPY ended early: it failed
                        raise _CopyStopped from None

        def stop_all() -> None:
            while True:  # nothing more will be taken: make room for one end mark per COPY
                try:
                    waiting.get_nowait()
                except queue.Empty:
                    break
            for _ in copies:
                waiting.put_nowait(_DONE)

        try:
            for batch in _chain(first, second, batches):
                hand_over(batch)
            for _ in copies:
                hand_over(_DONE)
        except BaseException:
            stop_all()
            for copy in copies:
                if copy.done() and copy.exception() is not None:
                    raise copy.exception() from None  # type: ignore[misc]
            raise
        for copy in copies:
            copy.result()


class _CopyStopped(RuntimeError):
    """A COPY ended before the rows did (its own error is raised instead)."""


def _chain(first: pa.RecordBatch, second: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield second
    yield from rest
