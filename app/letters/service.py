"""Letters: create, read, update; who may see and manage them."""

from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, exists, func, true
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import paging
from app.auth import service as auth_service
from app.auth.service import Principal
from app.errors import BadRequest, Conflict, Forbidden, NotFound
from app.letters.models import Letter, LetterStatus, LetterTranslation, LetterVersion
from app.letters.schemas import (
    CountsPublic,
    LetterCreate,
    LetterPublic,
    LetterUpdate,
    TranslationCreate,
    TranslationPublic,
)
from app.signatures import counting
from app.webhooks import events as webhook_events

_TRANSITIONS = {
    LetterStatus.draft: {LetterStatus.open},
    LetterStatus.open: {LetterStatus.closed},
    LetterStatus.closed: set(),
}


def get_by_slug(session: Session, *, slug: str) -> Letter | None:
    """The published letter with that slug, else its oldest draft (for operators' tools; a
    request goes through get_visible, which knows whose drafts the caller may see)."""
    return session.exec(
        select(Letter)
        .where(Letter.slug == slug)
        .order_by(col(Letter.status) == LetterStatus.draft, col(Letter.id))
    ).first()


def can_manage(session: Session, *, letter: Letter, principal: Principal | None) -> bool:
    if principal is None:
        return False
    if principal.is_admin:
        return True
    if principal.token_id is not None and letter.created_by_token_id == principal.token_id:
        return True
    assert letter.id is not None
    return letter.id in auth_service.granted_letter_ids(session, principal=principal)


def _visibility(session: Session, *, principal: Principal | None) -> tuple[str, dict[str, Any]]:
    """Which letters the caller may see: the kind of caller (`_visible`'s argument) and the
    values of its parameters."""
    if principal is None:
        return "public", {}
    if principal.is_admin:
        return "admin", {}
    granted = auth_service.granted_letter_ids(session, principal=principal)
    return "coordinator", {"token_id": principal.token_id, "granted": sorted(granted) or [-1]}


@lru_cache(maxsize=3)
def _visible(kind: str) -> ColumnElement[bool]:
    """Which letters a kind of caller may see, as SQL: non-drafts, and the drafts they manage
    (parameters `token_id`, `granted`). Built once per kind: every signature reads its letter.

    The letter rows of drafts the caller may not see are never read, so that such a draft
    changes neither an answer nor how long it takes."""
    if kind == "public":
        return col(Letter.status) != LetterStatus.draft
    if kind == "admin":
        return true()
    return (
        (col(Letter.status) != LetterStatus.draft)
        | (col(Letter.created_by_token_id) == bindparam("token_id"))
        | col(Letter.id).in_(bindparam("granted", expanding=True))
    )


@lru_cache(maxsize=3)
def _with_slug(kind: str) -> Any:
    return select(Letter).where(
        Letter.slug == bindparam("slug"), col(Letter.id) != bindparam("exclude"), _visible(kind)
    )


def _visible_with_slug(
    session: Session, *, slug: str, principal: Principal | None, exclude_id: int | None = None
) -> list[Letter]:
    """The letters with that slug the caller may see, the one a slug means to them first.

    Slugs are unique among published letters and among one creator's drafts; a draft does not
    hold its slug against anyone else (docs/decisions/0076-drafts-hold-their-slug-privately.md).
    So a slug may name the caller's own draft, a published letter, and drafts of others that
    the caller manages (granted, or an admin): in that order.
    """
    kind, params = _visibility(session, principal=principal)
    letters: list[Letter] = list(
        session.exec(_with_slug(kind), params={"slug": slug, "exclude": exclude_id or 0, **params})
    )

    def rank(letter: Letter) -> int:
        if letter.status != LetterStatus.draft:
            return 1
        own = principal is not None and letter.created_by_token_id == principal.token_id
        return 0 if own else 2

    return sorted(letters, key=lambda letter: (rank(letter), letter.id or 0))


def get_visible(session: Session, *, slug: str, principal: Principal | None) -> Letter:
    """A letter the caller may see: non-draft for everyone, drafts for their managers only."""
    visible = _visible_with_slug(session, slug=slug, principal=principal)
    if not visible:
        # A draft is reported as missing so that its existence is not confirmed.
        raise NotFound(
            f"no letter '{slug}'" if _printable(slug) else "no such letter", field="slug"
        )
    return visible[0]


def get_managed(session: Session, *, slug: str, principal: Principal) -> Letter:
    """A letter the caller manages; 404 if they may not see it, 403 if only see it."""
    letter = get_visible(session, slug=slug, principal=principal)
    if not can_manage(session, letter=letter, principal=principal):
        raise Forbidden("this token does not manage this letter", field="slug")
    return letter


def _printable(slug: str) -> bool:
    return all(c.isalnum() or c == "-" for c in slug) and len(slug) <= 80


