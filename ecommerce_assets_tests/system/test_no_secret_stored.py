"""No personal field of a user is ever stored. Unique markers are planted in every field of every user but the
kept ones (id, age, gender, role, city, state, country) — names, e-mail, phone, password, SSN, card, IBAN,
wallet, IP, address, coordinates, company, … — and, as a control that must be found, in every cart line's
title. After a day through the pipeline with a real `dagster-daemon` (raw fetched here; ODS and marts by
the daemon's automation), every S3 object, every row of every table (the warehouse and Dagster's runs,
event log and metadata), every file of Dagster's home (compute logs) and the daemon's log, the files kept
for a next reader (the lake's spools, the warehouse's loaded days), and the terminal
are scanned: 0 personal markers, the control markers where they belong. And the scan is shown to fail
when a single field is let through."""

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, AssetRecordsFilter, materialize

from ecommerce_assets.definitions import build_defs
from ecommerce_assets.defs.sales.transforms.users import KEPT, KEPT_FROM_ADDRESS
from ecommerce_assets.lake import LakeResource
from ecommerce_assets.lake.objects import HANDOFF as LAKE_HANDOFF
from ecommerce_assets.warehouse.day_spools import DAY_HANDOFF
from ecommerce_assets_tests.support.dagster_processes import STACK_TEST, dagster_stack, sensor_has_ticked, wait_for
from ecommerce_assets_tests.support.helpers import TEST_PII_KEY, make_resources, query
from ecommerce_assets_tests.support.secret_scan import (
    Found,
    scan_database,
    scan_files,
    scan_lake,
    scan_parquet_files,
    scan_text,
)
from ecommerce_catalog_server import CatalogServer, ListCatalog
from ecommerce_catalog_server.daily import DailyCatalog
from ecommerce_catalog_server.shop import DailyCarts, generate_user

pytestmark = STACK_TEST

DAY = "2025-05-10"
DAY_DATE = date.fromisoformat(DAY)
USERS = 25
MARKERS = re.compile(r"ZQX[A-Za-z.]+N\d+ZQX|CTRL\d+CTRL")
SECRET = r"^ZQX"
CONTROL = r"^CTRL"
WAIT_SECONDS = 240


def marked(value: Any, path: str, user: int) -> Any:
    """Every leaf of a personal field replaced by its own marker."""
    if isinstance(value, dict):
        return {k: marked(v, f"{path}.{k}", user) for k, v in value.items()}
    if isinstance(value, list):
        return [marked(v, f"{path}.{i}", user) for i, v in enumerate(value)]
    return f"ZQX{path}N{user}ZQX"


def marked_user(user_id: int) -> dict[str, Any]:
    user = generate_user(user_id, 42)
    out: dict[str, Any] = {}
    for name, value in user.items():
        if name in KEPT:
            out[name] = value
        elif name == "address":
            out[name] = {k: (v if k in KEPT_FROM_ADDRESS else marked(v, f"address.{k}", user_id)) for k, v in value.items()}
        elif name == "email":
            out[name] = f"ZQXemailN{user_id}ZQX@example.com"
        else:
            out[name] = marked(value, name, user_id)
    return out


def planted() -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    users = [marked_user(i) for i in range(1, USERS + 1)]
    carts = DailyCarts(30, 60, USERS, DAY_DATE)
    records = []
    for cart in carts.page(0, carts.total()):
        lines = [{**line, "title": f"CTRL{cart['id'] * 10 + n}CTRL"} for n, line in enumerate(cart["products"])]
        records.append({**cart, "products": lines, "userId": 1 + cart["userId"] % USERS})
    secrets = set(MARKERS.findall(json.dumps(users)))
    return users, records, secrets


def scan(tmp_path: Path, lake: LakeResource, pg_dsn: str, log: Path, terminal: str, objects: int = 3,
         tables: int = 30) -> Found:
    """Every place the run could have written to, looked at (at least `objects` objects and `tables` tables:
    the warehouse's and, after a run, Dagster's)."""
    found = Found()
    assert scan_lake(lake, MARKERS, found) >= objects
    assert scan_database(pg_dsn, MARKERS, found) >= tables
    assert scan_files([tmp_path / "dagster_home", log], MARKERS, found) >= 1
    for kept in (LAKE_HANDOFF, DAY_HANDOFF):  # whatever is still kept for a next reader: spools, loaded days
        scan_parquet_files(kept.directory, MARKERS, found)
    scan_text(terminal, "terminal", MARKERS, found)
    return found


