"""The benchmarks' floor verdicts can say "not met": each table fed figures on both sides of its floor."""

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def bench(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))  # the scripts import their shared set-up as a sibling module
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def verdicts(lines: list[str]) -> dict[str, str]:
    """Each floor row's first cell -> its verdict."""
    rows = {}
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 3 and cells[-1] in ("met", "**not met**", "not measured"):
            rows[cells[0]] = cells[-1]
    return rows


def pipeline_results(whole: float, rss_250k: float | None, rss_1m: float, rss_5m: float | None, copy_ratio: float,
                     reload: float, rest_api: float, arrow: float, rows_written: int = 0) -> dict[str, Any]:
    stages = {"1000000": {"e2e_seconds": whole, "reload_e2e_seconds": whole, "e2e_peak_rss_mib": rss_1m}}
    if rss_250k is not None:
        stages["250000"] = {"e2e_seconds": whole / 4, "e2e_peak_rss_mib": rss_250k}
    if rss_5m is not None:
        stages["5000000"] = {"e2e_seconds": 5 * whole, "e2e_peak_rss_mib": rss_5m}
    loaders = {"1000000": {"ours": {"first_seconds": 10.0, "reload_seconds": reload, "reload_row_updates": rows_written},
                           "copy": {"first_seconds": 10.0 * copy_ratio}}}
    e2e = {"1000000": {"rest_api": {"first_seconds": rest_api, "reload_seconds": rest_api},
                       "arrow": {"first_seconds": arrow, "reload_seconds": arrow, "peak_rss_mib": 400.0}}}
    return {"stages": stages, "loaders": loaders, "dlt_e2e": e2e}


GOOD = {"whole": 14.0, "rss_250k": 800.0, "rss_1m": 900.0, "rss_5m": 1000.0, "copy_ratio": 1.0, "reload": 9.0,
        "rest_api": 200.0, "arrow": 19.5}


def test_every_floor_of_the_pipeline_benchmark_can_fail() -> None:
    floors = bench("bench_pipeline").floors
    good = verdicts(floors(pipeline_results(**GOOD)))  # type: ignore[arg-type]
    bad = verdicts(floors(pipeline_results(whole=16.0, rss_250k=800, rss_1m=1100, rss_5m=1200, copy_ratio=0.8,
                                           reload=11.0, rest_api=70.0, arrow=19.0)))
    assert len(good) == 7 and set(good.values()) == {"met"}, good
    assert good.keys() == bad.keys() and set(bad.values()) == {"**not met**"}, bad
    # a floor over a size that was not measured says so, never "met"
    unmeasured = verdicts(floors(pipeline_results(**{**GOOD, "rss_250k": None, "rss_5m": None})))  # type: ignore[arg-type]
    assert [v for k, v in unmeasured.items() if k.startswith("peak RSS")] == ["not measured", "not measured"]
    # an unchanged reload that rewrote rows fails, however fast
    rewrote = verdicts(floors(pipeline_results(**{**GOOD, "rows_written": 1000})))  # type: ignore[arg-type]
    assert [v for k, v in rewrote.items() if k.startswith("unchanged reload")] == ["**not met**"]


def test_the_pipeline_report_says_how_fast_the_machine_was() -> None:
    speed = bench("bench_pipeline").machine_speed
    assert speed([1.3, 2.6]) == ("machine speed: the probe loop took 1.30 s, then 2.60 s (before and after the run; 1.3 s "
                                 "on the quickest machine seen: 2.0× slower at worst)")
    assert speed([]) == "machine speed: not measured"  # a run's JSON from before the probe


@pytest.mark.parametrize(("load", "replace", "expected"), [((1.0, 1.05), (2.0, 2.1), ["met", "met"]),
                                                           ((1.0, 1.2), (2.0, 2.1), ["**not met**", "met"]),
                                                           ((1.0, 1.0), (2.0, 2.4), ["met", "**not met**"])])
