"""The ODS as day partitions: a day is a table of its own, replaced or dropped without touching the others;
an unchanged reload writes nothing; retention drops old days and the history outlives them; the migration
moves an unpartitioned ODS into day partitions. Real PostgreSQL, rows made by the pipeline's own rules."""

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from psycopg import sql

from ecommerce_assets.defs.products.history import sync_history
from ecommerce_assets.defs.products.retention import due_days
from ecommerce_assets.sql_files import SqlFiles
from ecommerce_assets.transforms.raw_snapshot import RAW_SCHEMA, page_batch, records_table
from ecommerce_assets.warehouse import LoadStats, WarehouseResource, migrate
from ecommerce_assets.warehouse.day_spools import day_identity, kept_path
from ecommerce_assets.warehouse.tables import TableName, day_partition
from ecommerce_assets_tests.support.helpers import query
from ecommerce_assets_tests.support.rules import clean_products
from ecommerce_catalog_server.daily import DailyCatalog

ODS = TableName("ods", "fct_products")
DAY = date(2025, 6, 1)
WAREHOUSE_SQL = SqlFiles("ecommerce_assets.warehouse")


def ods_rows(day: date, size: int = 300, seed: int = 0) -> pa.Table:
    """The simulator's catalog of `day` through the raw rows and the ODS rules, as the pipeline makes them."""
    catalog = DailyCatalog(size, day, seed=seed)
    raw = pa.Table.from_batches([page_batch(records_table(catalog.page(0, catalog.total())), first_index=0, skip=0,
                                            fetched_at=datetime(2025, 1, 1, tzinfo=UTC), source_url="test")],
                                schema=RAW_SCHEMA)
    return clean_products(duckdb.connect(), raw, day).accepted


@pytest.fixture
def load(pg_dsn: str) -> Callable[[date, pa.Table], LoadStats]:
    warehouse = WarehouseResource(dsn=pg_dsn)

    def write(day: date, rows: pa.Table) -> LoadStats:
        return warehouse.write_day("ods.fct_products", "snapshot_date", day, rows)
    return write


def partitions(dsn: str) -> dict[str, str]:
    return dict(query(dsn, "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits AS i "
                           "JOIN pg_class AS c ON c.oid = i.inhrelid WHERE i.inhparent = 'ods.fct_products'::regclass "
                           "AND c.relkind = 'r'"))


def file_of(dsn: str, day: date) -> int:
    """The partition's storage (a rewrite or a replacement gives it another one)."""
    return int(query(dsn, "SELECT pg_relation_filenode(%s::regclass)", (str(day_partition(ODS, day)),))[0][0])


def stored(dsn: str, day: date) -> dict[int, tuple[object, ...]]:
    return {r[0]: r[1:] for r in query(dsn, "SELECT product_id, title, category, price, stock, tags "
                                            "FROM ods.fct_products WHERE snapshot_date = %s", (day,))}


def expected(rows: pa.Table) -> dict[int, tuple[object, ...]]:
    return {r["product_id"]: (r["title"], r["category"], r["price"], r["stock"],
                              None if r["tags"] is None else json.loads(r["tags"]))
            for r in rows.select(["product_id", "title", "category", "price", "stock", "tags"]).to_pylist()}


