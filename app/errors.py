"""Domain errors carry their own HTTP status and render as {"error", "detail", "field"}."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from app import db

logger = logging.getLogger("undersigned.errors")


class AppError(Exception):
    status_code = 400
    error = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        error: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.headers = headers
        # More members of the error body (e.g. an import's plan), after the three standard ones.
        self.extra = extra or {}
        if error is not None:
            self.error = error


class BadRequest(AppError):
    status_code = 400
    error = "bad_request"


class Unauthorized(AppError):
    status_code = 401
    error = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    error = "forbidden"


class NotFound(AppError):
    status_code = 404
    error = "not_found"


class Conflict(AppError):
    status_code = 409
    error = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    error = "payload_too_large"


class UnsupportedMediaType(AppError):
    status_code = 415
    error = "unsupported_media_type"


class TooManyRequests(AppError):
    status_code = 429
    error = "rate_limited"


def error_body(error: str, detail: str, field: str | None) -> dict[str, Any]:
    return {"error": error, "detail": detail, "field": field}


def _field_path(loc: tuple[Any, ...]) -> str | None:
    # FastAPI prefixes locations with "body"/"query"/"path"; the caller cares about the field.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def register_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            exc.extra | error_body(exc.error, exc.detail, exc.field),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = tuple(first.get("loc", ()))
        malformed = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if malformed is not None:
            # The decoder's reason names a position, never the content.
            reason = str((malformed.get("ctx") or {}).get("error", "")).split(":")[0]
            detail = "the request body is not valid JSON" + (f" ({reason})" if reason else "")
            return JSONResponse(error_body("malformed_json", detail, None), status_code=400)
        if loc == ("body",) and not _is_json(request.headers.get("content-type")):
            return JSONResponse(
                error_body(
                    "unsupported_media_type",
                    "send the request body as JSON with 'Content-Type: application/json'",
                    None,
                ),
                status_code=415,
            )
        if loc == ("body",) and first.get("type") in ("model_attributes_type", "dict_type"):
            return JSONResponse(
                error_body("validation_error", "the request body must be a JSON object", None),
                status_code=422,
            )
        if loc == ("body",) and first.get("type") == "missing":
            return JSONResponse(
                error_body("validation_error", "the request body is required", None),
                status_code=422,
            )
        field = _field_path(loc)
        message = str(first.get("msg", "invalid value"))
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        # Never echo the submitted value back: it may be an anonymous signer's name.
        detail = f"{field}: {message}" if field else message
        return JSONResponse(error_body("validation_error", detail, field), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(
            error_body(HTTP_ERROR_CODES.get(exc.status_code, "http_error"), str(exc.detail), None),
            status_code=exc.status_code,
            headers=headers or None,
        )

    @app.exception_handler(SQLAlchemyTimeoutError)
    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        # The database's own code says which: a storage that refuses writes until someone acts
        # (read-only, full) or contention and lost connections, which pass if the client
        # retries. The message is not logged: it may quote a statement.
        code = db.database_code(exc) or "no code"
        fault = db.storage_fault(exc)
        if fault is not None:
            db.storage_health.failed(fault)
            logger.error(
                "storage unavailable (%s) on %s %s: %s, %s",
                fault.state,
                request.method,
                request.url.path,
                type(exc).__name__,
                code,
            )
            return JSONResponse(
                error_body(
                    "storage_unavailable",
                    STORAGE_DETAILS.get(fault.state, STORAGE_DETAILS["io_error"]),
                    None,
                ),
                status_code=503,
            )
        if not isinstance(exc, OperationalError | SQLAlchemyTimeoutError):
            raise exc  # a bug (an integrity error a service should have caught): a 500
        logger.warning(
            "database unavailable on %s %s: %s, %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            code,
        )
        return JSONResponse(
            error_body(
                "service_unavailable",
                "the database is busy or unreachable; retry after the delay in Retry-After",
                None,
            ),
            status_code=503,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(Exception)
    async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
        # Starlette calls this for the 500 and re-raises; app/security/logs.py logs it safely.
        return JSONResponse(
            error_body("internal_error", "an internal error occurred; it has been logged", None),
            status_code=500,
        )


# No Retry-After: these do not pass by themselves. Reads may still work.
STORAGE_DETAILS = {
    "read_only": "the database is read-only; an operator must make it writable again",
    "full": "the database's storage is full; an operator must free space",
    "io_error": "the database's storage is failing; an operator must look at it",
    "corrupt": "the database is damaged; an operator must restore it",
}


HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route on this path (Starlette lists only the first route's)."""
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        if not context.path:
            continue
        regex, _, _ = compile_path(context.path)
        if regex.match(request.url.path):
            methods |= set(context.methods or ())
    return sorted(methods)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # no body at all: reported as a missing body, not a wrong type
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