def _duplicate_slug(slug: str) -> Conflict:
    return Conflict(
        f"a letter with slug '{slug}' already exists", field="slug", error="duplicate_slug"
    )


def _check_slug_free(
    session: Session, *, slug: str, principal: Principal, exclude_id: int | None = None
) -> None:
    """Refuse a slug only for a letter the caller can see: another coordinator's draft must not
    be confirmed by a refusal."""
    if _visible_with_slug(session, slug=slug, principal=principal, exclude_id=exclude_id):
        raise _duplicate_slug(slug)


def _check_publishable(session: Session, *, letter: Letter) -> None:
    published = session.exec(
        select(Letter.id).where(
            Letter.slug == letter.slug,
            col(Letter.status) != LetterStatus.draft,
            col(Letter.id) != letter.id,
        )
    ).first()
    if published is not None:
        raise Conflict(
            f"a published letter already has the slug '{letter.slug}'; give this draft "
            "another slug before publishing it",
            field="slug",
            error="duplicate_slug",
        )


def create(session: Session, *, data: LetterCreate, principal: Principal) -> Letter:
    _check_slug_free(session, slug=data.slug, principal=principal)
    letter = Letter(
        slug=data.slug,
        title=data.title,
        lang=data.lang,
        body=data.body,
        recipients=data.recipients,
        status=data.status,
        declared_total=data.declared_total,
        declared_anonymous=data.declared_anonymous,
        created_by_token_id=principal.token_id,
        self_signing=data.self_signing,
        self_sign_counts_unverified=data.self_sign_counts_unverified,
        self_sign_withdraw_after_close=data.self_sign_withdraw_after_close,
    )
    session.add(letter)
    _flush_slug(session, slug=data.slug)
    _set_translations(session, letter=letter, translations=data.translations, locked=False)
    return letter


def _flush_slug(session: Session, *, slug: str) -> None:
    """Flush a letter whose slug may race with another request's (the unique indexes decide)."""
    try:
        session.flush()
    except IntegrityError:
        raise _duplicate_slug(slug) from None


def has_signatures(session: Session, *, letter: Letter) -> bool:
    from app.signatures.models import Signature

    return bool(session.scalar(select(exists().where(col(Signature.letter_id) == letter.id))))


def update(
    session: Session, *, letter: Letter, data: LetterUpdate, principal: Principal | None = None
) -> Letter:
    """Apply a PATCH; `principal` (the caller) is needed to change a draft's slug."""
    changes = data.model_dump(exclude_unset=True)
    locked = has_signatures(session, letter=letter)
    if "slug" in changes and changes["slug"] != letter.slug:
        if changes["slug"] is None:
            raise BadRequest("slug must not be null", field="slug")
        if letter.status != LetterStatus.draft:
            raise Conflict(
                "only a draft's slug can change: links to a published letter must keep working",
                field="slug",
                error="slug_locked",
            )
        assert principal is not None, "whose drafts a slug may clash with depends on the caller"
        _check_slug_free(session, slug=changes["slug"], principal=principal, exclude_id=letter.id)
        letter.slug = changes["slug"]
    reason = changes.get("text_change_reason")
    changed = [
        f
        for f in ("title", "body", "recipients", "lang")
        if f in changes and changes[f] != getattr(letter, f)
    ]
    if changed and locked:
        if reason is None:
            raise Conflict(
                "the letter has signatures: its text changes only as a new version, with "
                "text_change_reason saying why (or add a translation instead)",
                field=changed[0],
                error="letter_text_locked",
            )
        _keep_version(session, letter=letter)
    for field in changed:
        if changes[field] is None:
            raise BadRequest(f"{field} must not be null", field=field)
        setattr(letter, field, changes[field])
    if changed and locked:
        letter.text_version += 1
        _record_version(session, letter=letter, reason=reason)
    if "status" in changes and changes["status"] is not None:
        new_status = LetterStatus(changes["status"])
        current = LetterStatus(letter.status)
        if new_status != current:
            if new_status not in _TRANSITIONS[current]:
                raise Conflict(
                    f"a {current.value} letter cannot become {new_status.value} (draft → open → closed)",
                    field="status",
                    error="invalid_status_transition",
                )
            if current == LetterStatus.draft:
                _check_publishable(session, letter=letter)
            letter.status = new_status
            if new_status == LetterStatus.closed:
                from app.db import utcnow

                letter.closed_at = utcnow()
    total = changes.get("declared_total", letter.declared_total)
    anonymous = changes.get("declared_anonymous", letter.declared_anonymous)
    if total is not None and anonymous is not None and anonymous > total:
        raise BadRequest(
            "declared_anonymous must not exceed declared_total", field="declared_anonymous"
        )
    for flag in ("self_signing", "self_sign_counts_unverified", "self_sign_withdraw_after_close"):
        if changes.get(flag) is not None:
            setattr(letter, flag, changes[flag])
    if "declared_total" in changes:
        letter.declared_total = total
    if "declared_anonymous" in changes:
        letter.declared_anonymous = anonymous
    # The revision versions everything public pages show of the letter (its text, status,
    # translations, counts): cached pages in every worker are re-rendered when it moves.
    letter.revision += 1
    session.add(letter)
    _flush_slug(session, slug=letter.slug)
    if data.translations is not None:
        _set_translations(session, letter=letter, translations=data.translations, locked=locked)
    if changes:
        webhook_events.letter_updated(session, letter=letter, fields=sorted(changes))
    return letter


