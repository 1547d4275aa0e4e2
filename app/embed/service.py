"""Partner-facing representations: count JSON, badge, widget and letter page data."""

import hashlib
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from app.config import Settings
from app.embed import badge
from app.embed.cache import Entry, Snapshot
from app.errors import BadRequest, NotFound
from app.i18n.negotiation import UiLocale
from app.i18n.sentences import count_sentence, ui_gettext
from app.letters import service as letter_service
from app.letters.models import Letter, LetterStatus

_SLUG = re.compile(r"^[a-z0-9-]{3,80}$")
CORS = {"Access-Control-Allow-Origin": "*"}


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    # Encoded response headers except Age, per (max-age, stale-if-error, vary): built once.
    raw_headers: dict[tuple[int, int, bool], list[tuple[bytes, bytes]]] = field(
        default_factory=dict, compare=False
    )


def check_slug(slug: str) -> str:
    """400 for anything that cannot be a slug; the value is not echoed."""
    if not _SLUG.match(slug):
        raise BadRequest(
            "slug must be 3 to 80 characters among a-z, 0-9 and '-'",
            field="slug",
            error="invalid_slug",
            headers=CORS,
        )
    return slug


def not_found(settings: Settings) -> NotFound:
    return NotFound(
        "no public letter with this slug",
        field="slug",
        headers=CORS | {"Cache-Control": f"public, max-age={settings.count_max_age}"},
    )


def etag_of(body: bytes) -> str:
    # Strong validator: a digest of the exact bytes, so it moves exactly when the body does.
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def count_payload(snapshot: Snapshot, ui: UiLocale) -> dict[str, Any]:
    return {
        "letter": snapshot.slug,
        "total": snapshot.total,
        "named": snapshot.named,
        "anonymous": snapshot.anonymous,
        # selfsign hook: how many self-signatures wait for a coordinator (never who).
        "awaiting_verification": snapshot.awaiting,
        "updated_at": snapshot.counts_changed_at.isoformat(),
        "locale": ui.tag,
        "text": count_sentence(ui, total=snapshot.total, anonymous=snapshot.anonymous),
    }


def render_count(snapshot: Snapshot, ui: UiLocale) -> Rendered:
    key = ("count", ui.name)
    rendered = snapshot.renders.get(key)
    if rendered is None:
        body = json.dumps(
            count_payload(snapshot, ui), ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
        rendered = snapshot.renders[key] = Rendered(body, etag_of(body))
    return rendered


def render_badge(snapshot: Snapshot, ui: UiLocale) -> Rendered:
    key = ("badge", ui.name)
    rendered = snapshot.renders.get(key)
    if rendered is None:
        text = count_sentence(ui, total=snapshot.total, anonymous=snapshot.anonymous)
        body = badge.render(text, ui)
        rendered = snapshot.renders[key] = Rendered(body, etag_of(body))
    return rendered


_unknown_badges: dict[str, bytes] = {}


def unknown_badge(ui: UiLocale) -> bytes:
    body = _unknown_badges.get(ui.name)
    if body is None:
        body = _unknown_badges[ui.name] = badge.render(
            ui_gettext(ui, "Unknown letter"), ui, fill="#6b6b6b"
        )
    return body


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/ prefixes are ignored."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(
        candidate.strip().removeprefix("W/") == etag for candidate in if_none_match.split(",")
    )


def age(entry: Entry) -> str:
    """Seconds (rounded up) since this worker checked the counts against the database: a cache
    adds it to the response's age, so the data is never older than max-age when it expires."""
    return str(max(0, math.ceil(time.monotonic() - entry.checked_at - 0.001)))


def cache_headers(settings: Settings, entry: Entry, *, vary: bool, etag: str) -> dict[str, str]:
    max_age = settings.count_max_age
    headers = CORS | {
        "Cache-Control": f"public, max-age={max_age}, stale-while-revalidate={2 * max_age}, "
        f"stale-if-error={settings.count_stale_if_error}",
        "ETag": etag,
        "Age": age(entry),
        "Access-Control-Expose-Headers": "ETag, Age",
    }
    if vary:
        headers["Vary"] = "Accept-Language"
    return headers


def raw_cache_headers(
    settings: Settings, rendered: Rendered, *, vary: bool
) -> list[tuple[bytes, bytes]]:
    """`cache_headers` minus Age, encoded once per representation (the hot path's headers)."""
    key = (settings.count_max_age, settings.count_stale_if_error, vary)
    raw = rendered.raw_headers.get(key)
    if raw is None:
        headers = cache_headers(
            settings, Entry(None, time.monotonic()), vary=vary, etag=rendered.etag
        )
        del headers["Age"]
        raw = rendered.raw_headers[key] = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        ]
    return raw


def public_letter(session: Session, *, slug: str, settings: Settings) -> Letter:
    """A non-draft letter by slug (drafts are reported missing to the public)."""
    letter = letter_service.get_by_slug(session, slug=slug)
    if letter is None or letter.status == LetterStatus.draft:
        raise not_found(settings)
    return letter
