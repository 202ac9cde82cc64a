"""Change over time, in one place: dm_fct_product_changes (what changed on each day against the snapshot
before it) and dm_dim_product_history (the intervals during which each product's tracked attributes held),
both built in the warehouse with SQL (`sql/postgres/history/`).

Both are functions of the ODS as it is, so the order in which days are loaded or re-loaded does not
matter: a day's changes compare it with the latest earlier snapshot present; the history takes in new
days in order and, when an earlier day arrives, is reloaded or disappears, rewinds to the last snapshot
before it and takes the later ones in again — ending exactly where loading every day in order ends.

Who re-derives what: the changes of D declare the ODS of D and of D-1 as their dependencies (a time-window
partition mapping), so Dagster's automation re-derives D when D-1 is (re)loaded; only where a day is missing
(a gap: the snapshot before D is older than D-1, or none) does a sensor (`product_changes_gap_sensor`) ask
for what the graph cannot know.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import psycopg
from dagster import (
    AssetDep,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    TimeWindowPartitionMapping,
    asset,
)

from ecommerce_assets.automation import after_updates, follows_upstream_days
from ecommerce_assets.defs.products.keys import CHANGES, CHANGES_TABLE, HISTORY, HISTORY_TABLE, ODS, ODS_TABLE
from ecommerce_assets.io_managers import warehouse_table_metadata
from ecommerce_assets.partitions import BACKFILL_POLICY, WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.retries import STEP_RETRY, heals
from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse import WarehouseResource

SQL = SqlFiles("ecommerce_assets.defs.products")
CHANGE_TYPES = ("added", "removed", "price_changed", "stock_out", "restocked", "category_changed")
HISTORY_LOCK = HISTORY_TABLE


class SnapshotAbsent(LookupError):
    """The ODS has no snapshot of the day asked for."""


@dataclass(frozen=True)
class DayChanges:
    day: date
    previous: date | None  # the snapshot compared with; None: the first snapshot, no changes
    counts: dict[str, int]
    top_movers: list[tuple[int, str, str, float]]  # product_id, old price, new price, percent


def _one(conn: psycopg.Connection, name: str, params: dict[str, object]) -> object:
    row = conn.execute(SQL.text(f"postgres/history/{name}.sql"), params).fetchone()
    return row[0] if row else None


def previous_snapshot(conn: psycopg.Connection, day: date) -> date | None:
    value = _one(conn, "previous_snapshot", {"day": day})
    return value if isinstance(value, date) else None


def next_snapshot(conn: psycopg.Connection, day: date) -> date | None:
    value = _one(conn, "next_snapshot", {"day": day})
    return value if isinstance(value, date) else None


def day_change_counts(conn: psycopg.Connection, day: date) -> dict[str, int]:
    """How many changes of each type `day` has (every type, 0 when none)."""
    counts = Counter({kind: 0 for kind in CHANGE_TYPES})
    for kind, count in conn.execute(SQL.text("postgres/history/change_counts.sql"), {"day": day}):
        counts[kind] = int(count)
    return dict(counts)


def write_day_changes(conn: psycopg.Connection, day: date, top: int = 10) -> DayChanges:
    """Replace the changes of `day` in `dm.fct_product_changes` (one transaction, the day locked) and record
    the day as loaded; raises SnapshotAbsent when the ODS has no snapshot of `day`."""
    with conn.transaction():
        WarehouseResource.lock_day(conn, CHANGES_TABLE, day)
        if not WarehouseResource.is_loaded(conn, ODS_TABLE, day):
            raise SnapshotAbsent(f"{ODS_TABLE} has no partition {day}: it was never loaded; materialize "
                                 f"{ODS.to_user_string()} for partition {day} first")
        previous = previous_snapshot(conn, day)
        conn.execute("DELETE FROM dm.fct_product_changes WHERE change_date = %s", (day,))
        inserted = conn.execute(SQL.text("postgres/history/insert_changes.sql"), {"day": day, "previous": previous}).rowcount
        WarehouseResource.record_load(conn, CHANGES_TABLE, day, inserted, changed=True)
        counts = day_change_counts(conn, day)
        movers = conn.execute(SQL.text("postgres/history/top_movers.sql"), {"day": day, "top": top}).fetchall()
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
    autocommit.execute(SQL.text("postgres/history/tidy.sql"))
    autocommit.execute(SQL.text("postgres/history/tidy_ended.sql"))


def sync_history(conn: psycopg.Connection) -> HistorySync:
    """Bring `dm.dim_product_history` in line with the ODS snapshots as they are now (one transaction). What it
    has taken in is recorded as the consumer HISTORY_TABLE of ODS_TABLE (meta.applied_loads), where what
    follows the history (the sales mart) reads it."""
    result = HistorySync()
    with conn.transaction():
        WarehouseResource.lock(conn, HISTORY_LOCK)
        pending = WarehouseResource.pending_days(conn, HISTORY_TABLE, ODS_TABLE)
        if not pending:
            return result
        latest = WarehouseResource.latest_applied(conn, HISTORY_TABLE, ODS_TABLE)
        first = pending[0][0]
        if latest is not None and first <= latest:
            # an earlier day arrived, was loaded again or was dropped: rewind to the snapshot before it
            start = WarehouseResource.latest_applied(conn, HISTORY_TABLE, ODS_TABLE, before=first)
            result.rewound, result.rewound_to = True, start
            for statement in ("rewind_forget_later", "rewind_reopen"):
                conn.execute(SQL.text(f"postgres/history/{statement}.sql"), {"day": result.rewound_to})
            WarehouseResource.forget_applied(conn, HISTORY_TABLE, ODS_TABLE, after=result.rewound_to)
            todo = conn.execute(SQL.text("postgres/history/loaded_days_after.sql"), {"day": result.rewound_to}).fetchall()
        else:
            todo = [(day, loaded_at) for day, loaded_at in pending if loaded_at is not None]
        for day, loaded_at in todo:
            result.intervals_ended += conn.execute(SQL.text("postgres/history/end_intervals.sql"), {"day": day}).rowcount
            result.intervals_begun += conn.execute(SQL.text("postgres/history/begin_intervals.sql"), {"day": day}).rowcount
            WarehouseResource.mark_applied(conn, HISTORY_TABLE, ODS_TABLE, day, loaded_at)
            result.days.append(day)
    return result


MOVERS_SCHEMA = TableSchema(columns=[TableColumn("product_id", "int"), TableColumn("old_price", "string"),
                                      TableColumn("new_price", "string"), TableColumn("change_pct", "float")])


def movers_table(movers: list[tuple[int, str, str, float]]) -> MetadataValue:
    """The day's top price movers, as a table the UI shows and a reader (the local runner) can read."""
    return MetadataValue.table(records=[TableRecord({"product_id": p, "old_price": o, "new_price": n, "change_pct": c})
                                        for p, o, n, c in movers], schema=MOVERS_SCHEMA)


