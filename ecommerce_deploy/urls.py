"""libpq (and Celery broker) URLs built from their parts, passwords percent-encoded: a password may hold any character
(`@ / % # ? :` and quotes included) and compose still never pastes it into a URL."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class UrlParts:
    """Where the parts of one URL come from: variables, and defaults for the optional ones."""

    user_var: str
    default_user: str
    password_var: str
    database_var: str | None
    default_database: str


# target variable -> its parts; host and port are shared: $ECOM_PG_HOST (required) and $ECOM_PG_PORT (5432)
URLS: dict[str, UrlParts] = {
    "ECOM_PG_DSN": UrlParts("ECOM_PG_PIPELINE_USER", "ecommerce_pipeline", "ECOM_PG_PIPELINE_PASSWORD",
                            "ECOM_PG_DATABASE", "warehouse"),
    "ECOM_PG_ADMIN_DSN": UrlParts("ECOM_PG_ADMIN_USER", "postgres", "ECOM_PG_ADMIN_PASSWORD", None, "postgres"),
    "DAGSTER_PG_URL": UrlParts("DAGSTER_PG_USER", "dagster", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DATABASE", "dagster"),
}


def pg_url(user: str, password: str, host: str, port: str, database: str) -> str:
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{quote(database, safe='')}"


def broker_url(user: str, password: str, host: str, port: str) -> str:
    """The Celery broker (RabbitMQ through py-amqp), default virtual host."""
    return f"pyamqp://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}//"


def urls_from_parts(env: Mapping[str, str]) -> dict[str, str]:
    """The URLs whose password variable is set and that are not set themselves: the PostgreSQL ones when
    $ECOM_PG_HOST is set, the Celery broker's when $ECOM_RABBITMQ_HOST is."""
    built = {}
    rabbit, rabbit_password = env.get("ECOM_RABBITMQ_HOST"), env.get("ECOM_RABBITMQ_PASSWORD")
    if rabbit and rabbit_password and not env.get("ECOM_CELERY_BROKER_URL"):
        built["ECOM_CELERY_BROKER_URL"] = broker_url(env.get("ECOM_RABBITMQ_USER") or "ecommerce", rabbit_password,
                                                     rabbit, env.get("ECOM_RABBITMQ_PORT") or "5672")
    host = env.get("ECOM_PG_HOST")
    if not host:
        return built
    port = env.get("ECOM_PG_PORT") or "5432"
    for target, parts in URLS.items():
        password = env.get(parts.password_var)
        if env.get(target) or not password:
            continue
        database = (env.get(parts.database_var) if parts.database_var else None) or parts.default_database
        built[target] = pg_url(env.get(parts.user_var) or parts.default_user, password, host, port, database)
    return built


def exec_with_urls(command: list[str]) -> None:
    """Replace this process with `command`, the URLs built from their parts added to its environment."""
    if not command:
        raise SystemExit("usage: ecommerce-deploy with-urls COMMAND [ARG ...]")
    env = dict(os.environ)
    env.update(urls_from_parts(env))
    os.execvpe(command[0], command, env)
