"""Change over time: dm_fct_product_changes (what changed on each day) and dm_dim_product_history (the
intervals during which each product's tracked attributes held)."""

from datetime import date

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AutomationCondition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ecommerce_assets.assets.ods import ODS_TABLE, REJECTED_TABLE, ods_fct_products
from ecommerce_assets.automation import follows_upstream
from ecommerce_assets.io_managers.pg_partitions import TableName, retire_days
from ecommerce_assets.migrations import require_current_schema
from ecommerce_assets.partitions import BACKFILL_POLICY, WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.product_history import (
    CHANGE_TYPES,
    DayChanges,
    SnapshotAbsent,
    sync_history,
    tidy_history,
    write_day_changes,
)
from ecommerce_assets.resources.postgres import PostgresResource
from ecommerce_assets.resources.retention import RetentionSettings

CHANGES_ASSET = "dm_fct_product_changes"
HISTORY_ASSET = "dm_dim_product_history"


def movers_markdown(movers: list[tuple[int, str, str, float]]) -> str:
    if not movers:
        return "no price changed"
    lines = ["| product_id | old price | new price | change % |", "|---|---|---|---|"]
    lines += [f"| {pid} | {old} | {new} | {pct:+.2f} |" for pid, old, new, pct in movers]
    return "\n".join(lines)


@asset(
    name=CHANGES_ASSET,
    group_name="dm",
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    deps=[AssetDep(ods_fct_products)],
    metadata={"pg_table": "dm.fct_product_changes", "pg_partition_column": "change_date"},
    kinds={"postgres"},
    automation_condition=follows_upstream(),
    pool=WAREHOUSE_POOL,
    description="One row per product and change between the day's snapshot and the latest earlier snapshot in "
                "the ODS: added, removed, price_changed (with %), stock_out, restocked, category_changed.",
)
def dm_fct_product_changes(context: AssetExecutionContext, postgres: PostgresResource) -> MaterializeResult:
    """The day's changes; a run over several days (a backfill range) derives them day after day, in order."""
    with postgres.connect() as conn:
        require_current_schema(conn)
    derived: list[DayChanges] = []
    for key in context.partition_keys:
        day = date.fromisoformat(key)
        with postgres.connect() as conn:
            try:
                derived.append(write_day_changes(conn, day))
            except SnapshotAbsent as absent:
                raise Failure(description=str(absent)) from None
        if derived[-1].previous is None:
            context.log.info(f"{day} is the first snapshot in the ODS: nothing to compare it with, no changes")
    if len(derived) > 1:
        return MaterializeResult(metadata={
            "partitions": len(derived),
            "first_snapshots": sum(1 for d in derived if d.previous is None),
            "changes": sum(sum(d.counts.values()) for d in derived),
            **{kind: sum(d.counts[kind] for d in derived) for kind in CHANGE_TYPES},
        })
    changes = derived[0]
    total = sum(changes.counts.values())
    return MaterializeResult(metadata={
        "previous_snapshot_date": str(changes.previous) if changes.previous else "none (first snapshot)",
        "first_snapshot": changes.previous is None,
        "days_since_previous": (changes.day - changes.previous).days if changes.previous else 0,
        "changes": total,
        **{kind: changes.counts[kind] for kind in CHANGE_TYPES},
        "top_price_movers": MetadataValue.md(movers_markdown(changes.top_movers)),
    })


def history_condition() -> AutomationCondition:
    """Once after ODS partitions were updated — when none is in progress or about to be, so a backfill or
    a whole chain brings one update, not one per partition."""
    return (
        AutomationCondition.any_deps_match(AutomationCondition.newly_updated()).since_last_handled()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.any_deps_match(AutomationCondition.will_be_requested())
        & ~AutomationCondition.in_progress()
    ).with_label("after ODS updates, once none is in flight")


@asset(
    name=HISTORY_ASSET,
    group_name="dm",
    deps=[AssetDep(ods_fct_products)],
    kinds={"postgres"},
    automation_condition=history_condition(),
    pool=WAREHOUSE_POOL,
    description="One row per product and interval during which its title, category, brand, price, discount, "
                "stock, availability and rating held, built from the snapshot days present in the ODS.",
)
def dm_dim_product_history(context: AssetExecutionContext, postgres: PostgresResource,
                           retention: RetentionSettings) -> MaterializeResult:
    with postgres.connect() as conn:
        require_current_schema(conn)
        sync = sync_history(conn)
    if sync.days:
        with postgres.autocommit() as conn:
            tidy_history(conn)
    dropped: list[date] = []
    if retention.ods_days and sync.days:  # days the history has now taken in may fall out of the ODS window
        with postgres.connect() as conn:
            dropped = retire_days(conn, TableName.parse(ODS_TABLE), retention.ods_days, max(sync.days),
                                  [TableName.parse(REJECTED_TABLE)], "snapshot_date")
        if dropped:
            context.log.info(f"retention of {retention.ods_days} days: dropped the ODS days "
                             f"{', '.join(d.isoformat() for d in dropped)} (their raw snapshots stay in the lake)")
    with postgres.connect() as conn:
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
        "ods_days_dropped": len(dropped),
    })
