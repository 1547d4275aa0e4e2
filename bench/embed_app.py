"""The product app plus a bare constant route, for bench/embed.py only (never the product)."""

from app.main import create_app

app = create_app()
CONSTANT = {
    "letter": "global-call-un-mechanism-china",
    "total": 320,
    "named": 281,
    "anonymous": 39,
    "updated_at": "2026-11-21T00:00:00+00:00",
    "locale": "en",
    "text": "320 organisations have signed, 39 of them anonymously",
}


@app.get("/bench/constant")
def constant() -> dict[str, object]:
    """Baseline: a plain `def` route returning a constant dict (same style as the product's)."""
    return CONSTANT


@app.get("/bench/constant-async")
async def constant_async() -> dict[str, object]:
    """Baseline without the threadpool hop: an `async def` route returning a constant dict."""
    return CONSTANT
