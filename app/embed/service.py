"""Partner-facing representations: count JSON, badge, widget and letter page data."""

import hashlib
import json
import math
import re
import time
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


def is_slug(slug: str) -> bool:
    return _SLUG.match(slug) is not None


def check_slug(slug: str) -> str:
    """400 for anything that cannot be a slug; the value is not echoed."""
    if not is_slug(slug):
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


def count_body(snapshot: Snapshot, ui: UiLocale) -> bytes:
    payload = count_payload(snapshot, ui)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def badge_body(snapshot: Snapshot, ui: UiLocale) -> bytes:
    text = count_sentence(ui, total=snapshot.total, anonymous=snapshot.anonymous)
    return badge.render(text, ui)


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


def public_letter(session: Session, *, slug: str, settings: Settings) -> Letter:
    """A non-draft letter by slug (drafts are reported missing to the public)."""
    letter = letter_service.get_by_slug(session, slug=slug)
    if letter is None or letter.status == LetterStatus.draft:
        raise not_found(settings)
    return letter
