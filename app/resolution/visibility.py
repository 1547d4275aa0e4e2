"""Who may see which organisation: the anonymity rule, written once (decision 0001).

A signature *shows* its organisation when it is live and named; it shows it *publicly* when,
besides, its letter is not a draft. A signature is *sensitive* when it is anonymous or on a
draft letter. An organisation then has one standing:

- `public`: a signature shows it publicly; everyone may see it (its anonymous signatures stay
  hidden everywhere public);
- `unsigned`: no sensitive signature and none that shows it publicly; nothing to hide;
- `hidden`: a sensitive signature and none that shows it publicly; its mere existence would
  say that it signed something anonymously, so only admins and the coordinators of a letter
  it signed may see it.

`Viewer` answers "which organisations may this caller see": the public registry, plus (its
`extra`) the hidden ones that signed a letter it manages; admins see everything. Names are
all visible with their organisation: a name shown nowhere yet is a proposal, kept apart
(`NameProposal`) until an admin accepts it.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import Session, col, select

from app.auth import service as auth_service
from app.auth.service import Principal
from app.letters.models import Letter, LetterStatus
from app.signatures.models import Signature


class Standing(StrEnum):
    public = "public"
    unsigned = "unsigned"
    hidden = "hidden"


def shows() -> ColumnElement[bool]:
    """A live, named signature with an organisation (on the letter it belongs to)."""
    return and_(
        col(Signature.withdrawn_at).is_(None),
        col(Signature.anonymous).is_(False),
        col(Signature.organisation_id).is_not(None),
    )


def shows_publicly() -> ColumnElement[bool]:
    """A live, named signature on a letter that is not a draft (the query joins Letter)."""
    return and_(shows(), col(Letter.status) != LetterStatus.draft)


def sensitive() -> ColumnElement[bool]:
    """A signature that says something nobody else may learn (the query joins Letter)."""
    return or_(col(Signature.anonymous).is_(True), col(Letter.status) == LetterStatus.draft)


def standing_of(*, public: bool, sensitive: bool) -> Standing:
    if public:
        return Standing.public
    return Standing.hidden if sensitive else Standing.unsigned


def standing_columns() -> tuple[ColumnElement[int], ColumnElement[int]]:
    """Aggregates over an organisation's signatures joined to their letters: (shows it
    publicly, sensitive) as 0/1."""
    return (
        func.max(case((shows_publicly(), 1), else_=0)),
        func.max(case((sensitive(), 1), else_=0)),
    )


def standings(session: Session, *, organisation_ids: Iterable[int]) -> dict[int, Standing]:
    """The standing of each organisation (unsigned when it has no signature)."""
    ids = sorted(set(organisation_ids))
    result = dict.fromkeys(ids, Standing.unsigned)
    for start in range(0, len(ids), 5000):  # bounded IN lists
        rows = session.exec(
            select(Signature.organisation_id, *standing_columns())
            .join(Letter, col(Letter.id) == Signature.letter_id)
            .where(col(Signature.organisation_id).in_(ids[start : start + 5000]))
            .group_by(col(Signature.organisation_id))
        )
        for organisation_id, public, secret in rows:
            if organisation_id is not None:
                result[organisation_id] = standing_of(public=bool(public), sensitive=bool(secret))
    return result


def public_signatures(session: Session, *, organisation_id: int) -> list[tuple[Signature, Letter]]:
    """The signatures that show an organisation publicly, oldest first (its public page)."""
    return list(
        session.exec(
            select(Signature, Letter)
            .join(Letter, col(Letter.id) == Signature.letter_id)
            .where(Signature.organisation_id == organisation_id, shows_publicly())
            .order_by(col(Signature.signed_at))
        ).all()
    )


def letters_showing(session: Session, *, organisation_id: int) -> set[int]:
    """The letters that show an organisation publicly."""
    rows = session.exec(
        select(Signature.letter_id)
        .join(Letter, col(Letter.id) == Signature.letter_id)
        .where(Signature.organisation_id == organisation_id, shows_publicly())
        .distinct()
    )
    return set(rows)


def managed_letter_ids(session: Session, *, principal: Principal) -> set[int]:
    """The letters a coordinator created or was granted."""
    granted = auth_service.granted_letter_ids(session, principal=principal)
    if principal.token_id is None:
        return granted
    created = session.exec(
        select(Letter.id).where(Letter.created_by_token_id == principal.token_id)
    )
    return granted | {i for i in created if i is not None}


@dataclass
class Viewer:
    """What one caller may see; built once per request (it caches what it reads)."""

    principal: Principal | None
    _managed: frozenset[int] | None = field(default=None, repr=False)
    _extra: frozenset[int] | None = field(default=None, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.principal is not None and self.principal.is_admin

    def managed(self, session: Session) -> frozenset[int]:
        if self._managed is None:
            self._managed = frozenset(
                managed_letter_ids(session, principal=self.principal)
                if self.principal is not None
                else ()
            )
        return self._managed

    def may_edit(self, session: Session, *, organisation_id: int) -> bool:
        """Whether this caller may change an organisation's names or identifiers at once:
        admins, and a coordinator when every letter that shows it is theirs (decision 0067)."""
        if self.is_admin:
            return True
        return letters_showing(session, organisation_id=organisation_id) <= self.managed(session)

    def extra(self, session: Session) -> frozenset[int]:
        """Organisations that signed a letter this caller manages by a signature that does not
        show them publicly: among them, the hidden ones this caller may see anyway. What it
        costs depends on the caller's own letters only."""
        if self._extra is None:
            managed = sorted(self.managed(session))
            found: set[int] = set()
            for start in range(0, len(managed), 5000):
                found.update(
                    i
                    for i in session.exec(
                        select(Signature.organisation_id)
                        .join(Letter, col(Letter.id) == Signature.letter_id)
                        .where(
                            col(Signature.letter_id).in_(managed[start : start + 5000]),
                            col(Signature.organisation_id).is_not(None),
                            ~shows_publicly(),
                        )
                        .distinct()
                    )
                    if i is not None
                )
            self._extra = frozenset(found)
        return self._extra

    def hidden_among(self, session: Session, organisation_ids: Iterable[int]) -> set[int]:
        """The organisations of `organisation_ids` this caller may not see."""
        if self.is_admin:
            return set()
        ids = set(organisation_ids)
        hidden = {i for i, s in standings(session, organisation_ids=ids).items() if s == "hidden"}
        if not hidden:
            return hidden
        managed = sorted(self.managed(session))
        if not managed:
            return hidden
        signed = session.exec(
            select(Signature.organisation_id)
            .where(
                col(Signature.organisation_id).in_(sorted(hidden)),
                col(Signature.letter_id).in_(managed),
            )
            .distinct()
        )
        return hidden - set(signed)

    def sees(self, session: Session, organisation_id: int) -> bool:
        return not self.hidden_among(session, [organisation_id])
