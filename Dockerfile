# The project image: the Dagster code location, webserver, daemon, workers and the one-shot init steps.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /opt/dagster/app

# Dependencies first (pinned by constraints.txt), so code changes do not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
COPY ecommerce_assets ./ecommerce_assets
COPY ecommerce_deploy ./ecommerce_deploy
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /opt/dagster dagster \
    && mkdir -p /opt/dagster/home \
    && chown -R dagster /opt/dagster/home

COPY dagster.yaml /opt/dagster/home/dagster.yaml
COPY workspace.docker.yaml /opt/dagster/app/workspace.yaml

USER dagster
EXPOSE 3000 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "ecommerce_assets.definitions", "--location-name", "ecommerce_assets"]