def test_each_day_is_a_partition_replaced_alone_and_an_unchanged_reload_writes_nothing(
        pg_dsn: str, load: Callable[[date, pa.Table], LoadStats]) -> None:
    days = [DAY + timedelta(days=i) for i in range(3)]
    rows = {day: ods_rows(day) for day in days}
    for day in days:
        assert load(day, rows[day]) == LoadStats(inserted=rows[day].num_rows, updated=0, unchanged=0, deleted=0)
    assert partitions(pg_dsn) == {f"fct_products_p{d:%Y%m%d}": f"FOR VALUES IN ('{d}')" for d in days}
    files = {day: file_of(pg_dsn, day) for day in days}
    loaded_at = query(pg_dsn, "SELECT loaded_at FROM meta.partition_loads WHERE partition_date = %s", (days[1],))

    # unchanged: nothing written — same storage, same load time
    assert load(days[1], rows[days[1]]) == LoadStats(inserted=0, updated=0, unchanged=rows[days[1]].num_rows, deleted=0)
    assert file_of(pg_dsn, days[1]) == files[days[1]]
    assert query(pg_dsn, "SELECT loaded_at FROM meta.partition_loads WHERE partition_date = %s", (days[1],)) == loaded_at
    # the same rows in another order: another digest, so staged and compared — and still nothing written
    shuffled = rows[days[1]].take(pa.array(range(rows[days[1]].num_rows - 1, -1, -1)))
    assert load(days[1], shuffled) == LoadStats(inserted=0, updated=0, unchanged=rows[days[1]].num_rows, deleted=0)
    assert file_of(pg_dsn, days[1]) == files[days[1]]
    assert query(pg_dsn, "SELECT loaded_at FROM meta.partition_loads WHERE partition_date = %s", (days[1],)) == loaded_at

    # other rows for the middle day (another catalog, one product dropped, one price changed)
    other = ods_rows(days[1], seed=7)
    other = other.filter(pc.not_equal(other.column("product_id"), other.column("product_id")[0]))
    prices = other.column("price").to_pylist()
    prices[1] = prices[1] + Decimal("1.00")
    other = other.set_column(other.column_names.index("price"), "price", pa.array(prices, other.schema.field("price").type))
    before, after = expected(rows[days[1]]), expected(other)
    stats = load(days[1], other)
    assert stats == LoadStats(
        inserted=len(after.keys() - before.keys()),
        updated=sum(1 for k in after.keys() & before.keys() if after[k] != before[k]),
        unchanged=sum(1 for k in after.keys() & before.keys() if after[k] == before[k]),
        deleted=len(before.keys() - after.keys()))
    assert stats.updated and stats.deleted and stats.inserted
    assert stored(pg_dsn, days[1]) == after
    assert file_of(pg_dsn, days[1]) != files[days[1]]
    for day in (days[0], days[2]):  # the other days untouched
        assert file_of(pg_dsn, day) == files[day]
        assert stored(pg_dsn, day) == expected(rows[day])
    # the replaced day holds the primary key and is planned on its own
    assert query(pg_dsn, "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass "
                         "AND indisprimary", (str(day_partition(ODS, days[1])),)) == [(f"ods.fct_products_p{days[1]:%Y%m%d}_pkey",)]
    assert query(pg_dsn, "SELECT relname FROM pg_class WHERE relnamespace = 'staging'::regnamespace") == []


def test_a_failed_load_leaves_the_stored_day_and_no_stage(pg_dsn: str, load: Callable[[date, pa.Table], LoadStats]) -> None:
    rows = ods_rows(DAY)
    load(DAY, rows)
    file = file_of(pg_dsn, DAY)
    bad = rows.set_column(rows.column_names.index("stock"), "stock", pa.array([-1] * rows.num_rows, pa.int32()))
    with pytest.raises(Exception, match=r"check constraint"):
        load(DAY, bad)
    assert file_of(pg_dsn, DAY) == file and stored(pg_dsn, DAY) == expected(rows)
    assert query(pg_dsn, "SELECT relname FROM pg_class WHERE relnamespace = 'staging'::regnamespace") == []


def test_retention_drops_old_days_the_history_outlives_them_and_a_dropped_day_loads_again(
        pg_dsn: str, load: Callable[[date, pa.Table], LoadStats]) -> None:
    warehouse = WarehouseResource(dsn=pg_dsn)

    def retire(keep_days: int) -> list[date]:
        """What the retention job does (defs/products/retention.py): the due days, each dropped."""
        days = due_days(warehouse, keep_days)
        for day in days:
            warehouse.retire_day("ods.fct_products", "snapshot_date", day, side_tables=["ods.rejected_products"])
        return days

    days = [DAY + timedelta(days=i) for i in range(5)]
    rows = {day: ods_rows(day, size=120) for day in days}
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("INSERT INTO ods.rejected_products (snapshot_date, record_index, reason, payload) "
                     "SELECT d, 0, 'r', '{}' FROM unnest(%s::date[]) AS d", (days,))
    for day in days:
        load(day, rows[day])
    assert retire(2) == []  # nothing is dropped before the history has taken it in
    with psycopg.connect(pg_dsn) as conn:
        sync_history(conn)
    history = query(pg_dsn, "SELECT * FROM dm.dim_product_history ORDER BY product_id, valid_from")
    assert retire(2) == days[:3]  # newest day minus 2: days 1-3 out, days 4 and 5 kept
    assert partitions(pg_dsn).keys() == {f"fct_products_p{d:%Y%m%d}" for d in days[3:]}
    assert query(pg_dsn, "SELECT snapshot_date FROM ods.rejected_products ORDER BY 1") == [(d,) for d in days[3:]]
    assert [warehouse.day_loaded("ods.fct_products", d) for d in days] == [False, False, False, True, True]
    with psycopg.connect(pg_dsn) as conn:
        assert sync_history(conn).days == []  # the history keeps what it took in from the dropped days
    assert query(pg_dsn, "SELECT * FROM dm.dim_product_history ORDER BY product_id, valid_from") == history

    # a dropped day loaded again from its raw snapshot: back and not re-derived; the next retention run drops it
    assert load(days[0], rows[days[0]]).inserted == rows[days[0]].num_rows
    assert warehouse.day_loaded("ods.fct_products", days[0])
    with psycopg.connect(pg_dsn) as conn:
        assert sync_history(conn).days == []
    assert retire(2) == [days[0]]