# The changes of D read the ODS of D and of the day before: declared, so the graph knows D is stale when D-1
# is (re)loaded. The day before may be missing (the first day, a gap): it is not required, and the sensor
# covers what follows from a gap.
PREVIOUS_DAY = TimeWindowPartitionMapping(start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True)


@asset(
    retry_policy=STEP_RETRY,
    key=CHANGES,
    group_name="dm",
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    deps=[AssetDep(ODS, partition_mapping=PREVIOUS_DAY)],
    metadata=warehouse_table_metadata(CHANGES_TABLE, "change_date"),
    kinds={"postgres"},
    automation_condition=follows_upstream_days(),
    pool=WAREHOUSE_POOL,
    description="One row per product and change between the day's snapshot and the latest earlier snapshot in "
                "the ODS: added, removed, price_changed (with %), stock_out, restocked, category_changed.",
)
@heals
def dm_fct_product_changes(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """The day's changes; a run over several days (a backfill range) derives them day after day, in order."""
    warehouse.require_current_schema()
    derived: list[DayChanges] = []
    for key in context.partition_keys:
        day = date.fromisoformat(key)
        with warehouse.connect() as conn:
            try:
                derived.append(write_day_changes(conn, day))
            except SnapshotAbsent as absent:
                raise Failure(description=str(absent), allow_retries=False) from None
        if derived[-1].previous is None:
            context.log.info(f"{day} is the first snapshot in the ODS: nothing to compare it with, no changes")
        context.add_asset_metadata(_day_metadata(derived[-1]), partition_key=key)
    return MaterializeResult(metadata={"partitions": len(derived)} if len(derived) > 1 else {})


def _day_metadata(changes: DayChanges) -> dict[str, object]:
    return {
        "previous_snapshot_date": str(changes.previous) if changes.previous else "none (first snapshot)",
        "first_snapshot": changes.previous is None,
        "days_since_previous": (changes.day - changes.previous).days if changes.previous else 0,
        "changes": sum(changes.counts.values()),
        **{kind: changes.counts[kind] for kind in CHANGE_TYPES},
        "top_price_movers": movers_table(changes.top_movers),
    }


@asset(
    retry_policy=STEP_RETRY,
    key=HISTORY,
    group_name="dm",
    deps=[AssetDep(ODS)],
    kinds={"postgres"},
    automation_condition=after_updates(),
    pool=WAREHOUSE_POOL,
    description="One row per product and interval during which its title, category, brand, price, discount, "
                "stock, availability and rating held, built from the snapshot days present in the ODS.",
)
@heals
def dm_dim_product_history(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    warehouse.require_current_schema()
    with warehouse.connect() as conn:
        sync = sync_history(conn)
    if sync.days:
        with warehouse.autocommit() as conn:
            tidy_history(conn)
    with warehouse.connect() as conn:
        intervals, current, products = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_current), count(DISTINCT product_id) FROM dm.dim_product_history"
        ).fetchone() or (0, 0, 0)
    days = f"{len(sync.days)} day{'' if len(sync.days) == 1 else 's'}"
    how = ("nothing new" if not sync.days else
           f"rewound to {sync.rewound_to or 'the beginning'} and took in {days}" if sync.rewound else
           f"took in {days}")
    context.log.info(f"history: {how}")
    return MaterializeResult(metadata={
        "update": how,
        "days_taken_in": len(sync.days),
        "first_day_taken_in": str(sync.days[0]) if sync.days else "",
        "rewound": sync.rewound,
        "intervals_ended": sync.intervals_ended,
        "intervals_begun": sync.intervals_begun,
        "intervals": int(intervals),
        "current_products": int(current),
        "products": int(products),
    })
