"""Every quality gate shown failing, on real services: the warehouse or the lake is made to hold something
other than what the pipeline wrote (a trigger, a snapshot dropped by hand), and the gate must say so."""

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetSelection, DagsterEventType, materialize
from psycopg import sql

from ecommerce_assets.defs.products.keys import CHANGES, MART, RAW
from ecommerce_assets.dsn import with_database
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.warehouse import migrate
from ecommerce_assets_tests.support.helpers import EVERYTHING, make_resources, query, run_partition
from ecommerce_catalog_server import CatalogServer, GeneratedCatalog, ListCatalog

PARTITION = "2025-08-01"
KEY = f"raw/products/snapshot_date={PARTITION}/products.parquet"


def checks(result: Any) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def failure_text(result: Any) -> str:
    """What a person reads of a failed run: each failed step's error, and each failed check's description."""
    return "\n".join([*(e.step_failure_data.error.to_string() for e in result.all_events  # type: ignore[union-attr]
                        if e.event_type == DagsterEventType.STEP_FAILURE),
                      *(e.description or "" for e in result.get_asset_check_evaluations() if not e.passed)])


def execute(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(statement)


@pytest.fixture
def server() -> Iterator[CatalogServer]:
    with CatalogServer(GeneratedCatalog(size=120, seed=5)) as running:
        yield running


def restore_snapshot(lake: LakeResource, table: pa.Table, footer: dict[str, str]) -> None:
    """Replace the stored snapshot by `table` with `footer` (a snapshot dropped into the lake by hand)."""
    path = f"{lake.bucket}/{KEY}"
    schema = table.schema.with_metadata(footer)
    with pq.ParquetWriter(path, schema, filesystem=lake.filesystem()) as writer:
        writer.write_table(table.replace_schema_metadata(footer))


@pytest.mark.parametrize(("rows_kept", "footer", "message"), [
    (119, {"api_total": "120"}, "the stored snapshot holds 119 records but the API announced 120"),
    (120, {}, "does not record the API's total"),
])
def test_raw_count_check_fails_when_the_stored_snapshot_does_not_match_the_announced_total(
        lake: LakeResource, pg_dsn: str, server: CatalogServer, rows_kept: int, footer: dict[str, str],
        message: str) -> None:
    resources = make_resources(lake, pg_dsn, server.url)
    first = run_partition(resources, PARTITION, assets=[RAW])
    assert checks(first)["raw_products_parquet__count_matches_total"].passed
    stored = pq.read_table(f"{lake.bucket}/{KEY}", filesystem=lake.filesystem())
    restore_snapshot(lake, stored.slice(0, rows_kept), footer)
    reused = run_partition(resources, PARTITION, raise_on_error=False)  # reuses the stored snapshot
    check = checks(reused)["raw_products_parquet__count_matches_total"]
    assert not check.passed and message in (check.description or "")
    assert check.metadata["stored_records"].value == rows_kept
    # blocking: the ODS of the day is not built from it
    assert query(pg_dsn, "SELECT count(*) FROM ods.fct_products") == [(0,)]


def test_ods_accounting_check_fails_when_the_warehouse_drops_a_row(lake: LakeResource, pg_dsn: str,
                                                                     server: CatalogServer) -> None:
    # Each ODS day is COPYed into a table of its own and attached as a partition, out of reach of row
    # triggers: an event trigger on the ALTER TABLE that attaches it loses the row in the same transaction.
    execute(pg_dsn, """
        CREATE FUNCTION public.swallow() RETURNS event_trigger LANGUAGE plpgsql AS
        $$ BEGIN DELETE FROM ods.fct_products WHERE product_id = 17; END $$;
        CREATE EVENT TRIGGER swallow ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION public.swallow();
    """)
    result = run_partition(make_resources(lake, pg_dsn, server.url), PARTITION, raise_on_error=False)
    check = checks(result)["ods_fct_products__accounts_for_every_record"]
    assert not check.passed
    assert check.metadata["stored_rows"].value == 119 and check.metadata["accepted_by_rules"].value == 120
    assert "120 raw records but 119 stored rows" in (check.description or "")
    assert query(pg_dsn, "SELECT count(*) FROM dm.fct_ecommerce") == [(0,)]  # blocked


def test_ods_rules_check_fails_on_rows_the_constraints_let_through(lake: LakeResource, pg_dsn: str,
                                                                     server: CatalogServer) -> None:
    execute(pg_dsn, """
        CREATE FUNCTION public.spoil() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN
            UPDATE ods.fct_products SET category = category || E'\\t' WHERE product_id = 3 AND category !~ '\\s$';
            UPDATE ods.fct_products SET tags = '{"not": "a list"}'::jsonb WHERE product_id IN (4, 5);
            END $$;
        CREATE EVENT TRIGGER spoil ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION public.spoil();
    """)
    result = run_partition(make_resources(lake, pg_dsn, server.url), PARTITION, raise_on_error=False)
    check = checks(result)["ods_fct_products__rules_hold"]
    assert not check.passed
    assert (check.metadata["untrimmed_category"].value, check.metadata["tags_not_text_list"].value) == (1, 2)


@pytest.mark.parametrize(("column", "spoil"), [
    ("product_count", "NEW.product_count + 1"),
    ("out_of_stock_count", "coalesce(NEW.out_of_stock_count, 0) + 1"),
    ("inventory_value", "NEW.inventory_value + 0.01"),
    ("avg_discount_pct", "NEW.avg_discount_pct + 0.01"),
    ("price_changes", "NEW.price_changes + 1"),
])
def test_mart_reconciliation_fails_when_the_stored_mart_differs_from_the_stored_ods(
        lake: LakeResource, pg_dsn: str, server: CatalogServer, column: str, spoil: str) -> None:
    resources = make_resources(lake, pg_dsn, server.url)
    clean = run_partition(resources, PARTITION)
    assert checks(clean)["dm_fct_ecommerce__reconciles_with_ods"].passed
    (category,) = query(pg_dsn, "SELECT min(category) FROM dm.fct_ecommerce")[0]
    execute(pg_dsn, f"""
        CREATE FUNCTION public.inflate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
            IF NEW.category = '{category}' THEN NEW.{column} := {spoil}; END IF;
            RETURN NEW; END $$;
        CREATE TRIGGER inflate BEFORE INSERT OR UPDATE ON dm.fct_ecommerce
            FOR EACH ROW EXECUTE FUNCTION public.inflate();
        DELETE FROM dm.fct_ecommerce;
    """)
    spoiled = run_partition(resources, PARTITION, raise_on_error=False)
    check = checks(spoiled)["dm_fct_ecommerce__reconciles_with_ods"]
    assert not check.passed and check.metadata["categories_differing"].value == 1
    assert check.metadata["examples"].value[0]["category"] == category
    assert f"{column} (ods / mart)" in check.metadata["examples"].value[0]


def test_mart_refuses_a_day_whose_ods_partition_is_absent(lake: LakeResource, pg_dsn: str,
                                                          server: CatalogServer) -> None:
    resources = make_resources(lake, pg_dsn, server.url)
    run_partition(resources, PARTITION)
    absent = run_partition(resources, "2025-08-03", assets=[CHANGES, MART], raise_on_error=False)
    assert not absent.success
    text = failure_text(absent)  # the ODS gates refuse the day
    assert "ods.fct_products has no partition 2025-08-03" in text
    assert "materialize ods_fct_products for partition 2025-08-03 first" in text
    # without the gates (a selection of its own), the changes and the mart refuse it themselves
    for key in (CHANGES, MART):
        alone = materialize(EVERYTHING, selection=AssetSelection.assets(key), partition_key="2025-08-03",
                            resources=resources, raise_on_error=False)
        assert "ods.fct_products has no partition 2025-08-03" in failure_text(alone), key
        assert "materialize ods_fct_products for partition 2025-08-03 first" in failure_text(alone), key
    assert query(pg_dsn, "SELECT count(*) FROM dm.fct_ecommerce WHERE report_date = '2025-08-03'") == [(0,)]


def test_an_empty_catalog_day_is_present_not_absent(lake: LakeResource, pg_dsn: str) -> None:
    with CatalogServer(ListCatalog([])) as empty:
        result = run_partition(make_resources(lake, pg_dsn, empty.url), PARTITION)
    assert checks(result)["dm_fct_ecommerce__reconciles_with_ods"].passed
    assert query(pg_dsn, "SELECT table_name, row_count FROM meta.partition_loads ORDER BY 1") == [
        ("dm.fct_ecommerce", 0), ("dm.fct_product_changes", 0), ("ods.fct_products", 0), ("ods.rejected_products", 0)]


def test_a_run_never_migrates_and_says_what_to_run(lake: LakeResource, pg_admin_dsn: str,
                                                   server: CatalogServer) -> None:
    name = f"ecom_unmigrated_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        dsn = with_database(pg_admin_dsn, name)
        result = run_partition(make_resources(lake, dsn, server.url), PARTITION, raise_on_error=False)
        assert "the warehouse schema is not current" in failure_text(result)
        assert "Run `ecommerce-warehouse migrate`" in failure_text(result)
        assert query(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname IN ('ods', 'dm', 'meta')") == [(0,)]
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_the_pipeline_runs_as_a_login_that_cannot_create_anything_but_stages_and_ods_days(
        lake: LakeResource, pg_admin_dsn: str, server: CatalogServer) -> None:
    name, role = f"ecom_lp_{uuid.uuid4().hex[:8]}", f"ecom_runner_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    admin = with_database(pg_admin_dsn, name)
    try:
        with psycopg.connect(admin) as conn:
            migrate(conn)  # the set-up step, as the owner
            conn.execute(sql.SQL(
                "REVOKE CREATE ON DATABASE {db} FROM PUBLIC; REVOKE CREATE ON SCHEMA public FROM PUBLIC; "
                "GRANT USAGE ON SCHEMA ods, dm, meta, staging TO {r}; GRANT CREATE ON SCHEMA staging TO {r}; "
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ods, dm, meta TO {r}; "
                # a day of the ODS is a partition the login builds, attaches and drops: it owns the table
                "GRANT CREATE ON SCHEMA ods TO {r}; ALTER TABLE ods.fct_products OWNER TO {r}"
            ).format(db=sql.Identifier(name), r=sql.Identifier(role)))
        runner = with_database(pg_admin_dsn, name, (role, "unused-with-trust-auth"))
        assert query(runner, "SELECT has_database_privilege(current_user, current_database(), 'CREATE')") == [(False,)]
        result = run_partition(make_resources(lake, runner, server.url), PARTITION)
        assert result.success
        assert query(runner, "SELECT count(*) FROM ods.fct_products") == [(120,)]
        assert query(runner, "SELECT sum(product_count) FROM dm.fct_ecommerce") == [(120,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            execute(runner, "CREATE SCHEMA sneaky")
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_the_stored_snapshot_has_few_row_groups(lake: LakeResource, pg_dsn: str) -> None:
    with CatalogServer(GeneratedCatalog(size=2_500, seed=2)) as many_pages:
        run_partition(make_resources(lake, pg_dsn, many_pages.url, page_size=40), PARTITION, assets=[RAW])
    meta = pq.ParquetFile(f"{lake.bucket}/{KEY}", filesystem=lake.filesystem()).metadata
    assert (meta.num_rows, meta.num_row_groups) == (2_500, 1)  # 63 pages, one row group