def test_no_personal_field_is_stored_anywhere(tmp_path: Path, lake: LakeResource, pg_dsn: str,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    users, carts, secrets = planted()
    assert len(secrets) > USERS * 30  # every personal leaf of every user carries its own marker
    with CatalogServer(DailyCatalog(60, DAY_DATE), collections={"users": ListCatalog(users), "carts": ListCatalog(carts)}) as server, \
            dagster_stack(tmp_path, pg_dsn, lake, server.url, extra_env={"ECOM_PII_KEY": TEST_PII_KEY}) as stack:
        instance = stack.instance
        wait_for(lambda: sensor_has_ticked(instance, "ecommerce_automation_sensor"), WAIT_SECONDS,
                 "the automation sensor's first tick", stack.log)
        resources = make_resources(lake, pg_dsn, server.url)
        defs = build_defs(resources)
        raw = [AssetKey("raw_products_parquet"), AssetKey("raw_carts_parquet"), AssetKey("raw_users_parquet")]
        result = materialize([*(defs.assets or []), *(defs.asset_checks or [])], selection=raw, partition_key=DAY,  # type: ignore[list-item]
                             resources=resources, instance=instance,
                             run_config={"ops": {k.to_python_identifier(): {"config": {"allow_late_fetch": True}}
                                                 for k in raw}})
        assert result.success

        def marts_built() -> bool:
            return all(instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey(k)), limit=1).records
                       for k in ("dm_fct_sales", "dm_fct_customers_daily"))

        wait_for(marts_built, WAIT_SECONDS, "dm_fct_sales and dm_fct_customers_daily", stack.log)
        assert query(pg_dsn, "SELECT count(*) FROM ods.dim_customers") == [(USERS,)]
        assert query(pg_dsn, "SELECT count(DISTINCT customer_key) FROM ods.dim_customers") == [(USERS,)]
        assert query(pg_dsn, "SELECT count(*) FROM dm.fct_orders") == [(len(carts),)]
        terminal = "".join(capfd.readouterr())
        found = scan(tmp_path, lake, pg_dsn, stack.log, terminal)

    assert found.of(SECRET) == {}, sorted(found.of(SECRET).items())[:5]
    controls = found.of(CONTROL)
    lines = sum(len(c["products"]) for c in carts)
    assert len(controls) == lines  # every control marker was found …
    raw_carts = f"s3://{lake.bucket}/raw/carts/snapshot_date={DAY}/carts.parquet"
    for places in controls.values():  # … in the raw carts and the cart lines, where they belong, and only there
        assert {f"{raw_carts} column record_json", "table ods.fct_cart_lines"} <= places, places
        assert places <= {f"{raw_carts} column record_json", raw_carts, "table ods.fct_cart_lines"}, places


def test_the_scan_finds_a_field_let_through(tmp_path: Path, lake: LakeResource, pg_dsn: str) -> None:
    """The scan can fail: one user's e-mail written, as a pipeline letting one field through would, to the lake
    (a compressed Parquet snapshot) and to a table — both are found, and nothing else."""
    user = marked_user(7)
    lake.ensure_bucket()
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"record_json": [json.dumps({"id": 7, "email": user["email"]})]}), buffer,
                   compression="zstd")
    lake.get_client().put_object(Bucket=lake.bucket, Key=f"raw/users/snapshot_date={DAY}/users.parquet",
                                 Body=buffer.getvalue().to_pybytes())
    query(pg_dsn, "INSERT INTO ods.rejected_users (snapshot_date, record_index, reason) VALUES (%s, 0, %s) "
                  "RETURNING 1", (DAY, f"bad e-mail {user['email']}"))
    log = tmp_path / "daemon.log"
    log.write_text("nothing here\n")
    (tmp_path / "dagster_home").mkdir()
    found = scan(tmp_path, lake, pg_dsn, log, "", objects=1, tables=15)
    assert set(found.of(SECRET)) == {"ZQXemailN7ZQX"}
    places = found.of(SECRET)["ZQXemailN7ZQX"]
    key = f"s3://{lake.bucket}/raw/users/snapshot_date={DAY}/users.parquet"
    assert {f"{key} column record_json", "table ods.rejected_users"} <= places <= {
        f"{key} column record_json", "table ods.rejected_users", key}
