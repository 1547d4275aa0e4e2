"""Transport-level protection shared by every route: limits, headers, log hygiene."""

from fastapi import FastAPI

from app.config import Settings
from app.security.headers import SecurityHeadersMiddleware
from app.security.limits import AdmissionMiddleware, BodyLimitMiddleware, RateLimitMiddleware
from app.security.logs import ErrorShieldMiddleware, install_log_filters


def install(app: FastAPI, *, settings: Settings) -> None:
    """Wrap the app. Middleware added last runs first: headers go on every answer (429, 413 and
    500 included), rejected requests never wait for admission."""
    install_log_filters()
    app.add_middleware(
        AdmissionMiddleware, max_in_flight=settings.db_pool_size + settings.db_max_overflow
    )
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.rate_limit_enabled:
        app.add_middleware(
            RateLimitMiddleware,
            read_rate=settings.rate_limit_read_per_second,
            read_burst=settings.rate_limit_read_burst,
            write_rate=settings.rate_limit_write_per_second,
            write_burst=settings.rate_limit_write_burst,
        )
    app.add_middleware(ErrorShieldMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=_docs_paths(app))


def _docs_paths(app: FastAPI) -> frozenset[str]:
    paths = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    return frozenset(p for p in paths if p)
