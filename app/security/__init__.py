"""Transport-level protection shared by every route: limits, headers, log hygiene."""

from typing import Any

from fastapi import FastAPI

from app.config import Settings
from app.security.limits import (
    AdmissionMiddleware,
    FailureThrottle,
    RateLimits,
    RequestBodyMiddleware,
)
from app.security.logs import install_log_filters, log_config
from app.security.middleware import FromMemory, SecurityMiddleware


def install(app: FastAPI, *, settings: Settings, from_memory: FromMemory | None = None) -> None:
    """Wrap the app. Middleware added last runs first: the security middleware (rate limits,
    answers from memory, error shield, headers on every answer: 429, 413 and 500 included),
    then the body reader, then admission, so that rejected requests and answers from memory
    never wait for admission, and a request is admitted only once its body has arrived."""
    install_log_filters()
    app.add_middleware(
        AdmissionMiddleware,
        max_in_flight=settings.db_pool_size + settings.db_max_overflow,
        max_writing=settings.db_max_writing,
    )
    app.add_middleware(
        RequestBodyMiddleware,
        max_body_bytes=settings.max_body_bytes,
        read_timeout=settings.body_read_timeout,
        max_slow_per_client=settings.max_slow_uploads_per_ip,
    )
    limits = None
    if settings.rate_limit_enabled:
        limits = RateLimits(
            read_rate=settings.rate_limit_read_per_second,
            read_burst=settings.rate_limit_read_burst,
            write_rate=settings.rate_limit_write_per_second,
            write_burst=settings.rate_limit_write_burst,
        )
    app.add_middleware(
        SecurityMiddleware,
        limits=limits,
        docs_paths=_docs_paths(app),
        from_memory=from_memory,
    )
    app.state.login_throttle = FailureThrottle(
        free=settings.login_free_failures,
        max_lockout=settings.login_max_lockout,
        global_free=settings.login_global_free_failures,
        global_max_lockout=settings.login_global_max_lockout,
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's settings for `undersigned serve` (docs/deployment.md explains each)."""
    return {
        "log_level": settings.log_level,
        "log_config": log_config(settings.log_level),
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
        "limit_concurrency": settings.limit_concurrency,
        "timeout_keep_alive": settings.timeout_keep_alive,
        "server_header": False,
    }


def _docs_paths(app: FastAPI) -> frozenset[str]:
    paths = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    return frozenset(p for p in paths if p)
