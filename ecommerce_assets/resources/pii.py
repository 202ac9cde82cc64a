"""The secret that turns a user's e-mail address into a customer key (HMAC-SHA256): from the environment only
($ECOM_PII_KEY, a Dagster EnvVar), never a value in the definitions, never logged."""

from dagster import ConfigurableResource, Failure
from pydantic import Field

MIN_KEY_CHARACTERS = 32
PII_KEY_HINT = ("Set ECOM_PII_KEY to a secret of at least 32 characters (`python -c 'import secrets; "
                "print(secrets.token_hex(32))'`) and keep it: another key gives every customer another key.")


class PiiKeyResource(ConfigurableResource):
    """Where the customer-key secret comes from. Unset: the users' snapshot refuses to run (naming the
    variable); every other asset runs without it."""

    key: str | None = Field(default=None, description="HMAC-SHA256 key of customer keys ($ECOM_PII_KEY, a secret: "
                                                      "shown by name only); unset: the users' snapshot refuses to run")

    def key_bytes(self) -> bytes:
        if not self.key:
            raise Failure(description=f"ECOM_PII_KEY is not set: the users' snapshot needs it to turn e-mail addresses "
                                      f"into customer keys, and fetched nothing. {PII_KEY_HINT}", allow_retries=False)
        if len(self.key) < MIN_KEY_CHARACTERS:
            raise Failure(description=f"ECOM_PII_KEY is too short ({len(self.key)} characters, at least "
                                      f"{MIN_KEY_CHARACTERS} needed): customer keys could be guessed from known e-mail "
                                      f"addresses. {PII_KEY_HINT}", allow_retries=False)
        return self.key.encode()