def test_the_migration_moves_an_unpartitioned_ods_into_day_partitions(pg_admin_dsn: str, empty_database: str) -> None:
    with psycopg.connect(empty_database) as conn, conn.transaction():
        conn.execute(WAREHOUSE_SQL.text("migrations/0000_migrations_table.sql"))
        conn.execute(WAREHOUSE_SQL.text("roles/bi_reader.sql"))  # the database as migrations before 0006 left it
        for version in ("0000_migrations_table", "0001_initial", "0002_staging_schema", "0003_bi_reader", "0004_partition_loads",
                        "0005_product_history"):
            conn.execute(WAREHOUSE_SQL.text(f"migrations/{version}.sql"))
            conn.execute("INSERT INTO meta.schema_migrations (version) VALUES (%s)", (version,))
        conn.execute("INSERT INTO ods.fct_products (snapshot_date, product_id, category, price, tags) "
                     "SELECT DATE '2025-06-01' + d, p, 'c' || p, p + d, '[\"t\"]' "
                     "FROM generate_series(0, 2) AS d, generate_series(1, 50) AS p")
    before = query(empty_database, "SELECT * FROM ods.fct_products ORDER BY 1, 2")
    with psycopg.connect(empty_database) as conn:
        assert migrate(conn) == ["0006_ods_day_partitions", "0007_sales", "0008_wide_totals"]
    assert query(empty_database, "SELECT * FROM ods.fct_products ORDER BY 1, 2") == before
    assert partitions(empty_database) == {f"fct_products_p2025060{d}": f"FOR VALUES IN ('2025-06-0{d}')" for d in (1, 2, 3)}
    assert query(empty_database, "SELECT count(*) FROM ods.fct_products_p20250602") == [(50,)]


def test_a_stage_left_by_a_load_that_died_is_dropped_by_the_next_load_and_a_running_ones_is_kept(
        pg_dsn: str, load: Callable[[date, pa.Table], LoadStats]) -> None:
    now = int(time.time())
    with psycopg.connect(pg_dsn) as gone:  # a load's lock holder, then its process died
        dead_pid = gone.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    dead = f"ods__fct_products__{now}_{dead_pid}_deadbeef"
    with psycopg.connect(pg_dsn, autocommit=True) as running:  # a load still running elsewhere
        live_pid = running.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        live = f"ods__fct_products__{now}_{live_pid}_cafecafe"
        for name in (dead, live):
            running.execute(sql.SQL("CREATE TABLE {} (LIKE ods.fct_products)").format(sql.Identifier("staging", name)))
        load(DAY, ods_rows(DAY, size=50))
        assert query(pg_dsn, "SELECT relname FROM pg_class WHERE relnamespace = 'staging'::regnamespace") == [(live,)]


def test_a_day_reads_back_exactly_as_stored_numerics_at_their_limits(pg_dsn: str) -> None:
    """read_day gives the stored day back value for value (numerics travel as PostgreSQL's exact decimal text):
    each numeric column at its largest and smallest magnitude, negative where allowed, zero and NULL."""
    warehouse = WarehouseResource(dsn=pg_dsn)
    rows = ods_rows(DAY, size=40)
    edges = {"price": ["99999999.99", "0.01", "0.00", None],
             "discount_percentage": ["-9999.99", "9999.99", "-0.01", None],
             "rating": ["5.00", "0.00", "4.99", None],
             "weight": ["999999999.999", "0.001", "0.000", None]}
    for name, values in edges.items():
        column = rows.column(name).to_pylist()
        column[:len(values)] = [None if v is None else Decimal(v) for v in values]
        rows = rows.set_column(rows.column_names.index(name), name, pa.array(column, rows.schema.field(name).type))
    warehouse.write_day("ods.fct_products", "snapshot_date", DAY, rows)
    with warehouse.read_day("ods.fct_products", "snapshot_date", DAY) as reader:
        back = reader.read_all()
    assert back.schema == warehouse.day_schema("ods.fct_products")
    def values(table: pa.Table) -> list[dict[str, object]]:  # jsonb keeps the value, not the spelling
        return [{**r, "tags": None if r["tags"] is None else json.loads(r["tags"])} for r in table.to_pylist()]

    assert values(back.select(rows.column_names)) == values(rows.sort_by("product_id"))
    with warehouse.read_day("ods.fct_products", "snapshot_date", DAY, ["product_id", "price", "rating"]) as reader:
        assert reader.read_all().column("price").to_pylist()[:4] == \
            [None if v is None else Decimal(v) for v in edges["price"]]


