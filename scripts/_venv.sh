# Sourced by run.sh and test.sh: create .venv with Python 3.11 and install the project with its dev extra,
# pinned by constraints.txt; again only when pyproject.toml or constraints.txt changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
STAMP=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
    echo "installing the project into .venv (first time: a few minutes)" >&2
    .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
    rm -f .venv/.installed-*
    touch "$STAMP"
fi

# Airflow (for the adapter DAGs and their tests) lives in its own environment: its pins never meet the pipeline's.
if [ "${ECOM_SKIP_AIRFLOW:-0}" != "1" ]; then
    if [ ! -x .venv-airflow/bin/python ]; then
        "$PYTHON" -m venv .venv-airflow
        .venv-airflow/bin/python -m pip install --quiet --upgrade pip
    fi
    AIRFLOW_STAMP=".venv-airflow/.installed-$(cat airflow/requirements.txt airflow/constraints.txt | sha256sum | cut -c1-16)"
    if [ ! -f "$AIRFLOW_STAMP" ]; then
        echo "installing Airflow into .venv-airflow" >&2
        .venv-airflow/bin/python -m pip install --quiet -c airflow/constraints.txt -r airflow/requirements.txt
        rm -f .venv-airflow/.installed-*
        touch "$AIRFLOW_STAMP"
    fi
fi
