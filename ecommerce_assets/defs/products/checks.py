"""The product domain's quality gates, each one implementation: a check per day that reads what is stored
(the lake, the warehouse, the day's materialization). The blocking ones stop everything downstream of the
ODS in the same run — the mart, the changes — and say what to do; the override someone who looked may give
is the check's own run config, named in its failure."""

from collections.abc import Callable
from datetime import date

from dagster import (
    AssetCheckExecutionContext,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetRecordsFilter,
    Field,
    MetadataValue,
)

from ecommerce_assets.checks import Verdict, daily_check, never_loaded
from ecommerce_assets.defs.products.keys import MART, ODS, ODS_TABLE, REJECTED
from ecommerce_assets.defs.products.snapshot import PRODUCTS
from ecommerce_assets.defs.products.transforms.gates import PartitionCounts, rejected_share_problem, shrink_problem
from ecommerce_assets.resources.quality_settings import QualitySettings
from ecommerce_assets.snapshots import records_and_superseded
from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.warehouse import WarehouseResource

SQL = SqlFiles("ecommerce_assets.defs.products")
WAREHOUSE = frozenset({"warehouse"})


def override_hint(check: AssetChecksDefinition, flag: str) -> str:
    """Where the run config that overrides a gate goes."""
    return f"rerun with config `{flag}: true` (ops: {check.op.name})"


def partition_counts(warehouse: WarehouseResource, day: date, with_previous: bool = True) -> PartitionCounts:
    """The day's counts and, `with_previous`, those of the latest earlier day (each count scans a partition)."""
    with warehouse.connect() as conn:
        row = conn.execute(SQL.text("postgres/checks/partition_counts.sql"),
                           {"partition": day, "with_previous": with_previous}).fetchone()
    accepted, rejected, previous, previous_date = row or (0, 0, 0, None)
    return PartitionCounts(int(accepted), int(rejected), int(previous) if previous_date else None, previous_date)


def absent(warehouse: WarehouseResource, day: date) -> Verdict | None:
    """The verdict of every ODS gate on a day whose ODS partition was never loaded: nothing to build on."""
    return never_loaded(warehouse, ODS_TABLE, ODS, day)


ThresholdJudge = Callable[[PartitionCounts, QualitySettings], tuple[str | None, dict[str, object]]]


def threshold_gate(name: str, flag: str, flag_means: str, description: str,
                   judge: ThresholdJudge, with_previous: bool) -> AssetChecksDefinition:
    """A blocking gate of the ODS day on a threshold of the quality settings: `judge` names the problem (or
    None) and the figures, from the day's counts and, `with_previous`, the previous day's. Someone who looked may let the day through with the check's config `flag`, which
    the failure names; an accepted day passes, recorded in its metadata and the log."""

    @daily_check(ODS, name, blocking=True, resource_keys=WAREHOUSE | {"quality"}, description=description,
                 config_schema={flag: Field(bool, default_value=False, description=flag_means)})
    def gate(context: AssetCheckExecutionContext, day: date) -> Verdict:
        if (missing := absent(context.resources.warehouse, day)) is not None:
            return missing
        counts = partition_counts(context.resources.warehouse, day, with_previous)
        problem, metadata = judge(counts, context.resources.quality)
        if problem is None:
            return Verdict(True, {**metadata, flag: False})
        problem = f"{day}: {problem}"
        if context.op_execution_context.op_config[flag]:
            context.log.warning(f"{problem}; accepted ({flag}: true)")
            return Verdict(True, {**metadata, flag: True}, f"{problem}; accepted ({flag}: true)")
        return Verdict(False, {**metadata, flag: False},
                       f"{problem}. Once checked, {override_hint(gate, flag)}; until then the day's changes and mart "
                       "are not built (they keep their previous rows).")

    return gate


def _rejected_share(counts: PartitionCounts, quality: QualitySettings) -> tuple[str | None, dict[str, object]]:
    return rejected_share_problem(counts, quality.max_rejected_share), {
        "rejected_share": round(counts.rejected_share, 6), "threshold": quality.max_rejected_share,
        "rejected": counts.rejected, "accepted": counts.accepted}


def _catalog_shrink(counts: PartitionCounts, quality: QualitySettings) -> tuple[str | None, dict[str, object]]:
    return shrink_problem(counts, quality.max_catalog_shrink), {
        "accepted": counts.accepted, "previous_accepted": counts.previous_accepted or 0,
        "previous_snapshot_date": counts.previous_date or "none", "threshold": quality.max_catalog_shrink}


ods_fct_products__rejected_share = threshold_gate(
    "ods_fct_products__rejected_share", "accept_rejected_share", "the rejected share was looked at: go on",
    "The share of records the rules rejected stays under $ECOM_MAX_REJECTED_SHARE (5%); above it nothing "
    "downstream of the day is built until `accept_rejected_share` is given.", _rejected_share, with_previous=False)
ods_fct_products__catalog_shrink = threshold_gate(
    "ods_fct_products__catalog_shrink", "confirm_shrink", "the catalog really shrank: go on",
    "The catalog did not shrink by more than $ECOM_MAX_CATALOG_SHRINK (50%) against the previous snapshot; a "
    "sharper drop stops what follows the day until `confirm_shrink` is given.", _catalog_shrink, with_previous=True)


