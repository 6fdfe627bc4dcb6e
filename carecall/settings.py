"""carecall configuration: one validated `Settings` object, read from the environment or `.env`.

Everything configurable lives here and is passed in explicitly (constructor injection); no
other module reads `os.environ`. Secrets are `SecretStr`, so they never show up in logs or reprs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_SESSION_SECRET = "dev-only-change-me"
MIN_SESSION_SECRET_LENGTH = 32
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./carecall.db"


class MissingConfiguration(RuntimeError):
    """A feature was used whose environment variables are not set."""

    def __init__(self, feature: str, variables: list[str]) -> None:
        self.feature = feature
        self.variables = variables
        names = ", ".join(variables)
        super().__init__(f"{feature} is not configured: set {names} (see .env.example).")


WELLBEING_MEASURES = (
    "mood",
    "sleep",
    "eating",
    "pain",
    "medication",
    "social_contact",
    "loneliness",
    "mobility",
    "confusion",
)
"""The nine wellbeing measures a call's record rates, in the order they are shown. Defined here,
in the module everything may import, and nowhere else: ALERT_THRESHOLDS names them, the
record's schema and the people's words for each level follow them (`wellbeing.records`), and
the queries of trends read their columns by them (`persistence.alerts`)."""


def parse_thresholds(text: str) -> dict[str, int]:
    """`pain=2, confusion=2` → {"pain": 2, "confusion": 2}; ValueError saying what is wrong."""
    thresholds: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        measure, _, level = (s.strip() for s in part.partition("="))
        if measure not in WELLBEING_MEASURES:
            raise ValueError(
                f"ALERT_THRESHOLDS: '{measure}' is not a measure; use one of "
                + ", ".join(WELLBEING_MEASURES)
            )
        if level not in ("1", "2", "3"):
            raise ValueError(f"ALERT_THRESHOLDS: the level of {measure} must be 1, 2 or 3")
        thresholds[measure] = int(level)
    return thresholds


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass(frozen=True)
class ServiceChoice:
    """Which speech and language services calls use, resolved from `SERVICES` and the keys.

    ``speech`` is where speech-to-text and text-to-speech run: OpenAI (or the OpenAI-compatible
    server at OPENAI_BASE_URL), or this machine (Whisper and Piper, the `local` and `piper`
    extras). ``llm`` is the conversation model: ``"openai"`` (api.openai.com, or OPENAI_BASE_URL
    with the key), ``"compatible"`` (the OpenAI-compatible server at OPENAI_BASE_URL, such as
    Ollama, a llama.cpp server or vLLM; a key is optional), or ``None``: no language model, the
    bot follows a guided check-in script.
    """

    speech: Literal["openai", "local"]
    llm: Literal["openai", "compatible"] | None


class Settings(BaseSettings):
    """All of carecall's settings. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        # A refused value may be a secret: errors name the setting, never echo what was given.
        hide_input_in_errors=True,
    )

    # --- deployment -------------------------------------------------------------------------
    carecall_env: Literal["development", "production", "test"] = Field(
        default="development", description="`production` refuses insecure defaults at start."
    )
    log_level: str = "INFO"
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Comma-separated proxy addresses whose X-Forwarded-* headers are trusted.",
    )

    # --- the brief's variables ---------------------------------------------------------------
    openai_api_key: SecretStr | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_phone_number: str | None = None
    webhook_url: str | None = Field(
        default=None,
        description="Public https base URL Twilio reaches, e.g. https://calls.example.org",
    )
    database_url: str = DEFAULT_DATABASE_URL
    session_secret: SecretStr = SecretStr(DEFAULT_SESSION_SECRET)

    # --- several instances ---------------------------------------------------------------------
    redis_url: SecretStr | None = Field(
        default=None,
        description=(
            "Redis (redis://[:password@]host:6379/0): live call events are shared between "
            "instances, so every dashboard sees every call. Unset: one instance, events in-process."
        ),
    )
    redis_channel: str = Field(
        default="carecall:events",
        min_length=1,
        description="The pub/sub channel of this deployment (several may share one Redis).",
    )

    # --- which services ---------------------------------------------------------------------
    services: Literal["auto", "openai", "local"] = Field(
        default="auto",
        description=(
            "auto: OpenAI when OPENAI_API_KEY is set, else speech on this machine; "
            "openai: always OpenAI (needs the key); local: speech on this machine."
        ),
    )

    # --- service endpoints -------------------------------------------------------------------
    openai_base_url: str | None = Field(
        default=None, description="OpenAI-compatible API base (e.g. http://localhost:8000/v1)."
    )
    twilio_api_base_url: str | None = Field(
        default=None, description="Send Twilio REST calls here instead of https://api.twilio.com."
    )

    # --- models and voice --------------------------------------------------------------------
    stt_model: str = "whisper-1"
    llm_model: str = "gpt-4o"
    llm_temperature: float = 0.6
    tts_model: str = "gpt-4o-mini-tts"
    tts_voice: str = "sage"
    tts_instructions: str = "Speak warmly, calmly and a little slowly, like a kind neighbour."
    service_timeout_seconds: float = Field(
        default=8.0, description="Give up on one STT/LLM/TTS request after this long."
    )
    circuit_failure_threshold: int = Field(
        default=5, ge=1, description="Failures in a row that open a service's circuit."
    )
    circuit_cooldown_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How long an open circuit sends nothing to its service before one trial.",
    )
    reply_deadline_seconds: float = Field(
        default=2.5,
        ge=1.0,
        le=10.0,
        description="After the caller's turn, say the fallback line if nothing was said by then.",
    )
    hold_cue_seconds: float = Field(
        default=2.2,
        ge=0,
        le=10.0,
        description=(
            "If the answer hasn't started this long after the caller's last word (their turn "
            "over), a short 'Mm-hmm.' fills the silence and the answer follows. 0: never."
        ),
    )

    # --- who is calling ------------------------------------------------------------------------
    bot_name: str = "Sunny"
    organization_name: str = "your care team"
    agency_timezone: str = Field(
        default="UTC",
        description=(
            "The agency's own IANA time zone (e.g. America/Chicago): reports count days, weeks "
            "(from Monday) and months in it. People's calls keep their own zones."
        ),
    )

    # --- call timing ---------------------------------------------------------------------------
    ring_timeout_seconds: int = Field(default=30, ge=15, le=60)
    max_call_seconds: int = Field(default=900, ge=60)
    wrap_up_seconds: int = Field(default=60, ge=10)
    shutdown_grace_seconds: float = Field(
        default=120.0,
        ge=0,
        description=(
            "On SIGTERM, how long running calls may go on before the bot says goodbye and "
            "hangs up (the instance takes no new calls meanwhile)."
        ),
    )
    # --- turn-taking (README: "Turn-taking for older callers") -------------------------------
    vad_start_seconds: float = Field(
        default=0.12,
        ge=0.05,
        le=1.0,
        description=(
            "Speech that starts a stretch of it: the caller's turn when the bot is silent, or "
            "holding the bot's audio on the phone when it talks."
        ),
    )
    vad_stop_seconds: float = Field(
        default=0.25, ge=0.15, le=2.0, description="Silence that ends one stretch of speech."
    )
    turn_pause_complete_seconds: float = Field(
        default=0.4,
        ge=0.0,
        le=3.0,
        description="Further silence before the turn is over when the words are a finished answer.",
    )
    user_turn_pause_seconds: float = Field(
        default=0.8,
        ge=0.1,
        le=3.0,
        description="Further silence before the turn is over when the words can't tell.",
    )
    turn_pause_incomplete_seconds: float = Field(
        default=2.5,
        ge=0.2,
        le=6.0,
        description="Further silence before the turn is over when the words stop mid-clause.",
    )
    preemptive_replies: bool = Field(
        default=True,
        description=(
            "Prepare the answer while waiting to be sure the caller has finished (with a model)."
        ),
    )
    interrupt_after_seconds: float = Field(
        default=1.2,
        ge=0.2,
        le=3.0,
        description=(
            "Caller speech this long while the bot talks interrupts it at once; shorter speech "
            "interrupts unless it is a backchannel ('mm-hm', 'yes')."
        ),
    )
    idle_prompt_seconds: float = Field(
        default=7.0,
        ge=0.0,
        le=60.0,
        description=(
            "Silence from the caller before a gentle prompt; a second one asks whether they are "
            "still there, a third ends the call politely. 0: never."
        ),
    )
    handover_reassure_seconds: float = Field(
        default=10.0,
        ge=3.0,
        le=60.0,
        description=(
            "While a caregiver is being fetched to the phone (a warm hand-over), a silence this "
            "long is filled by the bot: that it is still trying, or the safety advice, in turn."
        ),
    )

    @model_validator(mode="after")
    def _turn_pauses_in_order(self) -> Settings:
        if not (
            self.turn_pause_complete_seconds
            <= self.user_turn_pause_seconds
            <= self.turn_pause_incomplete_seconds
        ):
            raise ValueError(
                "Turn pauses must grow from TURN_PAUSE_COMPLETE_SECONDS to USER_TURN_PAUSE_SECONDS "
                "to TURN_PAUSE_INCOMPLETE_SECONDS."
            )
        return self

    media_start_timeout_seconds: float = 10.0
    max_pending_media_streams: int = Field(
        default=100,
        ge=1,
        description=(
            "Media websockets that may wait for their `start` message at once (per process); "
            "more are closed with 1013, try again later."
        ),
    )
    api_rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description=(
            "API requests a minute per API key or operator session, per process (bursts up to "
            "this many); more get 429 with Retry-After. 0 turns the limit off."
        ),
    )

    transcript_retention_days: int = Field(
        default=0,
        ge=0,
        description=(
            "Delete call transcripts and recordings older than this many days (0: keep them). "
            "Calls, wellbeing records and alerts are kept."
        ),
    )
    recordings_path: str = Field(
        default="",
        description=(
            "Folder for call recordings (only of people whose consent includes recording and "
            "who have 'record calls' on). Empty: `recordings` beside the SQLite database file, "
            "else ./recordings."
        ),
    )
    recording_format: Literal["opus", "flac"] = Field(
        default="opus",
        description=(
            "How recordings are encoded: opus (Opus in Ogg, about 130 kB a minute) or flac "
            "(lossless, about 470 kB a minute, a twentieth of the CPU)."
        ),
    )
    session_idle_minutes: int = Field(
        default=480,
        ge=5,
        le=7 * 24 * 60,
        description=(
            "A dashboard sign-in ends after this many minutes without use (the operator signs "
            "in again). Signing out, a password change and deleting an operator end sessions "
            "at once."
        ),
    )
    red_flags: bool = Field(
        default=True,
        description=(
            "Listen for urgent signs in what the caller says (falls, chest pain, thoughts of "
            "self-harm…): the bot's reply addresses them and caregivers are alerted at once."
        ),
    )
    reconcile_calls: bool = Field(
        default=True,
        description=(
            "On start and every few minutes, close calls a stopped server left open, asking "
            "Twilio how they ended."
        ),
    )
    reconcile_grace_seconds: float = Field(
        default=120.0,
        ge=0,
        le=3600,
        description=(
            "Open calls younger than this are left to their own status callbacks by the "
            "reconciler (a call being placed right now has no Twilio SID yet)."
        ),
    )

    # --- extensions (README: "Extending") -----------------------------------------------------
    extensions: str = Field(
        default="",
        description=(
            "Comma-separated names of installed extensions whose processors join every call "
            "(entry point group carecall.processors), e.g. 'word-count'. Empty: none."
        ),
    )

    # --- the check-in program ------------------------------------------------------------------
    dispatcher_enabled: bool = Field(
        default=True,
        description=(
            "Run the check-in dispatcher in this server process (safe in every process: each "
            "check-in is claimed once in the database)."
        ),
    )
    dispatch_interval_seconds: float = Field(
        default=5.0, gt=0, le=300, description="How often the dispatcher looks for due work."
    )
    calls_per_second: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="Outbound calls per second, across every dispatcher (Twilio's default: 1).",
    )
    dispatch_batch_size: int = Field(
        default=20, ge=1, le=1000, description="Check-ins one dispatcher claims per round."
    )

    # --- wellbeing -------------------------------------------------------------------------------
    wellbeing_records: bool = Field(
        default=True,
        description=(
            "After each conversation, ask the language model for a wellbeing record and update "
            "the person's memory for their next call (needs a language model)."
        ),
    )
    record_worker_enabled: bool = Field(
        default=True,
        description=(
            "Make the queued wellbeing records in this server process (safe in every process: "
            "each is claimed once in the database)."
        ),
    )
    record_model: str | None = Field(
        default=None, description="The model that writes wellbeing records; LLM_MODEL if unset."
    )
    record_max_attempts: int = Field(
        default=5, ge=1, le=20, description="Tries at one call's record before it is failed."
    )
    trend_worse_calls: int = Field(
        default=3,
        ge=2,
        le=10,
        description=(
            "A trend alert is raised when a measure got worse over this many calls in a row "
            "(where it came up): never better from one call to the next, ending worse than it "
            "started and at 'poor' (2) or above (wellbeing.alerts)."
        ),
    )
    alert_threshold: int = Field(
        default=3,
        ge=1,
        le=3,
        description=(
            "A trend alert is raised when a measure reaches this level (0 good, 1 fair, 2 poor, "
            "3 concerning) from below it."
        ),
    )
    alert_thresholds: str = Field(
        default="",
        description=(
            "Per-measure thresholds instead of ALERT_THRESHOLD, e.g. 'pain=2,confusion=2' "
            f"(measures: {', '.join(WELLBEING_MEASURES)})."
        ),
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the usual URL spellings and pick the async driver for them."""
        for prefix, replacement in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgresql+psycopg2://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if value.startswith(prefix):
                return replacement + value[len(prefix) :]
        return value

    @field_validator("agency_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        value = value.strip()
        if value not in _zone_names():
            raise ValueError(
                "AGENCY_TIMEZONE must be an IANA time zone such as America/Chicago or "
                "Europe/London."
            )
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"AGENCY_TIMEZONE: {value} is not a known time zone.") from None
        return value

    @property
    def agency_zone(self) -> ZoneInfo:
        """`AGENCY_TIMEZONE` as a zone."""
        return ZoneInfo(self.agency_timezone)

    @field_validator("alert_thresholds")
    @classmethod
    def _thresholds(cls, value: str) -> str:
        parse_thresholds(value)
        return value.strip()

    def threshold_for(self, measure: str) -> int:
        """The level at which `measure` raises an alert (ALERT_THRESHOLDS, else
        ALERT_THRESHOLD)."""
        return parse_thresholds(self.alert_thresholds).get(measure, self.alert_threshold)

    @field_validator("webhook_url")
    @classmethod
    def _public_base(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("WEBHOOK_URL must be a full URL such as https://calls.example.org")
        return value

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.carecall_env == "production":
            secret = self.session_secret.get_secret_value()
            if secret == DEFAULT_SESSION_SECRET or len(secret) < MIN_SESSION_SECRET_LENGTH:
                raise ValueError(
                    "SESSION_SECRET must be set to a random value of at least 32 characters in "
                    'production, e.g. python -c "import secrets; print(secrets.token_urlsafe(48))"'
                )
            if self.webhook_url and not self.webhook_url.startswith("https://"):
                raise ValueError("WEBHOOK_URL must use https:// in production.")
        if self.wrap_up_seconds >= self.max_call_seconds:
            raise ValueError("WRAP_UP_SECONDS must be shorter than MAX_CALL_SECONDS.")
        return self

    # --- derived views ---------------------------------------------------------------------------

    @property
    def media_stream_url(self) -> str:
        """The wss:// URL Twilio opens for a call's audio, built from WEBHOOK_URL."""
        base = self.require_webhook_url()
        return "wss://" + base.split("://", 1)[1] + "/ws"

    def public_url(self, path: str) -> str:
        return self.require_webhook_url() + path

    def require_webhook_url(self) -> str:
        if not self.webhook_url:
            raise MissingConfiguration("Twilio webhooks", ["WEBHOOK_URL"])
        return self.webhook_url

    def session_secret_warning(self) -> str | None:
        """What is wrong with SESSION_SECRET outside production (where it is refused): the
        built-in default, or too short. None when it is fine."""
        secret = self.session_secret.get_secret_value()
        if secret == DEFAULT_SESSION_SECRET:
            problem = "SESSION_SECRET is the built-in default, which anyone can read in the source"
        elif len(secret) < MIN_SESSION_SECRET_LENGTH:
            problem = f"SESSION_SECRET is shorter than {MIN_SESSION_SECRET_LENGTH} characters"
        else:
            return None
        return (
            f"{problem}: sign-in cookies and call tokens could be forged. Set it to a random "
            f"value of at least {MIN_SESSION_SECRET_LENGTH} characters in .env (./scripts/run "
            'makes one on its first run), e.g. python -c "import secrets; '
            'print(secrets.token_urlsafe(48))". Production refuses to start without one.'
        )

    def missing_for_calls(self) -> list[str]:
        """Environment variables still needed before carecall can place a phone call.

        OPENAI_API_KEY is needed only when the services are OpenAI's (`SERVICES=openai`): by
        default a missing key means speech on this machine instead."""
        needed: dict[str, object] = {
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "TWILIO_PHONE_NUMBER": self.twilio_phone_number,
            "WEBHOOK_URL": self.webhook_url,
        }
        if self.service_choice.speech == "openai":
            needed["OPENAI_API_KEY"] = self.openai_api_key
        return [name for name, value in needed.items() if not value]

    @property
    def service_choice(self) -> ServiceChoice:
        """`SERVICES` resolved against the keys and endpoints that are set.

        * ``openai``, or ``auto`` with OPENAI_API_KEY: OpenAI speech-to-text, model and
          text-to-speech, all at OPENAI_BASE_URL when it is set (as before).
        * ``local``, or ``auto`` without a key: Whisper and Piper on this machine; the model is
          the OpenAI-compatible server at OPENAI_BASE_URL when set, else OpenAI's own when a key
          is set (``local`` only), else none (the guided check-in script).
        """
        if self.services == "openai" or (
            self.services == "auto" and self.openai_api_key is not None
        ):
            return ServiceChoice(speech="openai", llm="openai")
        if self.openai_base_url:
            return ServiceChoice(speech="local", llm="compatible")
        if self.openai_api_key is not None:
            return ServiceChoice(speech="local", llm="openai")
        return ServiceChoice(speech="local", llm=None)

    @property
    def trusted_proxies(self) -> list[str]:
        return [ip.strip() for ip in self.forwarded_allow_ips.split(",") if ip.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def recordings_dir(self) -> Path:
        """Where call recordings are kept: RECORDINGS_PATH, else `recordings` beside the SQLite
        database file (the database's own folder is where its data already lives), else the
        working directory's `recordings`."""
        if self.recordings_path.strip():
            return Path(self.recordings_path.strip()).expanduser()
        if self.is_sqlite:
            database = make_url(self.database_url).database
            if database and database != ":memory:" and not database.startswith("file:"):
                return Path(database).expanduser().parent / "recordings"
        return Path("recordings")
