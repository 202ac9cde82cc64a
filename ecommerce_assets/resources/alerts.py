"""Alerts to a webhook (Slack-compatible JSON): retried, and never raising into the caller."""

import json
import logging
from typing import Any

import requests
from dagster import ConfigurableResource
from pydantic import Field
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)


class AlertWebhookResource(ConfigurableResource):
    """Where failure alerts go; without a URL, nowhere (they are only logged)."""

    url: str | None = Field(default=None, description="webhook URL, a secret: EnvVar ECOM_ALERT_WEBHOOK_URL")
    timeout_seconds: float = Field(default=10.0, description="seconds per POST")
    max_retries: int = Field(default=3, description="retries on connection errors, 429 and 5xx")
    backoff_factor: float = Field(default=0.5, description="exponential backoff base in seconds")

    def target(self) -> str | None:
        return self.url or None

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
