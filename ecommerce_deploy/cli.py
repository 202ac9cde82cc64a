"""`ecommerce-deploy`: the one-shot steps of `docker compose up`, configured from the environment.

Both programs parse their arguments before importing what a step uses (psycopg, boto, Dagster and the code
location: two seconds of CPU), so `--help` and a wrong argument answer at once."""

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecommerce_deploy.init_warehouse import Login, WarehousePlan

# What each step reads from the environment (compose must provide the required ones; tests check it).
REQUIRED_ENV: dict[str, tuple[str, ...]] = {
    "init-warehouse": ("ECOM_PG_HOST", "ECOM_PG_ADMIN_PASSWORD", "ECOM_PG_PIPELINE_PASSWORD", "ECOM_PG_BI_PASSWORD",
                       "DAGSTER_PG_PASSWORD", "AIRFLOW_DB_PASSWORD", "METABASE_DB_PASSWORD"),
    "init-lake": (),
    "init-dagster": ("DAGSTER_PG_URL",),
    "init-metabase": ("METABASE_URL", "METABASE_ADMIN_EMAIL", "METABASE_ADMIN_PASSWORD", "ECOM_PG_BI_PASSWORD"),
}
OPTIONAL_ENV: dict[str, tuple[str, ...]] = {
    "init-warehouse": ("ECOM_PG_DATABASE", "ECOM_PG_PIPELINE_USER", "ECOM_PG_BI_USER"),
    "init-lake": ("ECOM_S3_BUCKET", "ECOM_S3_ENDPOINT_URL", "AWS_REGION"),
    "init-dagster": ("DAGSTER_HOME",),
    "init-metabase": ("ECOM_PG_HOST", "ECOM_PG_PORT", "ECOM_PG_DATABASE", "ECOM_PG_BI_USER"),
}


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set (see .env.example)")
    return value


def _bi_login() -> "Login":
    from ecommerce_deploy.init_warehouse import Login

    return Login(os.environ.get("ECOM_PG_BI_USER", "ecommerce_bi"), _env("ECOM_PG_BI_PASSWORD"))


def warehouse_plan() -> "WarehousePlan":
    from ecommerce_deploy.init_warehouse import Login, WarehousePlan

    return WarehousePlan(
        database=os.environ.get("ECOM_PG_DATABASE", "warehouse"),
        pipeline=Login(os.environ.get("ECOM_PG_PIPELINE_USER", "ecommerce_pipeline"), _env("ECOM_PG_PIPELINE_PASSWORD")),
        bi=_bi_login(),
        service_databases={
            "dagster": Login("dagster", _env("DAGSTER_PG_PASSWORD")),
            "airflow": Login("airflow", _env("AIRFLOW_DB_PASSWORD")),
            "metabase": Login("metabase", _env("METABASE_DB_PASSWORD")),
        },
    )


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="ecommerce-deploy", description=__doc__,
                                     epilog="ecommerce-deploy with-urls COMMAND...: run COMMAND with ECOM_PG_DSN, "
                                            "ECOM_PG_ADMIN_DSN and DAGSTER_PG_URL built from their parts")
    parser.add_argument("step", choices=sorted(REQUIRED_ENV))
    args = parser.parse_args(argv)
    import psycopg
    from botocore.exceptions import BotoCoreError, ClientError

    from ecommerce_assets.diagnosis import postgres_problem, s3_problem
    from ecommerce_assets.environment import lake_from_env

    try:
        _run_step(args.step)
    except psycopg.OperationalError as error:
        variable = "ECOM_PG_ADMIN_DSN" if args.step == "init-warehouse" else "ECOM_PG_DSN"
        raise SystemExit(postgres_problem(error, variable, os.environ.get(variable, ""))) from None
    except (BotoCoreError, ClientError) as error:
        lake = lake_from_env()
        problem = s3_problem(error, lake.endpoint_url, lake.bucket)
        if problem is None:
            raise
        raise SystemExit(problem) from None


def _run_step(step: str) -> None:
    if step == "init-warehouse":
        from ecommerce_deploy.init_warehouse import init_warehouse

        applied = init_warehouse(_env("ECOM_PG_ADMIN_DSN"), warehouse_plan())
        print(f"warehouse ready; migrations applied: {', '.join(applied) or 'none (up to date)'}")
    elif step == "init-dagster":
        from dagster import DagsterInstance

        from ecommerce_assets.definitions import defs  # the pools the code location's steps use
        from ecommerce_deploy.init_dagster import init_dagster, pools_of

        with DagsterInstance.get() as instance:
            created = init_dagster(instance, pools_of(defs))
        print(f"Dagster instance ready; concurrency pools created: {', '.join(created) or 'none (all exist)'}")
    elif step == "init-lake":
        from ecommerce_assets.environment import lake_from_env

        lake = lake_from_env()
        lake.ensure_bucket()
        print(f"bucket {lake.bucket} ready")
    else:
        from ecommerce_deploy.metabase import MetabaseAdmin, WarehouseConnection, init_metabase

        bi = _bi_login()
        dashboard = init_metabase(
            _env("METABASE_URL"),
            MetabaseAdmin(_env("METABASE_ADMIN_EMAIL"), _env("METABASE_ADMIN_PASSWORD")),
            WarehouseConnection(host=os.environ.get("ECOM_PG_HOST", "postgres_dwh"),
                                port=int(os.environ.get("ECOM_PG_PORT", "5432")),
                                database=os.environ.get("ECOM_PG_DATABASE", "warehouse"),
                                user=bi.name, password=bi.password),
        )
        print(f"Metabase ready: dashboard {dashboard}")


def warehouse_main(argv: list[str] | None = None) -> None:
    """`ecommerce-warehouse migrate`: the warehouse's migrations applied to $ECOM_PG_DSN (a set-up step)."""
    parser = argparse.ArgumentParser(description="Apply the warehouse migrations to $ECOM_PG_DSN")
    parser.add_argument("command", choices=["migrate"])
    parser.parse_args(argv)
    import psycopg

    from ecommerce_assets.diagnosis import postgres_problem
    from ecommerce_assets.warehouse import migrate

    dsn = os.environ.get("ECOM_PG_DSN")
    if not dsn:
        raise SystemExit("ECOM_PG_DSN is not set")
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            applied = migrate(conn)
    except psycopg.OperationalError as error:
        raise SystemExit(postgres_problem(error, "ECOM_PG_DSN", dsn)) from None
    except psycopg.errors.InsufficientPrivilege as error:
        raise SystemExit(f"ECOM_PG_DSN: the login may not change the schema ({error})\n"
                         "  → run the migrations as the login that owns the warehouse") from None
    print("applied: " + (", ".join(applied) if applied else "nothing, the warehouse is up to date"))


if __name__ == "__main__":
    main()
