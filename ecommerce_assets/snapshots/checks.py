"""The checks of every raw snapshot, read back from the stored object: its row count against the `total`
the API announced (blocking: a snapshot that is not whole is never loaded), and ids that appear twice."""

from datetime import date

from dagster import AssetCheckExecutionContext, AssetChecksDefinition, AssetCheckSeverity, MetadataValue

from ecommerce_assets.checks import Verdict, daily_check
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.snapshots.endpoint import Endpoint
from ecommerce_assets.snapshots.factory import announced_total
from ecommerce_assets.transforms.raw_snapshot import repeated_ids, superseded_count


def records_and_superseded(lake: LakeResource, endpoint: Endpoint, day: date) -> tuple[int, int]:
    """(records, superseded) of the day's stored snapshot: the records its footer counts, and how many of them
    a later record with the same id replaces in the ODS (later wins) — what an ODS accounting check adds up to."""
    key = endpoint.location.key(day.isoformat())
    records, _ = lake.footer(key)
    return records, superseded_count(lake.read_column(key, endpoint.id_column))


def snapshot_checks(endpoint: Endpoint) -> list[AssetChecksDefinition]:
    @daily_check(endpoint.asset_key, endpoint.check_name("count_matches_total"), blocking=True,
                 resource_keys=frozenset({"lake"}),
                 description="The stored snapshot holds exactly as many records as the API's `total`.")
    def count_matches_total(context: AssetCheckExecutionContext, day: date) -> Verdict:
        lake: LakeResource = context.resources.lake
        stored_rows, footer = lake.footer(endpoint.location.key(str(day)))
        api_total = announced_total(footer)
        passed = api_total is not None and stored_rows == api_total
        return Verdict(
            passed, {"stored_records": stored_rows, "api_total": -1 if api_total is None else api_total},
            None if passed else (
                f"{day}: the stored snapshot does not record the API's total, so its completeness cannot be shown; "
                "rerun with `refetch: true` to fetch it again" if api_total is None else
                f"{day}: the stored snapshot holds {stored_rows} records but the API announced {api_total}"))

    @daily_check(endpoint.asset_key, endpoint.check_name("unique_ids"), severity=AssetCheckSeverity.WARN,
                 resource_keys=frozenset({"lake"}),
                 description="No id appears twice (duplicates are resolved later-wins in the ODS; warning).")
    def unique_ids(context: AssetCheckExecutionContext, day: date) -> Verdict:
        lake: LakeResource = context.resources.lake
        repeated = repeated_ids(lake.read_column(endpoint.location.key(str(day)), endpoint.id_column))
        return Verdict(len(repeated) == 0, {"duplicated_ids": len(repeated),
                                            "examples": MetadataValue.json(repeated.slice(0, 20).to_pylist())})

    return [count_matches_total, unique_ids]
