"""Make the OpenAPI schema tell the truth about errors and authentication.

FastAPI documents only 422 (with its own body shape, which app/errors.py replaces) and marks
every operation that reads a bearer token as requiring one, even where the token is optional.
This post-processes the generated schema; routes added later are covered automatically.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from app.auth.dependencies import admin, coordinator, optional_principal

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error", "detail", "field"],
    "properties": {
        "error": {"type": "string", "description": "snake_case error code"},
        "detail": {"type": "string", "description": "A human sentence"},
        "field": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "Dotted path"},
    },
}


def refine_schema(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Error"] = ERROR_SCHEMA
        optional = _optional_auth_operations(app)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                if (path, method.upper()) in optional and operation.get("security"):
                    # `{}` = no credentials is fine; a token, if sent, must be valid.
                    operation["security"] = [{}, *operation["security"]]
                _add_error_responses(method, operation)
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _optional_auth_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, METHOD) of routes that read a token but do not require one."""
    result: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        if dependant is None:
            continue
        calls = _calls(dependant)
        if context.path_format and optional_principal in calls and not calls & {coordinator, admin}:
            result |= {(context.path_format, m) for m in context.methods or ()}
    return result


def _error_response(description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        **extra,
    }


def _add_error_responses(method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    wanted = {
        "400": _error_response("Malformed request (bad JSON, cursor or header)"),
        "429": _error_response(
            "Rate limited",
            headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}},
        ),
        "503": _error_response(
            "Database busy or unreachable; retry later",
            headers={"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}},
        ),
    }
    if has_body or parameters:
        wanted["422"] = _error_response("Payload or parameter validation failed")
    if has_body:
        wanted["413"] = _error_response("Request body over the size limit")
        wanted["415"] = _error_response("Request body is not JSON")
    if operation.get("security"):
        wanted["401"] = _error_response("Missing, invalid or revoked token")
        wanted["403"] = _error_response("The token may not do this")
    if has_body or any(p.get("in") == "path" for p in parameters):
        # Path ids, and ids inside bodies (merges and judgements name organisations).
        wanted["404"] = _error_response("Not found, or not visible to this caller")
    if method.lower() not in ("get", "head", "options"):
        wanted["409"] = _error_response("Conflicts with the current state")
    error_ref = {"$ref": "#/components/schemas/Error"}
    for code, response in wanted.items():
        existing = responses.get(code)
        if existing is None:
            responses[code] = response
            continue
        json_body = existing.get("content", {}).get("application/json")
        schema = (json_body or {}).get("schema")
        if json_body is None and not existing.get("content"):
            # Declared without a body (`404: {}`): the body is the error format.
            existing["content"] = response["content"]
        elif schema is not None and "HTTPValidationError" in str(schema.get("$ref", "")):
            json_body["schema"] = error_ref
        elif schema is not None and schema != error_ref and "anyOf" not in schema:
            # A route's own body for this code (an import's refusal report); the middleware and
            # the generic handlers can still answer it in the common error format.
            json_body["schema"] = {"anyOf": [schema, error_ref]}
