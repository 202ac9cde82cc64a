"""An interrupt stops the step it lands in: a real SIGINT, delivered while a step with the platform's retry
policy runs (in its compute function, in its input manager), ends the step as failed with the interrupt as
its root cause and no retry. Dagster by itself turns such an interrupt into a retry of the step (meant for a
preempted pod), so Ctrl-C or Terminate would run the step again — the local runner went on with the day."""

import os
import signal
import time

import pytest
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    DagsterEventType,
    InputContext,
    asset,
    input_manager,
    materialize,
)

from ecommerce_assets.retries import INTERRUPTED, STEP_RETRY, heals


def interrupt_the_first_attempt(attempt: int) -> None:
    """SIGINT to this process on the first attempt, as Ctrl-C would; Dagster's handler raises it here."""
    if attempt == 0:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)  # the interrupt ends the sleep; a step that slept it out would fail the test's bound


@asset
def upstream() -> int:
    return 1


@asset(retry_policy=STEP_RETRY)
@heals
def interrupted_in_compute(context: AssetExecutionContext, upstream: int) -> int:
    interrupt_the_first_attempt(context.retry_number)
    return upstream


@input_manager
@heals
def interrupting_input(context: InputContext) -> int:
    interrupt_the_first_attempt(context.step_context.previous_attempt_count)
    return 1


@asset(retry_policy=STEP_RETRY, ins={"upstream": AssetIn(input_manager_key="interrupting")})
def interrupted_in_input(upstream: int) -> int:
    return upstream


@pytest.mark.parametrize("target", [interrupted_in_compute, interrupted_in_input], ids=["compute", "input manager"])
def test_an_interrupt_stops_the_step_without_a_retry(target: AssetsDefinition) -> None:
    result = materialize([upstream, target], resources={"interrupting": interrupting_input}, raise_on_error=False)
    step = target.key.to_python_identifier()
    events = [e for e in result.all_events if e.step_key == step]
    kinds = [e.event_type for e in events]
    assert DagsterEventType.STEP_UP_FOR_RETRY not in kinds, kinds
    assert DagsterEventType.STEP_SUCCESS not in kinds, kinds
    failures = [e for e in events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert len(failures) == 1, kinds
    error = failures[0].step_failure_data.error
    assert error is not None and INTERRUPTED in error.message
    cause = error
    while cause.cause is not None:
        cause = cause.cause
    assert cause.cls_name == "DagsterExecutionInterruptedError", error.to_string()
    assert not result.success
