#!/usr/bin/env bash
# Airflow with the adapter DAGs against the Dagster of this machine (`./scripts/run.sh dev` in another
# terminal), e.g.   ./scripts/airflow.sh dags test raw_s3_api "$(date -u -d yesterday +%F)"
# Installs Airflow into .venv-airflow on first use; keeps Airflow's state in .local/airflow (SQLite).
# Dagster's address: $DAGSTER_URL (default http://127.0.0.1:3000), as the connection `dagster_default`.
export ECOM_EXTRA="${ECOM_EXTRA:-local}" ECOM_WITH_AIRFLOW=1
source "$(dirname "$0")/_venv.sh"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.local/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/airflow/dags" AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW_CONN_DAGSTER_DEFAULT="${AIRFLOW_CONN_DAGSTER_DEFAULT:-${DAGSTER_URL:-http://127.0.0.1:3000}?location=ecommerce_assets}"
mkdir -p "$AIRFLOW_HOME"
if [ ! -f "$AIRFLOW_HOME/.migrated" ]; then
    .venv-airflow/bin/airflow db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 \
        || { echo "airflow db migrate failed, see $AIRFLOW_HOME/db-migrate.log" >&2; exit 1; }
    touch "$AIRFLOW_HOME/.migrated"
fi
exec .venv-airflow/bin/airflow "$@"
