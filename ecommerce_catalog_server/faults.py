"""Faults the catalog server can inject, by request number or periodically."""

from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["status", "truncate", "cut", "not_json", "reset", "delay", "total_shift"]


@dataclass(frozen=True)
class Fault:
    """One injected fault: `status` answers `status` (with Retry-After when set), `truncate` cuts the
    body in half, `cut` declares the whole body and closes the connection halfway through it, `not_json`
    answers HTML, `reset` closes the connection, `delay` sleeps `seconds`
    before answering, `total_shift` reports a `total` larger by `status`."""

    kind: FaultKind
    status: int = 500
    retry_after: int | None = None
    seconds: float = 0.0


@dataclass
class FaultPlan:
    """Which /products requests fail: `at` maps a 1-based request number to a fault; `every` applies
    a fault to every n-th request; `delay_seconds` slows every answer."""

    at: dict[int, Fault] = field(default_factory=dict)
    every: dict[int, Fault] = field(default_factory=dict)
    delay_seconds: float = 0.0

    def fault_for(self, request_number: int) -> Fault | None:
        if request_number in self.at:
            return self.at[request_number]
        for period, fault in sorted(self.every.items()):
            if period > 0 and request_number % period == 0:
                return fault
        return None
