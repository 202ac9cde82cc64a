"""The hand-off of a file from the step that wrote it to the next reader on the host: exactly one reader gets a
file, only for exactly what it holds; each group keeps its newest files; files of a process that died go."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from ecommerce_assets.handoff import HandOff


def written(handoff: HandOff, text: str) -> str:
    path = handoff.new_file("writing-")
    Path(path).write_text(text)
    return path


def test_a_kept_file_goes_to_its_first_reader_for_exactly_its_identity(tmp_path: Path) -> None:
    handoff = HandOff("test", ".bin", base=tmp_path)
    handoff.give(written(handoff, "day 1, load a"), "ods.t", "2025-06-01", "digest-a")
    assert handoff.take("ods.t", "2025-06-01", "digest-b") is None  # another load of the day: not this file
    taken = handoff.take("ods.t", "2025-06-01", "digest-a")
    assert taken is not None and Path(taken).read_text() == "day 1, load a"
    assert handoff.take("ods.t", "2025-06-01", "digest-a") is None  # one reader only


def test_each_group_keeps_its_newest_files_and_no_group_pushes_out_anothers(tmp_path: Path) -> None:
    handoff = HandOff("test", ".bin", keep=2, base=tmp_path)
    for day in range(1, 4):
        handoff.give(written(handoff, f"big {day}"), "ods.big", f"day {day}", group="ods.big-")
    handoff.give(written(handoff, "small 1"), "ods.small", "day 1", group="ods.small-")
    assert handoff.take("ods.big", "day 1", group="ods.big-") is None  # the oldest of three went
    assert [handoff.take("ods.big", f"day {d}", group="ods.big-") is not None for d in (2, 3)] == [True, True]
    assert handoff.take("ods.small", "day 1", group="ods.small-") is not None


def test_files_a_dead_process_was_writing_are_deleted_by_the_next_process_that_writes(tmp_path: Path) -> None:
    handoff = HandOff("test", ".bin", base=tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    host = socket.gethostname().replace("-", "_")
    private = handoff.directory / "private"
    mine = Path(written(handoff, "mine"))
    left = private / f"{dead.stdout.strip()}@{host}-writing-x.bin"  # a killed load's spool
    left.write_text("half a day")
    elsewhere = private / f"{dead.stdout.strip()}@another_host-writing-y.bin"  # a container sharing the folder
    elsewhere.write_text("not ours to judge")
    handoff.new_file("writing-")
    assert not left.exists() and mine.exists() and elsewhere.exists()


def test_a_file_nobody_took_within_the_hour_goes_with_the_next_hand_off_of_any_group(tmp_path: Path) -> None:
    handoff = HandOff("test", ".bin", base=tmp_path)
    handoff.give(written(handoff, "a throwaway database's day"), "db1", "day 1", group="db1-")
    forgotten = handoff.path("db1", "day 1", group="db1-")
    an_hour_ago = time.time() - 3601
    os.utime(forgotten, (an_hour_ago, an_hour_ago))
    handoff.give(written(handoff, "another database's day"), "db2", "day 1", group="db2-")
    assert not forgotten.exists() and handoff.path("db2", "day 1", group="db2-").exists()
