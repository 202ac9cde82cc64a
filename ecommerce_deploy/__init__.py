"""One-shot initialisation steps of a deployment (docker compose runs them; tests run them too)."""