READ = ["product_id", "title", "category", "price", "stock", "rating", "discount_percentage", "weight", "created_at"]


def handed_file(dsn: str, day: date) -> Path:
    """Where the file the day's last load kept for its next reader is (day_spools), by the digest it recorded."""
    with psycopg.connect(dsn) as conn:
        (digest,), = conn.execute("SELECT content_digest FROM meta.partition_loads WHERE table_name = %s AND "
                                  "partition_date = %s", (str(ODS), day)).fetchall()
        return kept_path(day_identity(conn, str(ODS), day.isoformat(), digest))


def read(warehouse: WarehouseResource, day: date, columns: list[str]) -> pa.Table:
    with warehouse.read_day(str(ODS), "snapshot_date", day, columns) as reader:
        return reader.read_all()


def test_a_day_just_loaded_is_read_from_the_file_its_load_kept_exactly_as_postgresql_returns_it(pg_dsn: str) -> None:
    warehouse = WarehouseResource(dsn=pg_dsn)
    rows = ods_rows(DAY, size=40_000)  # several COPY batches of 16,384 rows
    warehouse.write_day(str(ODS), "snapshot_date", DAY, rows)
    kept = handed_file(pg_dsn, DAY)
    assert kept.exists()
    with pytest.raises(ValueError, match=r"lacks columns \['no_such_column'\]"):  # as a read of the server says
        read(warehouse, DAY, [*READ, "no_such_column"])
    assert kept.exists()
    handed = read(warehouse, DAY, READ)
    assert not kept.exists()  # taken by that read: the next one reads PostgreSQL
    from_server = read(warehouse, DAY, READ)
    assert handed.schema == from_server.schema
    assert handed.equals(from_server)
    assert handed.num_rows == rows.num_rows > 32_768 and handed.column("product_id").to_pylist() == sorted(rows.column("product_id").to_pylist())


def test_a_kept_file_never_serves_another_load_of_the_day_json_columns_or_rows_out_of_key_order(pg_dsn: str) -> None:
    warehouse = WarehouseResource(dsn=pg_dsn)
    first, second = ods_rows(DAY, seed=1), ods_rows(DAY, seed=2)
    warehouse.write_day(str(ODS), "snapshot_date", DAY, first)
    first_file = handed_file(pg_dsn, DAY)
    warehouse.write_day(str(ODS), "snapshot_date", DAY, second)
    handed_file(pg_dsn, DAY).unlink()  # as if another reader had taken the second load's file
    assert read(warehouse, DAY, ["product_id", "title", "price"]).equals(
        second.select(["product_id", "title", "price"]).sort_by("product_id"))
    assert first_file.exists()  # the first load's file was not taken: its digest is not the day's any more

    # tags are jsonb, which PostgreSQL stores normalized: a read that wants them reads the server
    with_spaces = second.set_column(second.schema.get_field_index("tags"), "tags", pa.array(
        ['[ "a" ,  "b" ]'] * second.num_rows, pa.string()))
    warehouse.write_day(str(ODS), "snapshot_date", DAY, with_spaces)
    assert read(warehouse, DAY, ["product_id", "tags"]).column("tags").to_pylist() == ['["a", "b"]'] * second.num_rows

    # rows that do not ascend by product_id are not in the order a read gives: no file is kept
    reversed_rows = first.take(pa.array(range(first.num_rows - 1, -1, -1)))
    warehouse.write_day(str(ODS), "snapshot_date", DAY, reversed_rows)
    assert not handed_file(pg_dsn, DAY).exists()


def test_a_loaded_day_has_its_key_statistics_for_the_planner(pg_dsn: str, load: Callable[[date, pa.Table], LoadStats]) -> None:
    """The swap analyzes the day's key (the joins across days plan on it); the other columns are left to
    autovacuum, whose count of changed rows a partial ANALYZE keeps."""
    load(DAY, ods_rows(DAY))
    analyzed = {r[0] for r in query(pg_dsn, "SELECT attname FROM pg_stats WHERE schemaname = 'ods' AND tablename = %s",
                                    (day_partition(ODS, DAY).name,))}
    assert analyzed == {"snapshot_date", "product_id"}