@daily_check(ODS, "ods_fct_products__accounts_for_every_record", blocking=True,
             resource_keys=WAREHOUSE | {"lake"}, additional_deps=[REJECTED],
             description="Stored accepted rows + stored rejected records + superseded duplicates = the raw "
                         "snapshot's records, and each table holds exactly what its load sent: nothing lost.")
def ods_fct_products__accounts_for_every_record(context: AssetCheckExecutionContext, day: date) -> Verdict:
    if (missing := absent(context.resources.warehouse, day)) is not None:
        return missing
    records, duplicates = records_and_superseded(context.resources.lake, PRODUCTS, day)
    with context.resources.warehouse.connect() as conn:
        row = conn.execute(SQL.text("postgres/checks/ods_accounting.sql"), {"partition": day}).fetchone()
    stored, stored_rejected, sent, sent_rejected = (int(v or 0) for v in row or (0, 0, 0, 0))
    accounted = stored + stored_rejected + duplicates
    passed = accounted == records and stored == sent and stored_rejected == sent_rejected
    return Verdict(
        passed,
        {"raw_records": records, "stored_rows": stored, "stored_rejected": stored_rejected,
         "superseded_duplicates": duplicates, "accepted_by_rules": sent, "rejected_by_rules": sent_rejected},
        None if passed else (
            f"{day}: {records} raw records but {stored} stored rows + {stored_rejected} rejected + {duplicates} "
            f"superseded duplicates = {accounted}; the rules accepted {sent} rows and rejected {sent_rejected}"),
    )


@daily_check(ODS, "ods_fct_products__rules_hold", blocking=True, resource_keys=WAREHOUSE,
             description="No stored row breaks a rule the table's constraints do not enforce (categories trimmed, "
                         "tags a list of texts).")
def ods_fct_products__rules_hold(context: AssetCheckExecutionContext, day: date) -> Verdict:
    if (missing := absent(context.resources.warehouse, day)) is not None:
        return missing
    with context.resources.warehouse.connect() as conn:
        row = conn.execute(SQL.text("postgres/checks/ods_rule_violations.sql"), {"partition": day}).fetchone()
    counts = dict(zip(("untrimmed_category", "tags_not_text_list"), (int(v) for v in row or (0, 0)), strict=True))
    return Verdict(not any(counts.values()), counts,
                   None if not any(counts.values()) else f"{day}: stored rows break the rules: {counts}")


@daily_check(ODS, "ods_fct_products__schema_drift", severity=AssetCheckSeverity.WARN,
             description="Records carry exactly the documented fields (warning, new/missing fields named), as the "
                         "rules saw them on the day's materialization.")
def ods_fct_products__schema_drift(context: AssetCheckExecutionContext, day: date) -> Verdict:
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=ODS, asset_partitions=[day.isoformat()]), limit=1).records
    seen = records[0].asset_materialization.metadata if records and records[0].asset_materialization else {}
    new = list(getattr(seen.get("drift_new_fields"), "value", None) or [])
    missing = list(getattr(seen.get("drift_missing_fields"), "value", None) or [])
    return Verdict(not (new or missing), {"new_fields": MetadataValue.json(new), "missing_fields": MetadataValue.json(missing)},
                   None if not (new or missing) else f"{day}: records carry fields {new} outside the contract and lack {missing}")


RECONCILED = ("product_count", "total_stock", "avg_price", "avg_rating", "out_of_stock_count", "inventory_value",
              "avg_discount_pct", "price_changes")


@daily_check(MART, "dm_fct_ecommerce__reconciles_with_ods", resource_keys=WAREHOUSE,
             description="Every stored mart row equals the figures PostgreSQL computes from the stored ODS partition "
                         "and changes (no code shared with the DuckDB build); every ODS category once.")
def dm_fct_ecommerce__reconciles_with_ods(context: AssetCheckExecutionContext, day: date) -> Verdict:
    with context.resources.warehouse.connect() as conn:
        differing = conn.execute(SQL.text("postgres/checks/mart_reconciliation.sql"), {"partition": day}).fetchall()
        categories, products = conn.execute(
            "SELECT count(*), coalesce(sum(product_count), 0) FROM dm.fct_ecommerce WHERE report_date = %s", (day,),
        ).fetchone() or (0, 0)
    examples = [
        {"category": row[0], **{f"{name} (ods / mart)": f"{row[1 + 2 * i]} / {row[2 + 2 * i]}"
                                for i, name in enumerate(RECONCILED) if row[1 + 2 * i] != row[2 + 2 * i]}}
        for row in differing[:20]
    ]
    return Verdict(
        not differing,
        {"categories_differing": len(differing), "mart_categories": int(categories),
         "mart_product_count_sum": int(products), "examples": MetadataValue.json(examples)},
        None if not differing else f"{len(differing)} categories of the stored mart of {day} differ from the stored ODS partition",
    )


ODS_GATES = [ods_fct_products__rejected_share, ods_fct_products__catalog_shrink,
             ods_fct_products__accounts_for_every_record, ods_fct_products__rules_hold]
PRODUCT_CHECKS = [*ODS_GATES, ods_fct_products__schema_drift, dm_fct_ecommerce__reconciles_with_ods]
