"""Settings read from the environment (prefix UNDERSIGNED_)."""

from functools import lru_cache

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNDERSIGNED_", extra="ignore")

    database_url: str = "sqlite:///./undersigned.db"
    # Accepted as an admin token when set; meant for bootstrap and tests.
    admin_token: SecretStr | None = None
    # Count JSON / badge: Cache-Control max-age in seconds.
    count_max_age: int = 10
    count_stale_if_error: int = 86400
    # Widget: value of CSP frame-ancestors.
    embed_frame_ancestors: str = "*"
    # Public base URL used in links of the widget and embed.js; empty means "same origin".
    public_base_url: str = ""
    max_body_bytes: int = 10 * 1024 * 1024
    # Signs admin page sessions; set it when running several workers or hosts (otherwise it
    # is derived from UNDERSIGNED_ADMIN_TOKEN, or random per process).
    session_secret: SecretStr | None = None
    admin_session_hours: int = 8
    log_level: str = "info"

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

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
