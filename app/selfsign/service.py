"""Self-signatures: request, confirm by email, decide (resolver, domain, coordinator),
withdraw through the private link, and purge the contact details.

What counts publicly is always a `signature` row: a self-signature becomes one (through the
one signing service, its resolver, visibility rules and letter lock) only once it is in a state
the letter counts, and that row is withdrawn when the signer withdraws or a coordinator
rejects. Pending or unverified requests therefore never reach a public count, list or export.
"""

import hashlib
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, col, select

from app import audit
from app.auth.models import Role
from app.auth.service import Principal
from app.config import get_settings
from app.db import utcnow
from app.errors import BadRequest, Conflict, NotFound, TooManyRequests
from app.letters import service as letter_service
from app.letters.models import Letter, LetterStatus
from app.organisations import service as organisation_service
from app.organisations.schemas import OrganisationCreate
from app.resolution import service as identity
from app.resolution.rules import registrable_domain
from app.resolution.service import Ambiguous, Resolution
from app.resolution.visibility import Viewer
from app.selfsign import tokens
from app.selfsign.mail import Mail
from app.selfsign.models import SelfSignature, SelfSignState, SelfSignToken, TokenPurpose
from app.selfsign.schemas import ContactUpdate, SignRequestCreate
from app.signatures import service as signature_service
from app.signatures.schemas import SignatureCreate

CONFIRMED = (SelfSignState.domain_verified, SelfSignState.unverified)
# States a coordinator still has to look at (the count JSON says how many, never who).
AWAITING = (SelfSignState.unverified,)
SOURCE = "self"


@dataclass(frozen=True)
class SelfSigner(Principal):
    """The signer acting through an emailed link: a caller who manages no letter, so the
    resolver shows it only what the public sees (Viewer rules), with its own audit name."""

    self_signature_id: int = 0

    @property
    def actor(self) -> str:
        return f"self-sign:{self.self_signature_id}"


def signer(self_signature: SelfSignature) -> SelfSigner:
    assert self_signature.id is not None
    return SelfSigner(Role.coordinator, None, self_signature_id=self_signature.id)


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return registrable_domain(email.rpartition("@")[2])


