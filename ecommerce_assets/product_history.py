"""Change over time, in the warehouse: the changes of one day against the snapshot before it, and the
intervals of `dm.dim_product_history` kept in line with whatever ODS snapshots are loaded.

Both are pure functions of the ODS as it is, so the order in which days are loaded or re-loaded does not
matter: a day's changes compare it with the latest earlier snapshot present; the history takes in new
days in order and, when an earlier day arrives, is reloaded or disappears, rewinds to the last snapshot
before it and takes the later ones in again — ending exactly where loading every day in order ends.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg

from ecommerce_assets.sql import load_sql

CHANGE_TYPES = ("added", "removed", "price_changed", "stock_out", "restocked", "category_changed")
HISTORY_LOCK = "dm.dim_product_history"


class SnapshotAbsent(LookupError):
    """The ODS has no snapshot of the day asked for."""


@dataclass(frozen=True)
class DayChanges:
    day: date
    previous: date | None  # the snapshot compared with; None: the first snapshot, no changes
    counts: dict[str, int]
    top_movers: list[tuple[int, str, str, float]]  # product_id, old price, new price, percent


def _one(conn: psycopg.Connection, name: str, params: dict[str, object]) -> object:
    row = conn.execute(load_sql(name), params).fetchone()
    return row[0] if row else None


def previous_snapshot(conn: psycopg.Connection, day: date) -> date | None:
    value = _one(conn, "history/previous_snapshot.sql", {"day": day})
    return value if isinstance(value, date) else None


def next_snapshot(conn: psycopg.Connection, day: date) -> date | None:
    value = _one(conn, "history/next_snapshot.sql", {"day": day})
    return value if isinstance(value, date) else None


def day_change_counts(conn: psycopg.Connection, day: date) -> dict[str, int]:
    """How many changes of each type `day` has (every type, 0 when none)."""
    counts = Counter({kind: 0 for kind in CHANGE_TYPES})
    for kind, count in conn.execute(load_sql("history/change_counts.sql"), {"day": day}):
        counts[kind] = int(count)
    return dict(counts)


def write_day_changes(conn: psycopg.Connection, day: date, top: int = 10) -> DayChanges:
    """Replace the changes of `day` in `dm.fct_product_changes` (one transaction, partition locked) and
    record the partition as loaded; raises SnapshotAbsent when the ODS has no snapshot of `day`."""
    with conn.transaction():
        conn.execute(load_sql("pg/lock_partition.sql"), {"lock_name": f"dm.fct_product_changes:{day.isoformat()}"})
        if not _one(conn, "pg/partition_loaded.sql", {"table_name": "ods.fct_products", "partition": day}):
            raise SnapshotAbsent(f"ods.fct_products has no partition {day}: it was never loaded; materialize "
                                 f"ods_fct_products for partition {day} first")
        previous = previous_snapshot(conn, day)
        conn.execute("DELETE FROM dm.fct_product_changes WHERE change_date = %s", (day,))
        inserted = conn.execute(load_sql("history/insert_changes.sql"), {"day": day, "previous": previous}).rowcount
        conn.execute(load_sql("pg/record_partition_load.sql"),
                     {"table_name": "dm.fct_product_changes", "partition": day, "row_count": inserted,
                      "changed": True, "digest": None})
        counts = day_change_counts(conn, day)
        movers = conn.execute(load_sql("history/top_movers.sql"), {"day": day, "top": top}).fetchall()
    return DayChanges(day, previous, counts, [(int(p), str(o), str(n), float(pct)) for p, o, n, pct in movers])


@dataclass
class HistorySync:
    rewound_to: date | None = None  # the snapshot the history was taken back to (with `rewound`)
    rewound: bool = False
    days: list[date] = field(default_factory=list)  # taken in, in order
    intervals_ended: int = 0
    intervals_begun: int = 0


def tidy_history(autocommit: psycopg.Connection) -> None:
    """VACUUM (ANALYZE) the history's tables after an update (outside a transaction): the current intervals
    (one row per product) are rewritten daily, and the planner needs current statistics. O(products), not
    O(history): the ended intervals are only appended to — and nothing depends on the server's autovacuum."""
    autocommit.execute(load_sql("history/tidy.sql"))
    autocommit.execute(load_sql("history/tidy_ended.sql"))


def sync_history(conn: psycopg.Connection) -> HistorySync:
    """Bring `dm.dim_product_history` in line with the ODS snapshots as they are now (one transaction)."""
    result = HistorySync()
    with conn.transaction():
        conn.execute(load_sql("pg/lock_partition.sql"), {"lock_name": HISTORY_LOCK})
        pending: list[tuple[date, datetime | None]] = conn.execute(load_sql("history/pending_days.sql")).fetchall()
        if not pending:
            return result
        latest = _one(conn, "history/latest_applied.sql", {})
        first = pending[0][0]
        if isinstance(latest, date) and first <= latest:
            # an earlier day arrived, was loaded again or was dropped: rewind to the snapshot before it
            start = _one(conn, "history/latest_applied_before.sql", {"day": first})
            result.rewound, result.rewound_to = True, start if isinstance(start, date) else None
            for statement in ("rewind_forget_later", "rewind_reopen", "rewind_forget_applied"):
                conn.execute(load_sql(f"history/{statement}.sql"), {"day": result.rewound_to})
            todo = conn.execute(load_sql("history/loaded_days_after.sql"), {"day": result.rewound_to}).fetchall()
        else:
            todo = [(day, loaded_at) for day, loaded_at in pending if loaded_at is not None]
        for day, loaded_at in todo:
            result.intervals_ended += conn.execute(load_sql("history/end_intervals.sql"), {"day": day}).rowcount
            result.intervals_begun += conn.execute(load_sql("history/begin_intervals.sql"), {"day": day}).rowcount
            conn.execute(load_sql("history/record_applied.sql"), {"day": day, "loaded_at": loaded_at})
            result.days.append(day)
    return result
