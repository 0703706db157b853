"""One settings object for the whole platform.

Values come from the environment with the ``FELLESDRIFT_`` prefix (or a ``.env`` file). Every
secret can instead be read from a file named by ``FELLESDRIFT_<NAME>_FILE``, the way container
secrets and systemd credentials are handed over. Outside demo mode the platform refuses to start
with a missing or placeholder secret.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "FELLESDRIFT_"
SECRET_FIELDS = ("secret_key", "smtp_password", "alertmanager_webhook_token")
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "changethis", "secret", "password", "demo", "xxx", "todo"}
)
MIN_SECRET_LENGTH = 32


class SettingsError(ValueError):
    """A settings value is missing, malformed or unsafe; the message names the variable."""


class _FileSecretsSource(PydanticBaseSettingsSource):
    """Reads ``FELLESDRIFT_<FIELD>_FILE`` for each secret field."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        path = os.environ.get(f"{ENV_PREFIX}{field_name.upper()}_FILE")
        if not path or field_name not in SECRET_FIELDS:
            return None, field_name, False
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            variable = f"{ENV_PREFIX}{field_name.upper()}_FILE"
            raise SettingsError(
                f"{variable}={path!r}: cannot read the file ({exc.strerror})"
            ) from exc
        return value, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, info in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(info, name)
            if value is not None:
                found[key] = value
        return found


class Settings(BaseSettings):
    """Platform settings. See README.md, "Configuration", for every variable."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", validate_default=True
    )

    demo_mode: bool = False
    database_url: str = "sqlite:///./var/fellesdrift.kernel.db"
    data_dir: Path = Path("./var")
    secret_key: SecretStr = SecretStr("")
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    #: Addresses (or networks) of reverse proxies whose X-Forwarded-For/-Proto are believed;
    #: empty: none, the peer address and scheme are the connection's own.
    trusted_proxies: str = ""
    port: int = Field(default=8000, ge=1, le=65535)
    cookie_secure: bool | None = None
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    default_language: str = "nb"
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_seconds: int = Field(default=60, ge=1)
    login_lockout_max_seconds: int = Field(default=3600, ge=1)
    page_size_max: int = Field(default=200, ge=1, le=1000)
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    log_level: str = "INFO"
    # Service desk policy
    ticket_reopen_working_days: int = Field(default=10, ge=0, le=365)
    ticket_autoclose_working_days: int = Field(default=5, ge=1, le=365)
    # Outgoing e-mail (notifications stay in the outbox until SMTP is configured)
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "fellesdrift <noreply@fellesdrift.invalid>"
    # Background jobs (outbox, auto-close) inside the web app; None: only in demo mode.
    run_jobs: bool | None = None
    # Alertmanager: the webhook's bearer token (empty: the webhook is off), and the API the
    # reconciliation job reads (empty: no reconciliation); see servicedesk/alerts/.
    alertmanager_webhook_token: SecretStr = SecretStr("")
    alertmanager_url: str = ""
    alert_reconcile_grace_seconds: int = Field(default=300, ge=0, le=86400)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSecretsSource(settings_cls), dotenv_settings)

    @field_validator("default_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in ("nb", "en"):
            raise ValueError(f"unknown language {value!r}; use 'nb' or 'en'")
        return value

    @field_validator("alertmanager_webhook_token")
    @classmethod
    def _strong_webhook_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if token and (token.lower() in PLACEHOLDER_SECRETS or len(token) < MIN_SECRET_LENGTH):
            raise ValueError(
                f"a placeholder or shorter than {MIN_SECRET_LENGTH} characters; use a random "
                "value, e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return value

    @field_validator("alertmanager_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("use http(s)://host:9093, the address of Alertmanager's web API")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        import ipaddress

        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network; list the proxies' addresses, "
                    "e.g. 127.0.0.1,10.0.0.0/24"
                ) from None
        return ",".join(items)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError(
                f"unsupported database URL scheme in {value.split(':', 1)[0]!r}; "
                "use sqlite:///path or postgresql+psycopg://user:pass@host/db"
            )
        if value.startswith("postgresql:"):
            value = "postgresql+psycopg:" + value[len("postgresql:") :]
        return value

    @model_validator(mode="after")
    def _secrets_are_real(self) -> Settings:
        key = self.secret_key.get_secret_value()
        unsafe = key.lower() in PLACEHOLDER_SECRETS or len(key) < MIN_SECRET_LENGTH
        if unsafe and not self.demo_mode:
            raise ValueError(
                f"{ENV_PREFIX}SECRET_KEY is missing or a placeholder; set it (or "
                f"{ENV_PREFIX}SECRET_KEY_FILE) to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters, e.g. `python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`"
            )
        if unsafe:
            self.secret_key = SecretStr(_demo_secret(self.data_dir))
        return self

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.base_url.startswith("https://")

    @property
    def run_jobs_in_app(self) -> bool:
        """Whether the web app runs the background jobs itself (else `fellesdrift jobs run`)."""
        return self.demo_mode if self.run_jobs is None else self.run_jobs

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _demo_secret(data_dir: Path) -> str:
    """A random secret kept under the data folder, so demo sessions survive a restart."""
    path = data_dir / ".demo-secret"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value, encoding="utf-8")
        path.chmod(0o600)
        return value


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning pydantic's errors into one message that names each variable."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            variable = f"{ENV_PREFIX}{field.upper()}" if field != "settings" else "settings"
            value = err.get("input")
            hidden = "secret" in field or field in SECRET_FIELDS or isinstance(value, dict)
            shown = "" if hidden else f"={value!r}"
            lines.append(f"{variable}{shown}: {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