class IpWindow:
    """Sign requests per client address over the last hour, in this worker process."""

    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, *, limit: int, window: float = 3600.0) -> bool:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            if len(self._hits) > self.MAX_KEYS:
                for stale in [k for k, v in self._hits.items() if not v][: self.MAX_KEYS // 2]:
                    del self._hits[stale]
            return True

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


ip_window = IpWindow()


def ensure_accepting(*, letter: Letter) -> None:
    """404 unless the letter's coordinators opened its form; 409 unless it is open."""
    if not letter.self_signing or letter.status == LetterStatus.draft:
        raise NotFound("this letter has no public signing form", field="slug")
    signature_service.ensure_open(letter=letter)


def _links(*, confirm: str | None, manage: str) -> dict[str, str]:
    base = get_settings().public_url.rstrip("/")
    links = {"manage": f"{base}/sign-requests/manage/{manage}"}
    if confirm is not None:
        links["confirm"] = f"{base}/sign-requests/confirm/{confirm}"
    return links


def confirmation_mail(*, letter: Letter, to: str, confirm: str, manage: str) -> Mail:
    links = _links(confirm=confirm, manage=manage)
    hours = get_settings().self_sign_token_hours
    text = (
        f'Someone (we hope you) asked to sign the open letter "{letter.title}" for an '
        "organisation, with this email address.\n\n"
        f"To confirm the signature, open this link and press the button on the page "
        f"(the link works once, for {hours} hours):\n{links['confirm']}\n\n"
        "Your private link, to see the signature's state, correct your contact details or "
        f"withdraw the signature at any time:\n{links['manage']}\n\n"
        "Keep it to yourself: anyone with it can withdraw the signature. If you did not ask "
        "for this, ignore this message: nothing is signed without the confirmation."
    )
    return Mail(to=to, subject=f"Confirm your signature: {letter.title}", text=text)


def consented_text(session: Session, *, letter: Letter, data: SignRequestCreate) -> str:
    """The language of the text the signer consented to, checked against the letter: the
    current version, in the original or one of its translations."""
    if data.text_version is not None and data.text_version != letter.text_version:
        raise Conflict(
            "the letter's text has changed since it was shown: read it again before signing",
            field="text_version",
            error="text_version_changed",
        )
    lang = data.lang or letter.lang
    known = {letter.lang} | {t.lang for t in letter_service.translations_of(session, letter=letter)}
    if lang not in known:
        raise BadRequest("the letter has no text in this language", field="lang")
    return lang


def request(
    session: Session, *, letter: Letter, data: SignRequestCreate, client: str
) -> Mail | None:
    """Record a sign request and return the confirmation mail to send after the response.

    None when the address has reached its daily limit: the caller answers exactly as if the
    mail were sent, so the answer never tells whether an address or organisation has signed.
    """
    ensure_accepting(letter=letter)
    settings = get_settings()
    if not ip_window.allow(client, limit=settings.self_sign_per_ip_per_hour):
        raise TooManyRequests(
            "too many sign requests from this address; try again later",
            headers={"Retry-After": "3600"},
        )
    assert letter.id is not None
    text_lang = consented_text(session, letter=letter, data=data)
    hashed = email_hash(data.contact.email)
    since = utcnow() - timedelta(days=1)
    recent = session.scalar(
        select(func.count())
        .select_from(SelfSignature)
        .where(SelfSignature.email_hash == hashed, col(SelfSignature.created_at) >= since)
    )
    if int(recent or 0) >= settings.self_sign_per_email_per_day:
        return None
    row = SelfSignature(
        letter_id=letter.id,
        submitted=data.organisation.model_dump(mode="json"),
        anonymous=data.anonymous,
        contact_name=data.contact.name,
        contact_email=data.contact.email,
        email_hash=hashed,
        text_version=letter.text_version,
        text_lang=text_lang,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    confirm = tokens.mint(session, self_signature_id=row.id, purpose=TokenPurpose.confirm)
    manage = tokens.mint(session, self_signature_id=row.id, purpose=TokenPurpose.manage)
    audit.record(
        session,
        actor=signer(row).actor,
        action="selfsign.request",
        target_type="self_signature",
        target_id=row.id,
        details={"letter": letter.slug},
    )
    return confirmation_mail(letter=letter, to=data.contact.email, confirm=confirm, manage=manage)


def _names(row: SelfSignature) -> list[str]:
    submitted = row.submitted
    return [submitted.get("name", ""), *submitted.get("other_names", [])]


def resolution_for(session: Session, *, row: SelfSignature, viewer: Viewer) -> Resolution:
    """What the resolver makes of the submitted organisation, for this viewer."""
    parsed = identity.parse_names(
        name=row.submitted.get("name", ""), other_names=row.submitted.get("other_names", [])
    )
    return identity.resolve(
        session,
        names=[n.name for n in parsed] or _names(row),
        viewer=viewer,
        website=row.submitted.get("website"),
        country=row.submitted.get("country"),
    )


def counts_publicly(*, letter: Letter, state: str) -> bool:
    if state in (SelfSignState.verified, SelfSignState.domain_verified):
        return True
    return state == SelfSignState.unverified and letter.self_sign_counts_unverified


def letter_of(session: Session, row: SelfSignature) -> Letter:
    letter = session.get(Letter, row.letter_id)
    assert letter is not None
    return letter


def _lock(session: Session, row: SelfSignature) -> Letter:
    """Take the letter's write lock (every change to its signatures holds it), then re-read
    the request: a concurrent confirmation or withdrawal has committed by now."""
    letter = letter_of(session, row)
    signature_service.lock_letter(session, letter=letter)
    session.refresh(row)
    return letter


def materialise(
    session: Session,
    *,
    letter: Letter,
    row: SelfSignature,
    principal: Principal,
    organisation_id: int | None = None,
) -> None:
    """Make the public signature (through the one signing service). An organisation that had
    already signed keeps its signature, and this request does not own it."""
    if row.signature_id is not None:
        return
    if organisation_id is not None:
        data = SignatureCreate(
            anonymous=row.anonymous,
            organisation_id=organisation_id,
            display_name=row.submitted.get("name"),
        )
    else:
        data = SignatureCreate(
            anonymous=row.anonymous, organisation=OrganisationCreate(**row.submitted)
        )
    signed = signature_service.sign(
        session, letter=letter, data=data, principal=principal, source=SOURCE
    )
    row.organisation_id = signed.body["organisation_id"]
    if signed.created:
        row.signature_id = signed.body["id"]
    session.add(row)
    session.flush()


def confirm(session: Session, *, token: str) -> SelfSignature | None:
    """Confirm by the emailed token (POST only): None for any token that does not work."""
    found = tokens.find(session, token=token, purpose=TokenPurpose.confirm)
    if found is None:
        return None
    row = session.get(SelfSignature, found.self_signature_id)
    assert row is not None
    letter = _lock(session, row)
    session.refresh(found)
    if found.used_at is not None:
        return None  # a concurrent POST of the same link used it first
    tokens.use(session, row=found)
    if row.state != SelfSignState.pending_confirmation:
        return row
    row.confirmed_at = utcnow()
    # The public's view: the signer must learn nothing of organisations hidden from it, and
    # only an organisation everyone may see can vouch for an address by its website.
    resolution = resolution_for(session, row=row, viewer=Viewer(None))
    known_domain = None
    if resolution.status == "existing" and resolution.organisation_id is not None:
        organisation = organisation_service.get(session, organisation_id=resolution.organisation_id)
        known_domain = registrable_domain(organisation.website)
    domain = email_domain(row.contact_email)
    verified = known_domain is not None and domain == known_domain
    row.state = SelfSignState.domain_verified if verified else SelfSignState.unverified
    session.add(row)
    session.flush()
    # Unsure (a plausible rival, several namesakes) never signs by itself: the coordinator's
    # queue decides.
    if counts_publicly(letter=letter, state=row.state) and resolution.status != "needs_review":
        # identify() refuses a guess among namesakes before it writes anything.
        try:
            materialise(
                session,
                letter=letter,
                row=row,
                principal=signer(row),
                organisation_id=resolution.organisation_id if verified else None,
            )
        except Ambiguous:
            row.state = SelfSignState.unverified
            session.add(row)
    # The count JSON says how many wait for a coordinator: it moved.
    signature_service.touch_counts(session, letter=letter)
    session.flush()
    audit.record(
        session,
        actor=signer(row).actor,
        action="selfsign.confirm",
        target_type="self_signature",
        target_id=row.id,
        details={"letter": letter.slug, "state": row.state},
    )
    return row


def managed_by_token(session: Session, *, token: str) -> SelfSignature | None:
    found = tokens.find(session, token=token, purpose=TokenPurpose.manage)
    if found is None:
        return None
    return session.get(SelfSignature, found.self_signature_id)


def may_withdraw(*, letter: Letter, row: SelfSignature) -> bool:
    """The one rule: a closed letter may forbid withdrawing a signature, never an unconfirmed
    request."""
    return (
        letter.status != LetterStatus.closed
        or letter.self_sign_withdraw_after_close
        or row.state == SelfSignState.pending_confirmation
    )


def withdraw(session: Session, *, row: SelfSignature) -> SelfSignature:
    """The signer withdraws: gone from public lists and counts in this transaction."""
    letter = _lock(session, row)
    if not may_withdraw(letter=letter, row=row):
        raise Conflict(
            "the letter is closed and its coordinators do not allow withdrawals any more",
            field="slug",
            error="withdrawal_closed",
        )
    if row.state == SelfSignState.withdrawn:
        return row
    if row.signature_id is not None:
        signature_service.withdraw(
            session, letter=letter, signature_id=row.signature_id, principal=signer(row)
        )
    else:
        signature_service.lock_letter(session, letter=letter)
        signature_service.touch_counts(session, letter=letter)
    row.state = SelfSignState.withdrawn
    row.withdrawn_at = utcnow()
    session.add(row)
    # A withdrawn request cannot be confirmed later by an old link.
    for token in session.exec(
        select(SelfSignToken).where(
            SelfSignToken.self_signature_id == row.id,
            SelfSignToken.purpose == TokenPurpose.confirm,
            col(SelfSignToken.used_at).is_(None),
        )
    ):
        tokens.use(session, row=token)
    session.flush()
    audit.record(
        session,
        actor=signer(row).actor,
        action="selfsign.withdraw",
        target_type="self_signature",
        target_id=row.id,
        details={"letter": letter.slug},
    )
    return row


def update_contact(session: Session, *, row: SelfSignature, data: ContactUpdate) -> SelfSignature:
    if row.purged_at is not None or row.state == SelfSignState.withdrawn:
        raise Conflict("this signature's contact details can no longer change", field="contact")
    changed = []
    if data.name is not None and data.name != row.contact_name:
        row.contact_name = data.name
        changed.append("name")
    if data.email is not None and data.email != row.contact_email:
        row.contact_email = data.email
        row.email_hash = email_hash(data.email)
        changed.append("email")
    if changed:
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=signer(row).actor,
            action="selfsign.contact",
            target_type="self_signature",
            target_id=row.id,
            details={"fields": changed},
        )
    return row


def get_for_letter(session: Session, *, letter: Letter, self_signature_id: int) -> SelfSignature:
    row = session.get(SelfSignature, self_signature_id)
    if row is None or row.letter_id != letter.id:
        raise NotFound(f"no sign request {self_signature_id} on this letter", field="id")
    return row


def queue(
    session: Session, *, letter: Letter, states: list[str] | None = None
) -> list[SelfSignature]:
    """Confirmed self-signatures of a letter (the coordinator's queue first: unverified)."""
    wanted = states or [s.value for s in SelfSignState if s != SelfSignState.pending_confirmation]
    rows = session.exec(
        select(SelfSignature)
        .where(SelfSignature.letter_id == letter.id, col(SelfSignature.state).in_(wanted))
        .order_by(col(SelfSignature.created_at), col(SelfSignature.id))
    )
    order = {SelfSignState.unverified: 0, SelfSignState.domain_verified: 1}
    return sorted(rows, key=lambda r: order.get(SelfSignState(r.state), 2))


def verify(
    session: Session,
    *,
    letter: Letter,
    row: SelfSignature,
    principal: Principal,
    organisation_id: int | None = None,
) -> SelfSignature:
    _lock(session, row)
    if row.state not in (*CONFIRMED, SelfSignState.verified):
        raise Conflict(
            f"a {row.state} sign request cannot be verified", field="id", error="invalid_state"
        )
    target = organisation_id or row.organisation_id
    if organisation_id is not None and row.signature_id is not None:
        # A correction: the signature moves to the right organisation.
        signature_service.withdraw(
            session, letter=letter, signature_id=row.signature_id, principal=principal
        )
        row.signature_id = None
    materialise(session, letter=letter, row=row, principal=principal, organisation_id=target)
    row.state = SelfSignState.verified
    row.decided_at = utcnow()
    row.decided_by = principal.actor
    session.add(row)
    signature_service.touch_counts(session, letter=letter)
    session.flush()
    details: dict[str, Any] = {"letter": letter.slug}
    if organisation_id is not None:
        details["corrected"] = True
    audit.record(
        session,
        actor=principal.actor,
        action="selfsign.verify",
        target_type="self_signature",
        target_id=row.id,
        details=details,
    )
    return row


def rejection_mail(*, letter: Letter, row: SelfSignature, reason: str) -> Mail | None:
    if not row.contact_email:
        return None
    text = (
        f'The coordinators of the open letter "{letter.title}" did not accept the signature '
        f"made with this email address.\n\nTheir reason:\n{reason}\n"
    )
    return Mail(to=row.contact_email, subject=f"Signature not accepted: {letter.title}", text=text)


def reject(
    session: Session, *, letter: Letter, row: SelfSignature, principal: Principal, reason: str
) -> Mail | None:
    """Reject (withdrawing the public signature it made, if any); returns the mail telling
    the signer."""
    _lock(session, row)
    if row.state not in (*CONFIRMED, SelfSignState.verified):
        raise Conflict(
            f"a {row.state} sign request cannot be rejected", field="id", error="invalid_state"
        )
    if row.signature_id is not None:
        signature_service.withdraw(
            session, letter=letter, signature_id=row.signature_id, principal=principal
        )
    else:
        signature_service.lock_letter(session, letter=letter)
    row.state = SelfSignState.rejected
    row.reject_reason = reason
    row.decided_at = utcnow()
    row.decided_by = principal.actor
    session.add(row)
    signature_service.touch_counts(session, letter=letter)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="selfsign.reject",
        target_type="self_signature",
        target_id=row.id,
        details={"letter": letter.slug},
    )
    return rejection_mail(letter=letter, row=row, reason=reason)


