"""The FastAPI application."""

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import anyio
from fastapi import APIRouter, FastAPI, Response
from pydantic import BaseModel

from app import listeners, security, serving
from app.admin.coordinate.web import router as coordinate_page_router
from app.admin.router import router as admin_router
from app.admin.web import router as admin_page_router
from app.backup import held_by_server
from app.config import get_settings
from app.db import get_engine, open_session, probe_storage
from app.embed import hits as embed_hits
from app.embed.router import pages_router as embed_pages_router
from app.embed.router import router as embed_router
from app.errors import register_error_handlers
from app.imports.router import router as imports_router
from app.letters.router import router as letters_router
from app.openapi import refine_schema
from app.opendata import web as opendata_web
from app.organisations.router import router as organisations_router
from app.pages import errors as html_errors
from app.pages.router import install_docs
from app.pages.router import router as home_router
from app.resolution import service as resolution_service
from app.selfsign.router import router as selfsign_router
from app.selfsign.web import router as selfsign_page_router
from app.signatures import counting
from app.signatures.router import router as signatures_router
from app.webhooks import service as webhooks
from app.webhooks.router import router as webhooks_router

API_PREFIX = "/api/v1"
logger = logging.getLogger("undersigned")


def warm_resolver() -> None:
    """Load the resolver's index so that the first sign or import does not pay for it."""
    try:
        with open_session() as session:
            size = resolution_service.warm(session)
        logger.info("resolver index ready: %d organisations", size)
    except Exception as exc:  # the index is also built lazily; never fail start-up for it
        logger.warning("resolver warm-up skipped: %s", type(exc).__name__)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    serving.tune_collector()
    serving.start_sharing()
    # In the background: at 100,000 organisations the build takes seconds, and the API (counts,
    # badges) should answer meanwhile; a resolve arriving first waits on the index lock.
    threading.Thread(target=warm_resolver, name="resolver-warm-up", daemon=True).start()
    # Every background task, started here: identity checks and the duplicate queue's catch-up
    # (their threads also wake on commits that queue work), webhook deliveries (what a stopped
    # process left pending goes out now).
    resolution_service.start_background()
    webhooks.start()
    with held_by_server(get_engine().url.render_as_string(hide_password=False)):
        yield
    # Letters signed in the last moments still have their revision moved for other workers.
    await anyio.to_thread.run_sync(counting.settle_bumps)


health_router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "read_only", "full", "io_error", "corrupt", "unreachable"]


@health_router.get(
    "/healthz",
    responses={503: {"model": HealthPublic, "description": "The database cannot take writes"}},
)
def healthz(response: Response) -> HealthPublic:
    """Liveness, and whether the database takes writes (a probe that writes nothing)."""
    database = probe_storage()
    if database != "ok":
        response.status_code = 503
    return HealthPublic(status="ok" if database == "ok" else "degraded", database=database)


def create_app() -> FastAPI:
    listeners.install()
    app = FastAPI(
        title="Undersigned",
        version="1.0.0",
        description="Open-letter signatory registry: letters, multilingual organisations, "
        "signatures and anonymous counts.",
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI from a CDN; app/pages serves them offline.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    register_error_handlers(app)
    html_errors.install(app)
    for router in (
        health_router,
        letters_router,
        signatures_router,
        organisations_router,
        embed_router,
        admin_router,
        imports_router,
        selfsign_router,
        webhooks_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(admin_page_router)
    app.include_router(selfsign_page_router)
    app.include_router(coordinate_page_router)
    opendata_web.install(app, api_prefix=API_PREFIX)
    app.include_router(embed_pages_router)
    app.include_router(home_router)
    install_docs(app)
    # Cache hits of the public pages are answered inside the security middleware, before
    # routing (decision 0108); everything else reaches the routes.
    security.install(
        app,
        settings=get_settings(),
        from_memory=embed_hits.PublicAnswers(api_prefix=API_PREFIX),
    )
    # Outermost: a worker over its share of the connections asks a client to reconnect, on any
    # response (decision 0133).
    app.add_middleware(serving.ConnectionShare)
    refine_schema(app)
    return app


app = create_app()
