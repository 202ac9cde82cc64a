"""dm_fct_ecommerce: the daily per-category mart for BI, in PostgreSQL."""

from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import pyarrow as pa
from dagster import Any as DagsterAny
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetIn,
    Config,
    Failure,
    MetadataValue,
    Output,
    asset,
)
from dagster_duckdb import DuckDBResource
from pydantic import Field

from ecommerce_assets.automation import follows_upstream
from ecommerce_assets.io_managers.partition_map import LazyPartitions, combine_check_results, per_partition
from ecommerce_assets.io_managers.postgres_table import PartitionSource, pg_table_metadata
from ecommerce_assets.partitions import BACKFILL_POLICY, WAREHOUSE_POOL, daily_partitions
from ecommerce_assets.resources.postgres import PostgresResource
from ecommerce_assets.resources.quality_settings import QualitySettings
from ecommerce_assets.sql import load_sql
from ecommerce_assets.transforms.gates import (
    PartitionCounts,
    rejected_share_problem,
    shrink_problem,
)
from ecommerce_assets.transforms.mart import MART_INPUT_COLUMNS, build_mart, mart_markdown

ASSET = "dm_fct_ecommerce"


class MartConfig(Config):
    accept_rejected_share: bool = Field(default=False, description="build even though too many records were rejected")
    confirm_shrink: bool = Field(default=False, description="build even though the catalog shrank sharply")


def price_changed_products(postgres: PostgresResource, partition: date) -> pa.Table:
    """The products whose price changed on the day (dm.fct_product_changes), which must have been derived."""
    with postgres.connect() as conn:
        if not conn.execute(load_sql("pg/partition_loaded.sql"),
                            {"table_name": "dm.fct_product_changes", "partition": partition}).fetchone()[0]:  # type: ignore[index]
            raise Failure(description=f"dm.fct_product_changes has no partition {partition}: materialize "
                                      f"dm_fct_product_changes for partition {partition} first")
    return postgres.fetch_arrow(load_sql("pg/price_changed_products.sql"), (partition,))


def partition_counts(postgres: PostgresResource, partition: date) -> PartitionCounts:
    with postgres.connect() as conn:
        row = conn.execute(load_sql("pg/partition_counts.sql"), {"partition": partition}).fetchone()
    accepted, rejected, previous, previous_date = row or (0, 0, 0, None)
    return PartitionCounts(int(accepted), int(rejected), int(previous) if previous_date else None, previous_date)


