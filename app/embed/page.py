"""What the public letter page and its PDF show: the text in the reader's language with its
fallback note, the dates, the count sentence and the notes on declared totals, one page of
signatories and the links around it. The router renders and caches it; nothing here knows HTTP."""

import math
from typing import Any
from urllib.parse import quote

from babel.dates import format_date, format_datetime
from sqlmodel import Session

from app.config import get_settings
from app.embed import service
from app.errors import NotFound
from app.i18n import names as reader_names
from app.i18n.catalogs import SUPPORTED
from app.i18n.negotiation import UiLocale, parse_tag
from app.i18n.sentences import count_sentence, language_name, number, ui_gettext
from app.letters import texts
from app.letters.models import LetterStatus
from app.signatures import counting
from app.signatures import service as signature_service


def _language_choices() -> list[dict[str, str]]:
    return [{"tag": tag, "name": language_name(tag, in_locale=tag)} for tag in SUPPORTED.values()]


def requested_tag(locale: str | None, lang: str | None, ui: UiLocale) -> str:
    """The language the reader asked for, even one the interface does not speak (a Korean
    translation is shown for ?locale=ko although the page's own words are in English)."""
    asked = locale if locale is not None else lang
    return asked.strip() if asked and parse_tag(asked.strip()) is not None else ui.tag


def letter_context(
    *,
    base_url: str,
    session: Session,
    slug: str,
    ui: UiLocale,
    requested: str,
    page: int | None = None,
) -> dict[str, Any]:
    """Everything the letter page (one `page` of signatories) and its PDF (all of them,
    `page` None) show, read in one transaction."""
    settings = get_settings()
    service.check_slug(slug)
    letter = service.public_letter(session, slug=slug, settings=settings)
    assert letter.id is not None
    # Counted in the same transaction, so the notes and pages agree with the list shown.
    named, anonymous = counting.counts(session, letter_id=letter.id)
    total = named + anonymous
    size = settings.letter_page_size
    pages = max(1, math.ceil(named / size))
    if page is not None and page > pages:
        raise NotFound("no such page of signatories", field="page")
    named_rows, _ = signature_service.signatories(
        session,
        letter=letter,
        lang=ui.tag,
        limit=size if page is not None else max(named, 1),
        cursor=str((page - 1) * size) if page is not None else None,
    )
    all_versions = texts.versions(session, letter=letter)
    text = texts.choose(all_versions, requested=requested)
    return {
        "slug": slug,
        "letter": letter,
        "text": text,
        "fallback_note": _fallback_note(ui, text, requested=requested),
        "versions": [
            {
                "tag": v.lang,
                "name": language_name(v.lang, in_locale=v.lang),
                "original": v.is_original,
                "current": v is text.version,
            }
            for v in all_versions
        ],
        "languages": _language_choices(),
        "dates": _dates(ui, letter),
        "sentence": count_sentence(ui, total=total, anonymous=anonymous),
        "notes": _declared_notes(ui, letter, total=total, anonymous=anonymous),
        "signatories": named_rows,
        "direction": reader_names.direction,
        "anonymous_note": ui_gettext(
            ui,
            "Signed anonymously: %(count)s. Their names are not published.",
            count=number(anonymous, ui),
        )
        if anonymous
        else "",
        "pdf_url": f"/letters/{slug}.pdf?locale={quote(ui.tag)}",
        "page_url": (settings.public_base_url or base_url).rstrip("/")
        + f"/letters/{slug}?locale={quote(ui.tag)}",
        "updated": format_datetime(letter.counts_changed_at, "medium", locale=ui.locale),
        "paging": _paging(ui, slug=slug, page=page, pages=pages, size=size, named=named),
        "revision": letter.revision,
        # Organisations sign for themselves where the coordinators opened the form (app/selfsign);
        # a text changed after signatures came in has a public history.
        "sign_url": f"/letters/{slug}/sign?locale={quote(ui.tag)}"
        if letter.self_signing and letter.status == LetterStatus.open
        else None,
        "history_url": f"/letters/{slug}/versions?locale={quote(ui.tag)}"
        if letter.text_version > 1
        else None,
    }


def _paging(
    ui: UiLocale, *, slug: str, page: int | None, pages: int, size: int, named: int
) -> dict[str, str] | None:
    """Where this page sits among the signatories, with links to its neighbours."""
    if page is None or pages == 1:
        return None
    first, last = (page - 1) * size + 1, min(page * size, named)

    def link(number_: int) -> str:
        return f"/letters/{slug}?locale={quote(ui.tag)}&page={number_}"

    return {
        "range": ui_gettext(
            ui,
            "Signatories %(first)s to %(last)s of %(total)s",
            first=number(first, ui),
            last=number(last, ui),
            total=number(named, ui),
        ),
        "previous": link(page - 1) if page > 1 else "",
        "next": link(page + 1) if page < pages else "",
        "previous_label": ui_gettext(ui, "Previous page"),
        "next_label": ui_gettext(ui, "Next page"),
    }


def _fallback_note(ui: UiLocale, text: texts.LocalisedText, *, requested: str) -> str:
    asked = language_name(requested, in_locale=ui.tag)
    if text.shown == texts.Shown.english:
        return ui_gettext(
            ui, "This letter has no %(requested)s version; it is shown in English.", requested=asked
        )
    if text.shown == texts.Shown.original:
        return ui_gettext(
            ui,
            "This letter has no %(requested)s or English version; it is shown in its original "
            "language, %(original)s.",
            requested=asked,
            original=language_name(text.lang, in_locale=ui.tag),
        )
    return ""


def _dates(ui: UiLocale, letter: Any) -> list[str]:
    lines = [
        ui_gettext(
            ui,
            "Published here on %(date)s",
            date=format_date(letter.created_at, "long", locale=ui.locale),
        )
    ]
    if letter.closed_at is not None:
        lines.append(
            ui_gettext(
                ui,
                "Closed to signatures on %(date)s",
                date=format_date(letter.closed_at, "long", locale=ui.locale),
            )
        )
    return lines


def _declared_notes(ui: UiLocale, letter: Any, *, total: int, anonymous: int) -> list[str]:
    notes = []
    if letter.declared_total is not None and letter.declared_total != total:
        notes.append(
            ui_gettext(
                ui,
                "Signatories stated in the published letter: %(declared)s. Recorded here: %(actual)s.",
                declared=number(letter.declared_total, ui),
                actual=number(total, ui),
            )
        )
    if letter.declared_anonymous is not None and letter.declared_anonymous != anonymous:
        notes.append(
            ui_gettext(
                ui,
                "Anonymous signatories stated in the published letter: %(declared)s. "
                "Recorded here: %(actual)s.",
                declared=number(letter.declared_anonymous, ui),
                actual=number(anonymous, ui),
            )
        )
    return notes
