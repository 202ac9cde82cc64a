# Sourced by run.sh and test.sh: create .venv with Python 3.11 and install the project with the extra
# $ECOM_EXTRA (run.sh: `local`, what running needs; test.sh: `dev`, which adds the test tools), pinned by
# constraints.txt; again only when pyproject.toml, constraints.txt or the extra changed. With
# ECOM_WITH_AIRFLOW=1 (test.sh) also .venv-airflow, Airflow's own environment for the adapter tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
EXTRA="${ECOM_EXTRA:-dev}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
install_airflow() {
    if [ ! -x .venv-airflow/bin/python ]; then
        "$PYTHON" -m venv .venv-airflow
        .venv-airflow/bin/python -m pip install --quiet --upgrade pip
    fi
    local stamp
    stamp=".venv-airflow/.installed-$(cat airflow/requirements.txt airflow/constraints.txt | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        echo "installing Airflow into .venv-airflow" >&2
        .venv-airflow/bin/python -m pip install --quiet --disable-pip-version-check -c airflow/constraints.txt \
            -r airflow/requirements.txt
        rm -f .venv-airflow/.installed-*
        touch "$stamp"
    fi
}

# Airflow's environment installs alongside the project's (they share nothing), its output kept apart
AIRFLOW_PID=""
if [ "${ECOM_WITH_AIRFLOW:-0}" = "1" ]; then
    install_airflow > .venv-airflow.log 2>&1 &
    AIRFLOW_PID=$!
fi

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
STAMP=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)-$EXTRA"
if [ ! -f "$STAMP" ] && ! { [ "$EXTRA" = local ] && [ -f "${STAMP%-local}-dev" ]; }; then
    echo "installing the project into .venv (first time: a few minutes)" >&2
    # (setuptools warns about editable installs in general: not this project's business, silenced)
    PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
        -e ".[$EXTRA]"
    rm -f .venv/.installed-*
    touch "$STAMP"
fi

if [ -n "$AIRFLOW_PID" ]; then
    wait "$AIRFLOW_PID" || { cat .venv-airflow.log >&2; echo "installing .venv-airflow failed (above)" >&2; exit 1; }
    cat .venv-airflow.log >&2
    rm -f .venv-airflow.log
fi
