"""Log hygiene: no query strings, tokens or exception messages (they may carry names) in logs.

A `?name=` query may name an anonymous signer, and a database error message may quote the row
it failed on. So access lines keep the path only, unhandled errors are logged as exception
types and code locations without their messages, and anything shaped like a token is masked.
"""

import logging
import re
import traceback
from typing import Any

# `Bearer <anything>`, minted tokens (`us_` + urlsafe base64), Authorization header dumps and
# the emailed links of self-signatures (app/selfsign: the token is a path segment).
_SECRETS = re.compile(
    r"(?i)(bearer\s+)\S+|\bus_[A-Za-z0-9_\-]{8,}|(authorization['\"]?\s*[:=,]\s*['\"]?)[^'\"\s,}]+"
    r"|(/sign-requests/(?:confirm|manage)/)[^/?\s'\"]+"
)


def redact(text: str) -> str:
    return _SECRETS.sub(
        lambda m: (m.group(1) or m.group(2) or m.group(3) or "") + "[redacted]", text
    )


def strip_query(target: str) -> str:
    return redact(target.split("?", 1)[0])


class AccessLogFilter(logging.Filter):
    """uvicorn.access records carry (client, method, path?query, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (args[0], args[1], strip_query(args[2]), *args[3:])
        return True


class RedactingFilter(logging.Filter):
    """Masks token-shaped strings in any record's message (last line of defence)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_filters() -> None:
    """Attach the filters to uvicorn's loggers, however the server was started."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogFilter) for f in access.filters):
        access.addFilter(AccessLogFilter())
    for name in ("uvicorn.access", "uvicorn.error", "undersigned", "sqlalchemy"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())


def log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's log_config for `undersigned serve`: its format, with our filters on handlers."""
    filters = {
        "access": {"()": "app.security.logs.AccessLogFilter"},
        "redact": {"()": "app.security.logs.RedactingFilter"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": filters,
        "formatters": {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(name)s: %(message)s",
                "use_colors": None,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
        },
        "handlers": {
            "default": {
                "formatter": "default",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["redact"],
            },
            "access": {
                "formatter": "access",
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "filters": ["access", "redact"],
            },
        },
        "loggers": {
            "": {"handlers": ["default"], "level": level.upper()},
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def describe_exception(exc: BaseException) -> str:
    """Exception types and code locations of the whole chain, never the messages."""
    lines: list[str] = []
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        lines.append(f"{kind.__module__}.{kind.__qualname__} (message withheld)")
        for frame in traceback.extract_tb(current.__traceback__):
            lines.append(f"  at {frame.filename}:{frame.lineno} in {frame.name}")
        current = current.__cause__ or current.__context__
    return "\n".join(lines)
