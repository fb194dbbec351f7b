"""Node settings: the only reader of configuration files and the environment.

Layering, lowest first: the defaults below (mirrored, with comments, in
``config/node.example.toml``), then a TOML file given with ``--config``, then
``TRUSTDESK_*`` environment variables. The result is a frozen value handed to
``create_app``; nothing else in the code base reads ``os.environ`` or a config file,
so several nodes with different settings can run in one process (tests do).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV_PREFIX = "TRUSTDESK_"


class SettingsError(ValueError):
    """A setting could not be read or has an impossible value."""


# Numbers no node could run with at zero or below.
_POSITIVE = (
    "session_lifetime_minutes",
    "token_default_days",
    "password_time_cost",
    "password_memory_kib",
    "login_max_failures",
    "login_lockout_minutes",
    "page_size_default",
    "page_size_max",
    "federation_timeout_seconds",
    "inbox_timeout_ms",
    "inbox_stream_seconds",
    "inbox_streams_per_process",
    "server_threads",
    "federation_retention_days",
)


@dataclasses.dataclass(frozen=True)
class Settings:
    node_name: str = "trustdesk"
    # Public base URL of this node; federation rebuilds signed target URIs from it.
    public_url: str = "http://127.0.0.1:5000"
    data_dir: str = "var"
    # Empty means SQLite at <data_dir>/node.db.
    database_url: str = ""
    # Owner connection used by `trustdesk db upgrade`; empty means database_url.
    migration_database_url: str = ""
    # PostgreSQL role the node connects as; migrations grant it what it needs.
    database_app_role: str = "trustdesk_app"
    # Its password, set by `db upgrade` (empty: none, for trust or peer authentication).
    database_app_password: str = ""
    # Empty means jobs run in-process (the embedded default).
    redis_url: str = ""
    # Empty means a random key persisted in <data_dir>/secret_key.
    secret_key: str = ""
    max_content_length: int = 1_048_576
    session_cookie_secure: bool = False
    session_lifetime_minutes: int = 480
    token_default_days: int = 90
    # argon2id cost; lowered only in tests.
    password_time_cost: int = 3
    password_memory_kib: int = 65_536
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    # Outbound federation calls: http only when allowed (development on loopback), and
    # private, loopback or link-local peer addresses only when allowed.
    federation_allow_http: bool = False
    federation_allow_private: bool = False
    federation_timeout_seconds: int = 5
    # Each trusting node's share of a cross-account inbox page: a node slower than this
    # is shown as unreachable, and the page is served without it.
    inbox_timeout_ms: int = 2000
    # A live inbox stream ends after this long and the browser reconnects, so a person's
    # access (teams, trusts) is checked again at least this often.
    inbox_stream_seconds: int = 300
    # Live streams one server process serves at once; each holds one of its threads for
    # its whole life, so they must leave some for every other call (a stream past this
    # is answered 503 with Retry-After, and the portal refreshes the inbox instead).
    inbox_streams_per_process: int = 24
    # Threads of each gunicorn worker (`trustdesk serve`): calls in flight, streams included.
    server_threads: int = 32
    # How often the SLA sweep re-checks every open request; 0 turns it off.
    sla_sweep_seconds: int = 60
    # How often the outbox re-sends pending messages whose delivery job was lost; 0: off.
    outbox_sweep_seconds: int = 60
    # How often each account signs its audit chain head and sends it to its peers; 0: never.
    audit_witness_seconds: int = 3600
    # Delivered or given-up federation messages, and ids of notices received, are deleted
    # this many days after (trust.retention), by a job this often; 0: never.
    federation_retention_days: int = 30
    federation_prune_seconds: int = 3600
    page_size_default: int = 25
    page_size_max: int = 200
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        for name in _POSITIVE:
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in (
            "sla_sweep_seconds",
            "outbox_sweep_seconds",
            "audit_witness_seconds",
            "federation_prune_seconds",
            "max_content_length",
        ):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be 0 or more, not {getattr(self, name)}")
        if self.inbox_streams_per_process >= self.server_threads:
            raise SettingsError(
                f"inbox_streams_per_process ({self.inbox_streams_per_process}) must be fewer "
                f"than server_threads ({self.server_threads}): streams would take every "
                "thread and leave none for other calls"
            )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir).resolve() / 'node.db'}"

    @property
    def effective_migration_url(self) -> str:
        return self.migration_database_url or self.effective_database_url

    @property
    def is_postgresql(self) -> bool:
        return self.effective_database_url.startswith("postgresql")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def example_config_path() -> Path:
    return Path(__file__).resolve().parent.parent / "config" / "node.example.toml"


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from the example file, an optional file, the environment, overrides."""
    values: dict[str, Any] = {}
    example = example_config_path()
    if example.exists():
        values.update(_read_toml(example))
    if config_file:
        values.update(_read_toml(Path(config_file)))
    env = os.environ if environ is None else environ
    for field in dataclasses.fields(Settings):
        raw = env.get(ENV_PREFIX + field.name.upper())
        if raw is not None:
            values[field.name] = _coerce(field, raw)
    values.update(overrides)
    return Settings(**values)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise SettingsError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from exc
    node = data.get("node", data)
    known = {field.name: field for field in dataclasses.fields(Settings)}
    unknown = sorted(set(node) - set(known))
    if unknown:
        raise SettingsError(f"{path}: unknown settings {', '.join(unknown)}")
    for name, value in node.items():
        expected = _field_type(known[name])
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise SettingsError(f"{path}: {name} must be {expected.__name__}")
    return dict(node)


def _field_type(field: dataclasses.Field[Any]) -> type:
    return {"str": str, "int": int, "bool": bool}[str(field.type)]


def _coerce(field: dataclasses.Field[Any], raw: str) -> Any:
    kind = _field_type(field)
    name = ENV_PREFIX + field.name.upper()
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"{name} must be true or false, not {raw!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"{name} must be an integer, not {raw!r}") from exc
    return raw
