"""Letters: create, read, update; who may see and manage them."""

from sqlalchemy import exists, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.auth import service as auth_service
from app.auth.service import Principal
from app.errors import BadRequest, Conflict, Forbidden, NotFound
from app.letters.models import Letter, LetterStatus, LetterTranslation
from app.letters.schemas import (
    Counts,
    LetterCreate,
    LetterPublic,
    LetterUpdate,
    TranslationIn,
    TranslationPublic,
)
from app.signatures import counting

_TRANSITIONS = {
    LetterStatus.draft: {LetterStatus.open},
    LetterStatus.open: {LetterStatus.closed},
    LetterStatus.closed: set(),
}


def get_by_slug(session: Session, *, slug: str) -> Letter | None:
    return session.exec(select(Letter).where(Letter.slug == slug)).first()


def can_manage(session: Session, *, letter: Letter, principal: Principal | None) -> bool:
    if principal is None:
        return False
    if principal.is_admin:
        return True
    if principal.token_id is not None and letter.created_by_token_id == principal.token_id:
        return True
    assert letter.id is not None
    return letter.id in auth_service.granted_letter_ids(session, principal=principal)


def get_visible(session: Session, *, slug: str, principal: Principal | None) -> Letter:
    """A letter the caller may see: non-draft for everyone, drafts for their managers only."""
    letter = get_by_slug(session, slug=slug)
    if letter is None or (
        letter.status == LetterStatus.draft
        and not can_manage(session, letter=letter, principal=principal)
    ):
        # A draft is reported as missing so that its existence is not confirmed.
        raise NotFound(
            f"no letter '{slug}'" if _printable(slug) else "no such letter", field="slug"
        )
    return letter


def get_managed(session: Session, *, slug: str, principal: Principal) -> Letter:
    """A letter the caller manages; 404 if they may not see it, 403 if only see it."""
    letter = get_visible(session, slug=slug, principal=principal)
    if not can_manage(session, letter=letter, principal=principal):
        raise Forbidden("this token does not manage this letter", field="slug")
    return letter


def _printable(slug: str) -> bool:
    return all(c.isalnum() or c == "-" for c in slug) and len(slug) <= 80


def create(session: Session, *, data: LetterCreate, principal: Principal) -> Letter:
    if get_by_slug(session, slug=data.slug) is not None:
        raise Conflict(
            f"a letter with slug '{data.slug}' already exists", field="slug", error="duplicate_slug"
        )
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
    )
    session.add(letter)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            f"a letter with slug '{data.slug}' already exists", field="slug", error="duplicate_slug"
        ) from None
    _set_translations(session, letter=letter, translations=data.translations, locked=False)
    return letter


def has_signatures(session: Session, *, letter: Letter) -> bool:
    from app.signatures.models import Signature

    return bool(session.scalar(select(exists().where(col(Signature.letter_id) == letter.id))))


def update(session: Session, *, letter: Letter, data: LetterUpdate) -> Letter:
    changes = data.model_dump(exclude_unset=True)
    locked = has_signatures(session, letter=letter)
    for field in ("title", "body", "recipients", "lang"):
        if field in changes and changes[field] != getattr(letter, field):
            if locked:
                raise Conflict(
                    "the letter has signatures: its text can no longer change (add a translation instead)",
                    field=field,
                    error="letter_text_locked",
                )
            if changes[field] is None:
                raise BadRequest(f"{field} must not be null", field=field)
            setattr(letter, field, changes[field])
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
    if "declared_total" in changes:
        letter.declared_total = total
    if "declared_anonymous" in changes:
        letter.declared_anonymous = anonymous
    session.add(letter)
    session.flush()
    if data.translations is not None:
        _set_translations(session, letter=letter, translations=data.translations, locked=locked)
    return letter


def _set_translations(
    session: Session, *, letter: Letter, translations: list[TranslationIn], locked: bool
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
    session: Session, *, principal: Principal | None, limit: int, offset: int
) -> tuple[list[Letter], int]:
    query = select(Letter)
    if principal is None:
        query = query.where(Letter.status != LetterStatus.draft)
    elif not principal.is_admin:
        granted = auth_service.granted_letter_ids(session, principal=principal)
        query = query.where(
            (col(Letter.status) != LetterStatus.draft)
            | (col(Letter.created_by_token_id) == principal.token_id)
            | col(Letter.id).in_(granted or {-1})
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.exec(
        query.order_by(col(Letter.created_at).desc(), col(Letter.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total)


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
        counts=Counts(total=total, named=named, anonymous=anonymous),
        created_at=letter.created_at,
        closed_at=letter.closed_at,
    )