@asset(
    name=ASSET,
    group_name="dm",
    partitions_def=daily_partitions,
    backfill_policy=BACKFILL_POLICY,
    io_manager_key="postgres_io_manager",
    # one day's rows, or for a backfill range a mapping by day (Dagster cannot check such a union itself)
    # streamed from PostgreSQL into DuckDB's aggregation: a day never sits in memory whole
    ins={"ods_fct_products": AssetIn(metadata={"columns": list(MART_INPUT_COLUMNS), "stream": True},
                                     dagster_type=DagsterAny)},
    deps=[AssetDep("dm_fct_product_changes")],
    metadata=pg_table_metadata("dm.fct_ecommerce", "report_date"),
    kinds={"duckdb", "postgres"},
    automation_condition=follows_upstream(),
    pool=WAREHOUSE_POOL,
    check_specs=[AssetCheckSpec("dm_fct_ecommerce__reconciles_with_ods", asset=ASSET,
                                description="Every stored mart row equals the figures PostgreSQL computes from the "
                                            "stored ODS partition; every ODS category once.")],
    description="Per category and day: product count, total stock, average price and rating, products out of "
                "stock, inventory value, average discount and products whose price changed.",
)
def dm_fct_ecommerce(
    context: AssetExecutionContext, config: MartConfig,
    ods_fct_products: PartitionSource | Mapping[str, PartitionSource],
    duckdb: DuckDBResource, postgres: PostgresResource, quality: QualitySettings,
) -> Iterator[Any]:
    """Per category and day: product count, total stock, average price and rating, products out of stock,
    inventory value, average discount and products whose price changed. A run over several days (a
    backfill range) checks every day's gates first and writes nothing if one is refused."""
    keys = context.partition_keys
    ods = per_partition(keys, ods_fct_products)
    refused: list[str] = []
    for key in keys:
        partition = date.fromisoformat(key)
        counts = partition_counts(postgres, partition)
        gates = [
            (rejected_share_problem(counts, quality.rejected_share()), config.accept_rejected_share, "accept_rejected_share"),
            (shrink_problem(counts, quality.catalog_shrink()), config.confirm_shrink, "confirm_shrink"),
        ]
        blocking = [(problem, flag) for problem, accepted, flag in gates if problem and not accepted]
        for problem, accepted, flag in gates:
            if problem and accepted:
                context.log.warning(f"{problem}; building anyway ({flag}: true)")
        if blocking:
            refused.append(
                "; ".join(p for p, _ in blocking) + f". The mart of {partition} keeps its previous rows. "
                f"Once checked, rerun with config " + ", ".join(f"`{flag}: true`" for _, flag in blocking) + "."
                + ("" if len(keys) == 1 else f" (This run of {len(keys)} days wrote none of them.)"))
            if len(keys) == 1:
                raise Failure(description=refused[0], metadata={"accepted": counts.accepted, "rejected": counts.rejected})
    if refused:
        raise Failure(description=" | ".join(refused), metadata={"days_refused": len(refused)})
    totals: Counter[str] = Counter()

    def build(key: str) -> pa.Table:
        partition = date.fromisoformat(key)
        price_changed = price_changed_products(postgres, partition)
        with duckdb.get_connection() as con, ods[key].open() as rows:
            mart = build_mart(con, rows, partition, price_changed)
        totals.update({name: sum(v for v in mart.column(name).to_pylist() if v is not None)
                       for name in ("out_of_stock_count", "inventory_value", "price_changes")})
        return mart

    if len(keys) == 1:
        mart = build(keys[0])
        yield Output({keys[0]: mart}, metadata={
            "row_count": mart.num_rows, "mart": MetadataValue.md(mart_markdown(mart)),
            "out_of_stock_count": int(totals["out_of_stock_count"]),
            "inventory_value": float(totals["inventory_value"]),
            "price_changes": int(totals["price_changes"]),
        })
    else:  # a range: each day built when the IO manager writes it
        yield Output(LazyPartitions(keys, build), metadata={"partitions": len(keys), "first": keys[0], "last": keys[-1]})
    # Written when the generator resumes: reconcile what is stored, in SQL, with the stored ODS partition.
    yield combine_check_results({key: reconciliation_check(postgres, date.fromisoformat(key)) for key in keys})


RECONCILED = ("product_count", "total_stock", "avg_price", "avg_rating", "out_of_stock_count", "inventory_value",
              "avg_discount_pct", "price_changes")


def reconciliation_check(postgres: PostgresResource, partition: date) -> AssetCheckResult:
    """The stored mart rows of `partition` against the same figures computed by PostgreSQL from the stored
    ODS partition (no code shared with the DuckDB build)."""
    with postgres.connect() as conn:
        differing = conn.execute(load_sql("pg/mart_reconciliation.sql"), {"partition": partition}).fetchall()
        categories, products = conn.execute(
            "SELECT count(*), coalesce(sum(product_count), 0) FROM dm.fct_ecommerce WHERE report_date = %s",
            (partition,),
        ).fetchone() or (0, 0)
    examples = [
        {"category": row[0], **{f"{name} (ods / mart)": f"{row[1 + 2 * i]} / {row[2 + 2 * i]}"
                                for i, name in enumerate(RECONCILED) if row[1 + 2 * i] != row[2 + 2 * i]}}
        for row in differing[:20]
    ]
    return AssetCheckResult(
        check_name="dm_fct_ecommerce__reconciles_with_ods", passed=not differing, severity=AssetCheckSeverity.ERROR,
        description=None if not differing else (
            f"{len(differing)} categories of the stored mart of {partition} differ from the stored ODS partition"),
        metadata={"categories_differing": len(differing), "mart_categories": int(categories),
                  "mart_product_count_sum": int(products), "examples": MetadataValue.json(examples)},
    )
