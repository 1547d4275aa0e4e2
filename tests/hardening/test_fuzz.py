"""Schemathesis against the app's own OpenAPI schema: no 5xx, responses conform to the schema.

Runs on SQLite only (fuzzing looks for crashes and schema lies, which do not depend on the
database; concurrency and PostgreSQL behaviour have their own tests). Every operation is called
with a valid admin token so that the handlers run instead of stopping at 401, against a database
holding the seed letter; examples per operation are bounded so the whole run stays short.
"""

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from alembic import command
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.parameters import ParameterLocation

from app import db
from app.config import get_settings
from app.db import make_engine, open_session
from app.imports.seed import load_seed
from app.main import create_app
from tests.conftest import ADMIN_TOKEN, alembic_config

MAX_EXAMPLES = int(os.environ.get("UNDERSIGNED_FUZZ_EXAMPLES", "80"))


def fuzz_app() -> FastAPI:
    """The app as served, minus the rate limiter (the fuzzer is one very busy client)."""
    saved = os.environ.get("UNDERSIGNED_RATE_LIMIT_ENABLED")
    os.environ["UNDERSIGNED_RATE_LIMIT_ENABLED"] = "false"
    get_settings.cache_clear()
    try:
        return create_app()
    finally:
        if saved is None:
            del os.environ["UNDERSIGNED_RATE_LIMIT_ENABLED"]
        else:
            os.environ["UNDERSIGNED_RATE_LIMIT_ENABLED"] = saved
        get_settings.cache_clear()


# Loaded at collection (the lazy `from_fixture` loader does not work with pytest 9), so
# pytest shows one test per operation; the database is prepared by the fixture below.
schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app())


@pytest.fixture(scope="module", autouse=True)
def fuzz_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    db.set_engine(engine)
    with open_session(write=True) as session:
        load_seed(session)
        session.commit()
    yield
    db.set_engine(None)
    engine.dispose()


SEED_SLUG = "global-call-un-mechanism-china"
_calls = itertools.count()


def aim_at_real_rows(case: schemathesis.Case) -> None:
    """Point three cases in four at rows that exist, so handlers run past their 404s (a case
    that is wrong on purpose in its path is left as generated)."""
    parameters = case.path_parameters
    path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
    if not parameters or (path and path.mode == GenerationMode.NEGATIVE) or next(_calls) % 4 == 3:
        return
    spread = abs(hash(repr(case.body)))
    for name in list(parameters):
        if "slug" in name:
            parameters[name] = SEED_SLUG
        elif "organisation" in name or "signature" in name:
            # The seed has 320 signatures and about as many organisations.
            parameters[name] = 1 + spread % 300
        elif name.endswith("id"):
            # Rows the run itself creates (merges, imports): the first few ids.
            parameters[name] = 1 + spread % 3


def auth_headers(case: schemathesis.Case) -> dict[str, str]:
    """The admin token, unless this case is wrong on purpose in its credentials.

    A negative case whose negated part is the headers, or no declared part at all (then it is
    the security scheme: a missing or empty bearer), must reach the app as generated; any other
    case gets a valid token so that the handler, not the 401, answers it.
    """
    meta = case.meta
    if meta is not None and meta.generation.mode == GenerationMode.NEGATIVE:
        negated = {
            location
            for location, info in meta.components.items()
            if info.mode == GenerationMode.NEGATIVE
        }
        if not negated or ParameterLocation.HEADER in negated:
            return {}
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


OPERATIONS = {op.ok().label: op.ok() for op in schema.get_all_operations()}  # type: ignore[union-attr]


# Parametrized by pytest rather than `schema.parametrize()`: under pytest 9 the latter gives every
# operation the same node id, and pytest-xdist then runs one operation instead of all of them.
@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(OPERATIONS))
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_api_conforms_to_its_schema(label: str, data: st.DataObject) -> None:
    operation = OPERATIONS[label]
    case = data.draw(
        st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )
    )
    aim_at_real_rows(case)
    case.call_and_validate(
        headers=auth_headers(case),
        # Schema-valid requests may still be refused with 400/422 for reasons JSON Schema cannot
        # express (a language babel does not know, an unknown country, a status transition);
        # every other check runs, including "no 5xx" and response conformance.
        excluded_checks=[positive_data_acceptance],
        # Conformance, not speed: a PDF of the seed letter took over schemathesis's 10 s on a
        # 2-core machine at load 9-13 (other sessions' benchmarks beside the suite).
        timeout=120,
    )


def test_every_operation_is_fuzzed() -> None:
    assert len(OPERATIONS) >= 13
    assert "POST /api/v1/letters/{slug}/signatures" in OPERATIONS
