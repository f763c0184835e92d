"""`igctl.yaml`, typed. Every setting has a default; unknown keys are errors.

The commented template in workspace-template/igctl.yaml documents the same settings; a test
checks that the two agree.
"""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

STEP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name


def check_step_names(steps: list[str]) -> list[str]:
    """Step names (a warm-up plan, a model's onboarding): lower-case letters, digits and _,
    each at most once."""
    for step in steps:
        if not STEP_NAME.match(step):
            raise ValueError(f"step name {step!r} must be lower-case letters, digits and _")
    if len(set(steps)) != len(steps):
        raise ValueError("a step may appear only once")
    return steps


def check_active_hours(value: str | None) -> str | None:
    if value is None:
        return None
    m = HOURS.match(value.strip())
    if not m:
        raise ValueError('expected "HH:MM-HH:MM", e.g. "10:00-22:00"')
    start = int(m.group(1)) * 60 + int(m.group(2))
    end = int(m.group(3)) * 60 + int(m.group(4))
    if end > 24 * 60 or end <= start:
        raise ValueError("the end of active hours must come after the start, within one day")
    return value.strip()


class Cooldown(Strict):
    min_hours: float = Field(gt=0)
    max_hours: float = Field(gt=0)

    @model_validator(mode="after")
    def _order(self) -> Cooldown:
        if self.max_hours < self.min_hours:
            raise ValueError("max_hours must be at least min_hours")
        return self


DEFAULT_STEPS = ["change_pfp", "change_bio", "post_highlight", "post_story", "post_post"]


class WarmupSettings(Strict):
    steps: list[str] = Field(default_factory=lambda: list(DEFAULT_STEPS), min_length=1)
    spacing: Literal["calendar_day"] | Cooldown = "calendar_day"
    active_hours: str | None = None
    max_starts_per_day: int | None = Field(default=None, ge=0)
    retry_backoff_minutes: float = Field(default=30, gt=0)
    max_attempts: int = Field(default=3, ge=1)

    _steps = field_validator("steps")(classmethod(lambda cls, v: check_step_names(v)))

    _hours = field_validator("active_hours")(classmethod(lambda cls, v: check_active_hours(v)))


class BotSettings(Strict):
    lease_minutes: float = Field(default=20, gt=0)
    offline_after_minutes: float = Field(default=10, gt=0)


class ScheduleSettings(Strict):
    grace_hours: float = Field(default=6, ge=0)


class ServerSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=1, le=65535)
    threads: int = Field(default=16, ge=1, le=256)
    max_body_mb: float = Field(default=10, gt=0)


class ImportSettings(Strict):
    max_file_mb: float = Field(default=200, gt=0)
    max_line_chars: int = Field(default=4096, ge=80)


class WatchSettings(Strict):
    settle_seconds: float = Field(default=1, ge=0)
    scan_interval_seconds: float = Field(default=10, gt=0)


class ProxySettings(Strict):
    default_max_accounts: int = Field(default=3, ge=1, le=3)
    check_url: str = "https://api.ipify.org?format=json"
    test_timeout_seconds: float = Field(default=10, gt=0, le=300)
    error_accounts_threshold: int = Field(default=2, ge=1)
    # proxy health (engine/proxy_health.py, docs/proxy-operations.md)
    fail_threshold: int = Field(default=3, ge=1)
    auto_recover: bool = False
    test_every_hours: float | None = Field(default=None, gt=0)
    test_concurrency: int = Field(default=16, ge=1, le=256)
    ca_file: str | None = None

    @field_validator("check_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL, e.g. https://api.ipify.org?format=json")
        try:
            _ = parts.port  # reading it checks it
        except ValueError:
            raise ValueError("the URL's port is not a number from 1 to 65535") from None
        return value


class DashboardSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8701, ge=1, le=65535)


class Config(Strict):
    timezone: str = "UTC"
    warmup: WarmupSettings = Field(default_factory=WarmupSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    import_: ImportSettings = Field(default_factory=ImportSettings, alias="import")
    watch: WatchSettings = Field(default_factory=WatchSettings)
    proxies: ProxySettings = Field(default_factory=ProxySettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)

    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