def _record_version(session: Session, *, letter: Letter, reason: str | None) -> None:
    assert letter.id is not None
    session.add(
        LetterVersion(
            letter_id=letter.id,
            version=letter.text_version,
            lang=letter.lang,
            title=letter.title,
            body=letter.body,
            recipients=letter.recipients,
            reason=reason,
        )
    )


def _keep_version(session: Session, *, letter: Letter) -> None:
    """Before a signed letter's text changes: keep the version its signers consented to."""
    kept = session.exec(
        select(LetterVersion.id).where(
            LetterVersion.letter_id == letter.id, LetterVersion.version == letter.text_version
        )
    ).first()
    if kept is None:
        _record_version(session, letter=letter, reason=None)


def versions_of(session: Session, *, letter: Letter) -> list[LetterVersion]:
    """Every version of the original text, oldest first (one, the current text, when it
    never changed after signatures)."""
    rows = list(
        session.exec(
            select(LetterVersion)
            .where(LetterVersion.letter_id == letter.id)
            .order_by(col(LetterVersion.version))
        )
    )
    if rows:
        return rows
    assert letter.id is not None
    return [
        LetterVersion(
            letter_id=letter.id,
            version=letter.text_version,
            lang=letter.lang,
            title=letter.title,
            body=letter.body,
            recipients=letter.recipients,
            created_at=letter.created_at,
        )
    ]


def _set_translations(
    session: Session, *, letter: Letter, translations: list[TranslationCreate], locked: bool
) -> None:
    existing = {t.lang: t for t in translations_of(session, letter=letter)}
    seen: set[str] = set()
    assert letter.id is not None
    for index, item in enumerate(translations):
        field = f"translations.{index}.lang"
        if item.lang in seen:
            raise BadRequest(f"language '{item.lang}' appears twice", field=field)
        seen.add(item.lang)
        if item.lang == letter.lang:
            raise BadRequest("a translation cannot be in the letter's own language", field=field)
        current = existing.get(item.lang)
        if current is None:
            session.add(LetterTranslation(letter_id=letter.id, **item.model_dump()))
        elif (current.title, current.body, current.recipients) != (
            item.title,
            item.body,
            item.recipients,
        ):
            if locked:
                raise Conflict(
                    "the letter has signatures: an existing translation can no longer change",
                    field=field,
                    error="letter_text_locked",
                )
            current.sqlmodel_update(item.model_dump(exclude={"lang"}))
            session.add(current)
    session.flush()


def translations_of(session: Session, *, letter: Letter) -> list[LetterTranslation]:
    return list(
        session.exec(
            select(LetterTranslation)
            .where(LetterTranslation.letter_id == letter.id)
            .order_by(col(LetterTranslation.lang))
        )
    )


def list_visible(
    session: Session, *, principal: Principal | None, limit: int, cursor: str | None
) -> tuple[paging.Page[Letter], int]:
    """One page of the letters the caller may see, newest first, and how many there are. Paged
    by rank (`paging.ranked`): a cursor made of letter ids would show where drafts sit."""
    kind, params = _visibility(session, principal=principal)
    query = select(Letter).where(_visible(kind))
    if params:
        query = query.params(params)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(col(Letter.created_at).desc(), col(Letter.id).desc())
    page, _ = paging.ranked(session, ordered, limit=limit, cursor=cursor)
    return page, int(total)


def to_public(session: Session, *, letter: Letter) -> LetterPublic:
    assert letter.id is not None
    named, anonymous = counting.counts(session, letter_id=letter.id)
    total = named + anonymous
    return LetterPublic(
        slug=letter.slug,
        title=letter.title,
        lang=letter.lang,
        body=letter.body,
        recipients=letter.recipients,
        status=letter.status,
        translations=[
            TranslationPublic.model_validate(t, from_attributes=True)
            for t in translations_of(session, letter=letter)
        ],
        declared_total=letter.declared_total,
        declared_anonymous=letter.declared_anonymous,
        count_discrepancy=None if letter.declared_total is None else letter.declared_total - total,
        counts=CountsPublic(total=total, named=named, anonymous=anonymous),
        created_at=letter.created_at,
        closed_at=letter.closed_at,
        self_signing=letter.self_signing,
        text_version=letter.text_version,
    )
