"""Alerts to a webhook (Slack-compatible JSON): retried, and never raising into the caller."""

import json
import logging
import os
from typing import Any

import requests
from dagster import ConfigurableResource
from pydantic import Field
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)


class AlertWebhookResource(ConfigurableResource):
    """Where failure alerts go; unset url falls back to $ECOM_ALERT_WEBHOOK_URL, and with neither, nowhere."""

    url: str | None = Field(default=None, description="webhook URL; else $ECOM_ALERT_WEBHOOK_URL")
    timeout_seconds: float = 10.0
    max_retries: int = 3
    backoff_factor: float = 0.5

    def target(self) -> str | None:
        return self.url or os.environ.get("ECOM_ALERT_WEBHOOK_URL") or None

    def send(self, message: dict[str, Any]) -> str:
        """POST `message`; returns what happened ("sent", "not configured", or the failure), never raises."""
        url = self.target()
        if not url:
            return "not configured"
        session = requests.Session()
        retry = Retry(total=self.max_retries, backoff_factor=self.backoff_factor,
                      status_forcelist=(429, 500, 502, 503, 504), allowed_methods=frozenset({"POST"}),
                      raise_on_status=False)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        try:
            response = session.post(url, data=json.dumps(message), timeout=self.timeout_seconds,
                                    headers={"Content-Type": "application/json"})
        except requests.RequestException as exc:
            return f"failed: {type(exc).__name__}"
        finally:
            session.close()
        if response.status_code >= 400:
            return f"failed: HTTP {response.status_code}"
        return "sent"
