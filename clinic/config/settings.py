"""Deployment settings: ``settings.yml`` overridden by ``CLINIC_<KEY>`` environment variables.

Secrets (Twilio credentials, webhook secret) are read from the environment only.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from clinic.config.hosts import host_name
from clinic.config.private_files import private_folder
from clinic.knowledge.kb import PROJECT_ROOT

SETTINGS_FILE = PROJECT_ROOT / "settings.yml"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/clinic.db"
    tracker_store_url: str = "sqlite:///var/rasa_tracker.db"
    timezone: str = "America/Los_Angeles"
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "08:00"
    allowed_origins: str = "http://localhost:8000,http://127.0.0.1:8000"
    booking_webhook_url: str = ""
    twilio_from_number: str = ""
    twilio_api_base: str = ""
    twilio_webhook_public_url: str = ""
    sender_poll_seconds: float = 30.0
    retention_days: int = 90
    # Interface every server listens on; anything but loopback is an explicit choice.
    bind: str = "127.0.0.1"
    # Staff console (clinic.console): its own interface and port, never the public site's.
    console_bind: str = "127.0.0.1"
    console_port: float = 8001
    console_public_url: str = ""
    console_session_hours: float = 8.0
    console_lockout_attempts: float = 5
    console_lockout_minutes: float = 15
    audit_retention_days: float = 365
    rasa_url: str = "http://127.0.0.1:5005"
    # Several Rasa replicas: Redis shared by the socket.io channel (empty: one server).
    redis_url: str = ""
    # The clinic's CalDAV calendar (docs/appointments.md); password: CLINIC_CALDAV_PASSWORD.
    caldav_url: str = "http://127.0.0.1:5232/clinic/practitioner/"
    caldav_user: str = "clinic"
    caldav_timeout_seconds: float = 5.0
    # Host names the servers answer besides loopback ones and the hosts of the URLs above
    # (comma-separated, e.g. "assistant.example-clinic.com"); any other Host header is
    # refused (DNS rebinding).
    allowed_hosts: str = ""

    @property
    def host_names(self) -> frozenset[str]:
        """Every host name a request may carry in its ``Host`` header (besides loopback)."""
        names = {n.strip().lower() for n in self.allowed_hosts.split(",") if n.strip()}
        for url in (*self.origins, self.twilio_webhook_public_url, self.console_public_url,
                    self.rasa_url):
            if "://" in url:
                names.add(host_name(url.split("://", 1)[1].split("/", 1)[0]))
        for interface in (self.bind, self.console_bind):
            if interface not in ("0.0.0.0", "::", ""):
                names.add(host_name(interface))
        return frozenset(names - {""})

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def origins(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]

    @property
    def quiet_start(self) -> dt.time:
        return dt.time.fromisoformat(self.quiet_hours_start)

    @property
    def quiet_end(self) -> dt.time:
        return dt.time.fromisoformat(self.quiet_hours_end)

    @property
    def twilio_account_sid(self) -> str:
        return os.environ.get("TWILIO_ACCOUNT_SID", "")

    @property
    def twilio_auth_token(self) -> str:
        return os.environ.get("TWILIO_AUTH_TOKEN", "")

    @property
    def caldav_password(self) -> str:
        return os.environ.get("CLINIC_CALDAV_PASSWORD", "")

    @property
    def webhook_secret(self) -> str:
        return os.environ.get("CLINIC_BOOKING_WEBHOOK_SECRET", "")


def resolve_sqlite_url(url: str) -> str:
    """Make a relative SQLite path absolute from the project root (and create its folder)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        path = PROJECT_ROOT / url[len(prefix):]
        # The folder of the patient databases: the service's user only (clinic/config/private_files.py).
        private_folder(path.parent)
        return prefix + str(path)
    return url


def load_settings(path: Path | None = None) -> Settings:
    """Read settings.yml (if present) and apply CLINIC_* environment overrides."""
    path = path or SETTINGS_FILE
    values: dict[str, Any] = {}
    if path.is_file():
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = {f.name: f.type for f in fields(Settings)}
    result: dict[str, Any] = {}
    for name in known:
        value = os.environ.get(f"CLINIC_{name.upper()}", values.get(name))
        if value is None:
            continue
        if name == "retention_days":
            result[name] = int(value)
            if result[name] < 1:
                raise ValueError("retention_days must be 1 or more")
        elif known[name] == "float":
            result[name] = float(value)
        else:
            result[name] = str(value)
    settings = Settings(**result)
    return Settings(**{**settings.__dict__,
                       "database_url": resolve_sqlite_url(settings.database_url),
                       "tracker_store_url": resolve_sqlite_url(settings.tracker_store_url)})


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Settings of this process, read once."""
    return load_settings()
