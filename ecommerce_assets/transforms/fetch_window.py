"""When a partition may still be fetched from an API that keeps no history."""

from datetime import date


def late_fetch_problem(partition: date, today: date, max_lag_days: int) -> str | None:
    """Why fetching `partition` on `today` would store the wrong day's catalog, or None when it is fine."""
    lag = (today - partition).days
    if lag < 0:
        return (f"partition {partition} is in the future (today is {today} UTC): "
                "the catalog of a day can only be fetched once the day has begun")
    if lag > max_lag_days:
        return (f"partition {partition} is {lag} days old (today is {today} UTC) and the catalog API has no "
                f"history: fetching now would store today's catalog under {partition}. Fetching is allowed up "
                f"to {max_lag_days} days after the date; to store today's catalog under that date anyway, "
                "rerun with config `allow_late_fetch: true`")
    return None
