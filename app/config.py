"""Settings read from the environment (prefix UNDERSIGNED_)."""

import re
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNDERSIGNED_", extra="ignore")

    database_url: str = "sqlite:///./undersigned.db"
    # Accepted as an admin token when set; meant for bootstrap and tests.
    admin_token: SecretStr | None = None
    # Count JSON / badge: Cache-Control max-age in seconds.
    count_max_age: int = 10
    count_stale_if_error: int = 86400
    # Seconds a worker serves a letter's counts from memory before re-reading letter.revision;
    # must stay below count_max_age (responses carry Age so clients never exceed max-age).
    count_cache_ttl: float = 1.0
    # Public letter page: signatories per page (the PDF lists them all), and how long a rendered
    # page or widget may be served for one letter revision (organisation names in the reader's
    # language can change without the letter's revision moving: decision 0086).
    letter_page_size: int = 200
    page_render_max_age: float = 60.0
    # Widget: value of CSP frame-ancestors.
    embed_frame_ancestors: str = "*"
    # Public base URL used in links of the widget and embed.js; empty means "same origin".
    public_base_url: str = ""
    max_body_bytes: int = 10 * 1024 * 1024
    # Signs admin page sessions; set it when running several workers or hosts (otherwise it
    # is derived from UNDERSIGNED_ADMIN_TOKEN, or random per process).
    session_secret: SecretStr | None = None
    admin_session_hours: int = 8
    # PostgreSQL connections per worker process: pool + overflow, times workers, must stay
    # below the server's max_connections. A request that waits longer than the pool timeout
    # for a connection gets a 503 with Retry-After.
    # Kept open: a hot letter's 16 signers per worker reuse connections instead of opening
    # and closing overflow ones on every request. At most 30 in all, as before.
    db_pool_size: int = 20
    db_max_overflow: int = 10
    # Write requests (not GET/HEAD/OPTIONS) inside one worker at once; the rest wait in the
    # event loop (decision 0116). About what one worker's GIL keeps busy between database
    # round trips: more add waiting, not throughput.
    db_max_writing: int = Field(default=3, ge=1)
    db_pool_timeout: float = 30.0
    # Per client IP token buckets (requests per second, burst), per worker process: with N
    # workers a client gets up to N times these. Reads are GET/HEAD/OPTIONS, writes the rest.
    rate_limit_enabled: bool = True
    rate_limit_read_per_second: float = 50.0
    rate_limit_read_burst: int = 500
    rate_limit_write_per_second: float = 20.0
    rate_limit_write_burst: int = 200
    # Proxies whose X-Forwarded-For is trusted for the client IP (`undersigned serve`); empty
    # means none, so a client cannot dodge the rate limit by forging the header.
    forwarded_allow_ips: str = ""
    # A request is admitted (given a database connection) only once its whole body has arrived:
    # a body must arrive within this many seconds (else 408), and one client address (an IPv6
    # client's /64) may have at most this many bodies taking over a second to arrive (else 429).
    body_read_timeout: float = 30.0
    max_slow_uploads_per_ip: int = 10
    # uvicorn under `undersigned serve`: connections and requests at once beyond which a new
    # request gets 503 at once (keep it below the open-files limit), and seconds an idle
    # keep-alive connection stays open.
    limit_concurrency: int = 1000
    timeout_keep_alive: int = 5
    # Mark the admin page's cookies Secure even when a request reached the app over plain http:
    # behind a TLS-terminating proxy that is not in forwarded_allow_ips, the app cannot tell.
    secure_cookies: bool = False
    # Admin login: after this many failures from one address, each failure locks that address
    # out for twice as long as the previous one (1 s, 2 s, ... up to the maximum); the same over
    # all addresses together, with a lower cap so that a distributed guesser cannot lock the
    # admin out for long. Per worker process.
    login_free_failures: int = 5
    login_max_lockout: float = 900.0
    login_global_free_failures: int = 50
    login_global_max_lockout: float = 60.0
    # Organisations signing for themselves (app/selfsign, docs/decisions/0095): links in the
    # emails start with public_url; with no smtp_host, messages are written as .eml files to
    # mail_outbox (so that `make run` needs no mail server).
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 0  # 0: 465 for tls, 587 for starttls, 25 for none
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = 20.0
    mail_from: str = "Undersigned <undersigned@localhost>"
    mail_outbox: str = "./outbox"
    # A confirmation link works once, for this many hours.
    self_sign_token_hours: int = 48
    # Contact details are erased this many days after a letter closes (`undersigned purge`).
    self_sign_purge_days: int = 90
    # Sign requests per client address per hour, and per email address per day (beyond the
    # latter, requests are answered alike and dropped: the answer never says why).
    self_sign_per_ip_per_hour: int = 20
    self_sign_per_email_per_day: int = 3
    self_sign_max_body_bytes: int = 16_384
    log_level: str = "info"
    # New organisations are compared with hidden ones by a thread of each worker after the
    # response (app/resolution/checks.py); false leaves the rows queued for `checks.drain()`
    # (tests, which wipe tables between cases).
    identity_checks_in_background: bool = True
    # Keys public organisation ids (app/opendata/publicid.py, decision 0100); unset, a random
    # secret stored in the database by its migration.
    public_id_secret: SecretStr | None = None
    # `undersigned enrich`: the Wikidata API (a stub server in tests) and its timeout.
    wikidata_api_url: str = "https://www.wikidata.org/w/api.php"
    wikidata_timeout: float = 10.0
    # Webhooks (app/webhooks): allow http:// and loopback/private receivers (tests only), and
    # whether each worker process runs the delivery thread.
    webhook_allow_private: bool = False
    webhooks_in_background: bool = True
    # The machine's shared resolution index (app/resolution/snapshot.py, decision 0093): the
    # directory of its snapshot file (empty: next to a SQLite database, else the system's
    # temporary directory), and the registry size from which workers share one (below it,
    # each worker builds its own in-memory index as it always did; 0 always shares).
    resolution_index_dir: str = ""
    resolution_index_min: int = 20_000

    @field_validator("admin_token")
    @classmethod
    def _admin_token_strong(cls, value: SecretStr | None) -> SecretStr | None:
        # A short bootstrap token is guessable; refuse it rather than run with it.
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("UNDERSIGNED_ADMIN_TOKEN must be at least 16 characters")
        return value

    @field_validator("count_max_age")
    @classmethod
    def _max_age_positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("UNDERSIGNED_COUNT_MAX_AGE must be at least 1 second")
        return value

    @field_validator("count_cache_ttl")
    @classmethod
    def _ttl_range(cls, value: float) -> float:
        if not 0 <= value <= 60:
            raise ValueError("UNDERSIGNED_COUNT_CACHE_TTL must be between 0 and 60 seconds")
        return value

    @field_validator("embed_frame_ancestors")
    @classmethod
    def _frame_ancestors_safe(cls, value: str) -> str:
        # Goes verbatim into a CSP header: only source expressions, no directive separators.
        tokens = value.split()
        if not tokens or not all(
            t in ("'self'", "'none'") or re.fullmatch(r"[A-Za-z0-9*.:/_\-]+", t) for t in tokens
        ):
            raise ValueError(
                "UNDERSIGNED_EMBED_FRAME_ANCESTORS must be a CSP source list such as "
                "* or https://partner.example 'self'"
            )
        return " ".join(tokens)

    @field_validator(
        "max_body_bytes",
        "rate_limit_read_burst",
        "rate_limit_write_burst",
        "max_slow_uploads_per_ip",
        "limit_concurrency",
        "timeout_keep_alive",
        "login_free_failures",
        "login_global_free_failures",
        "letter_page_size",
    )
    @classmethod
    def _positive_int(cls, value: int) -> int:
        if value < 1:
            raise ValueError("limits must be at least 1")
        return value

    @field_validator(
        "rate_limit_read_per_second",
        "rate_limit_write_per_second",
        "body_read_timeout",
        "page_render_max_age",
        "login_max_lockout",
        "login_global_max_lockout",
    )
    @classmethod
    def _positive_rate(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("rates and durations must be greater than 0")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
