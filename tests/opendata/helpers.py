"""Shared by the open-data tests: the Reconciliation API's shipped JSON Schemas (a copy of
the W3C community group's 0.2 schemas and examples, in spec/), validated with jsonschema-rs,
and a few ways to populate the registry through the API."""

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

SPEC = Path(__file__).resolve().parent / "spec"
BASE = "https://reconciliation-api.github.io/specs/0.2/schemas/"
# The manifest's `authentication` refers to Swagger 2.0's security scheme definition; the
# test never fetches it (no network): this is its shape, kept to what the examples need.
SWAGGER_SECURITY = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": ["basic", "apiKey", "oauth2", "http"]}},
}


def _retrieve(uri: str) -> Any:
    if uri.startswith(BASE):
        return json.loads((SPEC / "schemas" / uri.removeprefix(BASE)).read_text())
    if uri.startswith("http://swagger.io/v2/schema.json"):
        return {"definitions": {"securityDefinitions": {"additionalProperties": SWAGGER_SECURITY}}}
    raise ValueError(f"no network in tests: {uri}")


@cache
def validator(name: str) -> Any:
    schema = json.loads((SPEC / "schemas" / f"{name}.json").read_text())
    return jsonschema_rs.Draft7Validator(schema, retriever=_retrieve)


def assert_valid(name: str, document: Any) -> None:
    errors = [str(e) for e in validator(name).iter_errors(document)]
    assert not errors, f"{name}: {errors}"
