"""Service settings: one validated object, built once by the composition root.

Values come from environment variables prefixed ``AUTODIALER_`` (``AUTODIALER_DATABASE_URL`` …) or from keyword
arguments in tests. Nothing here is read at import time; call :func:`load_settings`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic_settings
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from autodialer import log_config, settings_check
from autodialer.adapters.phone_numbering import PhoneNumbering
from autodialer.domain.call_hours import WeeklyHours, parse_call_window_setting

log = logging.getLogger(__name__)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTODIALER_", extra="forbid")

    environment: Literal["dev", "test", "production"] = "dev"
    data_dir: Path = Path("./var")
    # Empty means SQLite (WAL) at <data_dir>/autodialer.sqlite3.
    database_url: str = ""

    # --- HTTP API
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)
    # Requests from these peer addresses skip authentication (MikoPBX: 127.0.0.1; 2025+ also ::1).
    auth_exempt_addresses: list[str] = ["127.0.0.1", "::1"]
    # Reverse proxies whose X-Forwarded-For names the client (addresses or networks). Empty: the peer address is
    # the client, whatever a request's headers say (uvicorn's FORWARDED_ALLOW_IPS is not used).
    trusted_proxies: list[str] = []
    admin_login: str = "admin"
    # Plain password to seed the stored hash on start-up when none is stored yet (dev convenience);
    # `autodialer admin set-password` is the production way.
    admin_password: str = ""
    session_lifetime_s: int = Field(default=3600, ge=60)
    jwt_secret: str = ""
    jwt_lifetime_s: int = Field(default=900, ge=60)
    login_failures_per_window: int = Field(default=10, ge=1)
    login_failure_window_s: int = Field(default=300, ge=1)
    # Request body limits, enforced while a body arrives (413 beyond): POST/PUT /task (number lists, decoded with
    # bounded memory) and every other JSON body. Uploads: audio_max_bytes.
    max_task_body_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_json_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    # --- MikoPBX compatibility
    pbx_timezone: str = "Europe/Moscow"
    def_dial_prefix: str = ""
    results_page_limit: int = Field(default=10000, ge=1)
    max_count_channels_ceiling: int = Field(default=100, ge=1)

    # --- compliance (docs/call-windows.md)
    # Calling hours in the callee's local time for every task and campaign without hours of their own (v1 tasks
    # included), e.g. "09:00-21:00" or "09:00-21:00; sat,sun 10:00-20:00". Empty or "off": no window (as before).
    call_window: str = ""
    # Where a number without a country code is read (ISO 3166 alpha-2): "8 952 223-34-46" is +79522233446 in RU.
    default_region: str = "RU"
    # A numbering-plan table (file path): E.164 ranges and their zones, e.g. written from Rossvyaz's DEF registry
    # (docs/call-windows.md). Read once at start-up (bootstrap); a number in a range gets that one zone, unless its
    # tz param says otherwise. Empty: no table (libphonenumber's zones: 26 candidates for a Russian mobile).
    numbering_plan: str = ""

    # --- audio and TTS
    audio_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    tts_engine: Literal["espeak-ng"] = "espeak-ng"
    tts_default_lang: str = "ru-RU"
    # Where Asterisk finds prompts: a directory it reads (same host or shared mount) or an http base URL.
    prompt_delivery: Literal["files", "http"] = "files"
    prompt_http_base_url: str = ""

    # --- Asterisk
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_username: str = "dialer"
    ami_secret: str = "dialerpass"  # noqa: S105 - the lab default, refused in production
    ami_ping_interval_s: float = Field(default=5.0, gt=0)
    ami_trace: bool = False  # log every AMI message (secrets redacted) on autodialer.ami.wire, without needing -v
    fastagi_host: str = "127.0.0.1"
    fastagi_port: int = Field(default=4573, ge=0, le=65535)
    outgoing_context: str = "dialer-out"
    connect_context: str = "dialer-connect"
    internal_context: str = "internal"
    originate_timeout_s: int = Field(default=30, ge=5, le=600)
    # Originates per second sent to the PBX at most; after a rest a quarter second's worth may go at once. Asterisk
    # answers one AMI session's actions in order, so a burst of thousands (thousands of agents free at once) queues
    # every other action behind it there; real Asterisk 22 takes ~850 Local-channel Originates/s on 2 vCPUs, and a
    # SIP provider may allow fewer calls per second than that.
    originate_rate: float = Field(default=200.0, gt=0, le=10000)
    originate_caller_id: str = "Dialer"
    # How long the employee / queue is rung once the customer answered (MikoPBX: 60 s).
    agent_dial_timeout_s: int = Field(default=60, ge=5, le=600)
    # False: extensions are dialed through the internal context too (MikoPBX forwarding rules apply).
    dial_extensions_directly: bool = True

    # --- dialer engine
    # False: API only (no AMI, no FastAGI, no calls), e.g. a read-only replica.
    dialer_enabled: bool = True
    # Processes serving the public REST API beside the dialer's. 1: the API runs in its own worker process (lower CPU
    # priority), so heavy API traffic cannot slow dialing; 0: one process for both (as before). Ignored when
    # dialer_enabled is false (the API alone, in one process). ARCHITECTURE.md, "Processes".
    api_workers: int = Field(default=1, ge=0, le=1)
    # Overrides of the default retry policy, e.g. {"customer_busy": {"delay_s": 600, "max_retries": 1}};
    # classes: customer_busy, customer_no_answer, customer_congestion, agent_busy, originate_rejected.
    retry_policy: dict[str, dict[str, int | float]] = Field(
        default={}, examples=[{"customer_busy": {"delay_s": 600, "max_retries": 1}}]
    )
    watchdog_interval_s: float = Field(default=30.0, gt=0)
    max_call_s: float = Field(default=4 * 3600.0, gt=0)
    # How often the PBX's AstDB answer marks are read for those of ended calls, which later FastAGI sessions then
    # delete (services/stale_marks.py, docs/dialplan.md).
    answer_mark_sweep_interval_s: float = Field(default=600.0, gt=0)

    # --- logging (log_config.py): per-logger levels over the defaults, e.g.
    # "autodialer.services.dialer_engine=DEBUG,sqlalchemy.engine=INFO"; AMI_TRACE above has its own switch.
    log_levels: str = ""

    @field_validator("log_levels")
    @classmethod
    def _known_levels(cls, value: str) -> str:
        log_config.parse_levels(value)
        return value

    @field_validator("auth_exempt_addresses", "trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError as e:
                raise ValueError(f"must be IP addresses or networks (like 10.0.0.0/8), got {entry!r}") from e
        return value

    @field_validator("pbx_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"pbx_timezone: unknown IANA time zone {value!r}") from e
        return value

    @field_validator("call_window")
    @classmethod
    def _call_hours_format(cls, value: str) -> str:
        parse_call_window_setting(value, "call_window")
        return value

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        return PhoneNumbering(value, "default_region").default_region

    @property
    def call_hours(self) -> WeeklyHours | None:
        """The global call window (``call_window``) parsed; None: no window."""
        return parse_call_window_setting(self.call_window, "call_window")

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        problems = []
        if self.environment == "production":
            if not self.jwt_secret or len(self.jwt_secret) < 32:
                problems.append("jwt_secret: must be set to at least 32 characters in production")
            if self.ami_secret == "dialerpass":  # noqa: S105
                problems.append("ami_secret: the lab default must not be used in production")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'autodialer.sqlite3').resolve()}"

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"

    @property
    def tts_cache_dir(self) -> Path:
        return self.data_dir / "tts"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (tests, CLI flags) on top.

    Raises settings_check.SettingsError with one line per bad setting (the variable, the rule); logs a warning for
    each ``AUTODIALER_*`` variable that is no setting, naming the nearest known one.
    """
    for warning in settings_check.unknown_names(os.environ, Settings):
        log.warning("%s", warning)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        raise settings_check.SettingsError(settings_check.explain(e, Settings, overrides)) from None
    except pydantic_settings.SettingsError as e:
        raise settings_check.SettingsError(settings_check.explain_parse_failure(e, Settings)) from None
