"""A pytest plugin: the CPU seconds each test cost, its own process and the processes it started and waited for
(a daemon stack, `airflow dags test`, `./scripts/run.sh`) — what the suite's budget is spent on when its
workers keep the cores busy, where `--durations` shows waiting as much as work. Printed after the durations,
the largest first, with the total; the figures travel from pytest-xdist's workers in the reports."""

import os
import resource
from collections.abc import Generator

import pytest

CPU_KEY = "cpu_seconds"
_STARTED = pytest.StashKey[float]()
SHOWN = int(os.environ.get("ECOM_CPU_SHOWN", "15"))  # how many tests the report names


def cpu_seconds() -> float:
    """User and system time of this process and of its children that have been waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_STARTED] = cpu_seconds()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "teardown" and _STARTED in item.stash:
        report.user_properties.append((CPU_KEY, cpu_seconds() - item.stash[_STARTED]))
    return report


class CpuReport:
    """Collects the teardown reports' CPU figures (on the controller, under xdist) and prints them."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == CPU_KEY and report.when == "teardown":
                self.spent[report.nodeid] = float(value)  # type: ignore[arg-type]

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.spent:
            return
        terminalreporter.write_sep("=", f"most CPU ({sum(self.spent.values()) / 60:.1f} CPU-minutes in all, "
                                        "with the processes each test waited for)")
        for nodeid, seconds in sorted(self.spent.items(), key=lambda item: -item[1])[:SHOWN]:
            terminalreporter.write_line(f"{seconds:8.2f}s cpu  {nodeid}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(CpuReport(), "cpu_report")
