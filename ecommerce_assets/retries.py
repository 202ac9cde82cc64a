"""Step retries: every asset and op that touches a service carries `STEP_RETRY` (Dagster's own RetryPolicy:
5 s, doubling, ±50% jitter, at most `MAX_STEP_RETRIES`) and its compute function and IO managers are wrapped
in `heals`, which lets Dagster retry only what `failure_classes.classify` calls transient: a permanent fault
becomes a `Failure(allow_retries=False)` and stops the step at once. `ECOM_STEP_RETRIES` lowers the number
of retries when a run starts (0: none), without reloading the code location."""

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from dagster import Backoff, DagsterExecutionInterruptedError, Failure, Jitter, RetryPolicy, RetryRequested

from ecommerce_assets import settings
from ecommerce_assets.failure_classes import classify

MAX_STEP_RETRIES = 5
FIRST_DELAY_SECONDS = 5
STEP_RETRY = RetryPolicy(max_retries=MAX_STEP_RETRIES, delay=FIRST_DELAY_SECONDS, backoff=Backoff.EXPONENTIAL,
                         jitter=Jitter.PLUS_MINUS)
F = TypeVar("F", bound=Callable[..., Any])


class StepRetriesSpent(Failure):
    """A transient fault the step may not retry again (its retries spent, or off): the step stops, and the
    fault, its cause, stays transient for `heal_sensor` (`classify` reads past this class)."""


def step_retries() -> int:
    """Retries a step gets after a transient fault: $ECOM_STEP_RETRIES, at most MAX_STEP_RETRIES."""
    wanted = settings.integer("ECOM_STEP_RETRIES")
    if wanted < 0:
        raise settings.SettingError(f"ECOM_STEP_RETRIES={wanted} is negative (0 turns step retries off)")
    return min(wanted, MAX_STEP_RETRIES)


def _attempt(args: tuple[Any, ...]) -> tuple[int, Any]:
    """(retries made so far, the context's log) from the first argument (an execution, input or output
    context; an IO manager's method gets `self` first)."""
    for arg in args[:2]:
        retry = getattr(arg, "retry_number", None)
        if retry is None and hasattr(type(arg), "step_context"):
            try:
                retry = arg.step_context.previous_attempt_count
            except Exception:  # an IO context built outside a step (tests): first attempt
                retry = None
        if isinstance(retry, int):
            return retry, getattr(arg, "log", None)
    return 0, None


def stop_or_retry(error: Exception, retries_made: int, log: Any = None) -> Exception:
    """What to raise instead of `error`: the error itself when Dagster may retry it, else a Failure that
    stops the step (permanent cause, or the retries allowed are spent), naming the cause."""
    if isinstance(error, Failure):
        error.allow_retries = False  # the project's own refusals: said on purpose, never retried
        return error
    verdict = classify(error)
    allowed = step_retries()
    if verdict.transient and retries_made < allowed:
        if log is not None:
            log.warning(f"{verdict.cause}: transient, retry {retries_made + 1} of {allowed}")
        return error
    what = f"{type(error).__name__}: {error}"
    stopped: Failure
    if verdict.transient:
        spent = f"still after {allowed} retries" if allowed else "step retries are off: ECOM_STEP_RETRIES=0"
        stopped = StepRetriesSpent(description=f"{verdict.cause} ({spent}) — {what}", allow_retries=False,
                                   metadata={"failure_class": verdict.kind, "cause": verdict.cause})
    else:
        stopped = Failure(description=what, allow_retries=False,
                          metadata={"failure_class": verdict.kind, "cause": verdict.cause})
    stopped.__cause__ = error
    return stopped


INTERRUPTED = ("interrupted (Ctrl-C or SIGTERM to the process running the step, or the run terminated): the step "
               "stops and is not retried; run it again to complete the day")


def interrupted_step(interrupt: BaseException) -> Failure:
    """What an interrupt inside a step becomes: a failure Dagster does not retry. Dagster itself turns an
    interrupt in a step with a retry policy into a retry (meant for a pod that is preempted and replaced), so a
    person's Ctrl-C, SIGTERM or Terminate would run the step again; the interrupt stays its cause."""
    stopped = Failure(description=INTERRUPTED, allow_retries=False,
                      metadata={"failure_class": "permanent", "cause": "interrupted"})
    stopped.__cause__ = interrupt
    return stopped


@contextmanager
def _sorted_failures(args: tuple[Any, ...]) -> Iterator[None]:
    """Raise, instead of an exception of the block, what `stop_or_retry` says; an interrupt stops the step
    (`interrupted_step`); Dagster's own retry requests pass as they are."""
    try:
        yield
    except RetryRequested:
        raise
    except (DagsterExecutionInterruptedError, KeyboardInterrupt) as interrupt:
        raise interrupted_step(interrupt) from interrupt
    except Exception as error:
        replacement = stop_or_retry(error, *_attempt(args))
        if replacement is error:
            raise
        raise replacement from error


def heals(fn: F) -> F:
    """`fn` (a compute function or an IO manager method, plain or a generator) with its exceptions sorted by
    `stop_or_retry`."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            with _sorted_failures(args):
                yield from fn(*args, **kwargs)
        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def plain(*args: Any, **kwargs: Any) -> Any:
        with _sorted_failures(args):
            return fn(*args, **kwargs)
    return plain  # type: ignore[return-value]
