"""Which version of a letter a reader gets: the requested language, else English, else the
original — and which one that was, so that pages can say so."""

from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session

from app.i18n.negotiation import parse_tag, script_of
from app.letters import service as letter_service
from app.letters.models import Letter

FALLBACK_LANGUAGE = "en"


class Shown(StrEnum):
    requested = "requested"  # the reader's language
    english = "english"  # no version in the reader's language; English instead
    original = "original"  # neither: the original text


@dataclass(frozen=True)
class Version:
    lang: str
    title: str
    body: str
    recipients: str
    is_original: bool

    @property
    def direction(self) -> str:
        return text_direction(self.lang)

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.split("\n\n") if p.strip()]


@dataclass(frozen=True)
class LocalisedText:
    """The version shown, how it was chosen, and the recipients line to show with it."""

    version: Version
    shown: Shown
    recipients: str  # the version's own, else the original's (never dropped)
    recipients_lang: str

    @property
    def title(self) -> str:
        return self.version.title

    @property
    def lang(self) -> str:
        return self.version.lang

    @property
    def direction(self) -> str:
        return self.version.direction


def _language_script(tag: str) -> tuple[str, str | None] | None:
    locale = parse_tag(tag)
    return (locale.language, script_of(locale)) if locale else None


def text_direction(tag: str) -> str:
    locale = parse_tag(tag)
    return "rtl" if locale is not None and locale.text_direction == "rtl" else "ltr"


def versions(session: Session, *, letter: Letter) -> list[Version]:
    """The original first, then the translations by language tag."""
    original = Version(letter.lang, letter.title, letter.body, letter.recipients, True)
    return [original] + [
        Version(t.lang, t.title, t.body, t.recipients, False)
        for t in letter_service.translations_of(session, letter=letter)
    ]


def choose(all_versions: list[Version], *, requested: str) -> LocalisedText:
    """Requested language (same language and script) → English → original."""
    original = all_versions[0]
    order = ((requested, Shown.requested), (FALLBACK_LANGUAGE, Shown.english))
    found, shown = next(
        (
            (version, how)
            for wanted, how in order
            for version in all_versions
            if _language_script(version.lang) == _language_script(wanted)
        ),
        (original, Shown.original),
    )
    own = found.recipients.strip()
    return LocalisedText(
        version=found,
        shown=shown,
        recipients=own or original.recipients,
        recipients_lang=found.lang if own else original.lang,
    )


def localised_text(session: Session, *, letter: Letter, requested: str) -> LocalisedText:
    return choose(versions(session, letter=letter), requested=requested)