def awaiting(session: Session, *, letter_id: int) -> int:
    """How many self-signatures wait for a coordinator (a number, never who)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(SelfSignature)
            .where(
                SelfSignature.letter_id == letter_id,
                col(SelfSignature.state).in_([s.value for s in AWAITING]),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class PurgeResult:
    self_signatures: int
    tokens: int


def purge(session: Session, *, dry_run: bool = False) -> PurgeResult:
    """Erase contact details and links: of letters closed more than `self_sign_purge_days`
    ago, and of requests never confirmed whose link has expired. Idempotent."""
    settings = get_settings()
    now = utcnow()
    closed_before = now - timedelta(days=settings.self_sign_purge_days)
    expired_before = now - timedelta(hours=settings.self_sign_token_hours)
    closed_letters = select(Letter.id).where(
        Letter.status == LetterStatus.closed, col(Letter.closed_at) <= closed_before
    )
    rows = list(
        session.exec(
            select(SelfSignature).where(
                col(SelfSignature.purged_at).is_(None),
                or_(
                    col(SelfSignature.letter_id).in_(closed_letters),
                    and_(
                        col(SelfSignature.state) == SelfSignState.pending_confirmation,
                        col(SelfSignature.created_at) <= expired_before,
                    ),
                ),
            )
        )
    )
    ids = [r.id for r in rows if r.id is not None]
    token_count = int(
        session.scalar(
            select(func.count())
            .select_from(SelfSignToken)
            .where(col(SelfSignToken.self_signature_id).in_(ids))
        )
        or 0
    )
    if dry_run or not rows:
        return PurgeResult(len(rows), token_count)
    tokens.delete_for(session, self_signature_ids=ids)
    for row in rows:
        row.contact_name = None
        row.contact_email = None
        row.purged_at = now
        session.add(row)
    session.flush()
    audit.record(
        session,
        actor="cli",
        action="selfsign.purge",
        target_type="self_signature",
        target_id=None,
        details={"self_signatures": len(rows), "tokens": token_count},
    )
    return PurgeResult(len(rows), token_count)