def test_the_ods_scale_floor_can_fail(load: tuple[float, float], replace: tuple[float, float],
                                      expected: list[str]) -> None:
    table = bench("bench_ods_scale").table
    lines = table({"rows_per_day": 1000, "days": 60, "ods_size": "1 GB", "reps": 3,
                   "empty_load_s": load[0], "full_load_s": load[1], "load_ratio": load[1] / load[0],
                   "empty_replace_s": replace[0], "full_replace_s": replace[1], "replace_ratio": replace[1] / replace[0]})
    assert [("**not met**" if "**not met**" in line else "met") for line in lines if "floor 1.1×" in line] == expected


@pytest.mark.parametrize(("per_partition", "expected"), [(500.0, "met"), (400.0, "**not met**")])
def test_the_backfill_floor_can_fail(per_partition: float, expected: str) -> None:
    table = bench("bench_backfill").table
    row = {"runs": 9, "seconds": 90.0, "ods_rows": 10, "mart": []}
    (last,) = [line for line in table(90, 500, {**row, "runs": 90, "seconds": per_partition}, row) if "floor 5×" in line]
    assert f"floor 5×: {expected})" in last


@pytest.mark.parametrize(("ods", "increments", "expected"), [
    (2.0, [1.0] * 30, ["met", "met"]),
    (2.0, [1.0] * 29 + [4.5], ["**not met**", "met"]),        # the last day's increment above 2x its ODS load
    (2.0, [1.0] * 20 + [1.8] * 10, ["met", "**not met**"]),   # the increment grows with the days stored
])
def test_every_floor_of_the_sales_benchmark_can_fail(ods: float, increments: list[float], expected: list[str]) -> None:
    floors = bench("bench_sales").floors
    days = [{"ods_seconds": ods, "increment_seconds": inc} for inc in increments]
    assert list(verdicts(floors({"days": days})).values()) == expected


def test_the_pipeline_report_says_where_the_cpu_went() -> None:
    cpu_line = bench("bench_pipeline").cpu_line
    stages = {"e2e_seconds": 15.0, "cpu_all_seconds": 29.4, "cpu_pipeline_seconds": 21.6,
              "cpu_postgres_and_rest_seconds": 6.1, "cpu_s3_server_seconds": 1.1, "cpu_catalog_server_seconds": 0.6}
    assert cpu_line(stages, 2) == ("CPU-seconds of the whole materialization: 29.4 (the pipeline 21.6, PostgreSQL and "
                                   "the rest 6.1, S3 server 1.1, catalog server 0.6): on 2 cores, no less than 14.7 s "
                                   "of its 15.0 s")
    assert cpu_line({"e2e_seconds": 15.0}, 2) == "CPU of the whole materialization: not measured"


def test_the_cpu_split_counts_each_process_its_own_seconds() -> None:
    module = bench("bench_pipeline")
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a service that sleeps
    try:
        split: dict[str, float] = {}
        with module.CpuSplit({"idle_server": idle.pid}).measure(split):
            subprocess.run([sys.executable, "-c", "import time\nend = time.process_time() + 0.5\n"
                            "while time.process_time() < end: pass"], check=True)
    finally:
        idle.kill()
        idle.wait()
    assert split["cpu_pipeline_seconds"] >= 0.5, split  # the child this process waited for
    assert split["cpu_idle_server_seconds"] < 0.1, split
    assert split["cpu_all_seconds"] >= split["cpu_pipeline_seconds"] - 0.02, split  # the machine ran it (ticks)
    assert split["cpu_postgres_and_rest_seconds"] == pytest.approx(
        max(0.0, split["cpu_all_seconds"] - split["cpu_pipeline_seconds"] - split["cpu_idle_server_seconds"]))


def test_the_dlt_floor_says_how_many_runs_its_median_took() -> None:
    floors = bench("bench_pipeline").floors
    results = pipeline_results(**GOOD)  # type: ignore[arg-type]
    results["dlt_e2e"]["1000000"]["arrow"]["runs"] = 2
    row = next(line for line in floors(results) if "dlt's Arrow path" in line)
    assert "(19.5 / 19.5 s, median of 2, RSS 400 MiB)" in row, row
