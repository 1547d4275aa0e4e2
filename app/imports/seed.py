"""Load the seed letter (seeds/letter.json + seeds/signatories.csv) once."""

import csv
import json
from pathlib import Path

from sqlmodel import Session

from app.auth.models import Role
from app.auth.service import Principal
from app.letters import service as letter_service
from app.letters.models import LetterStatus
from app.letters.schemas import LetterCreate, LetterUpdate
from app.organisations.schemas import OrganisationIn
from app.signatures import service as signature_service
from app.signatures.schemas import SignatureCreate

SEED_ACTOR = Principal(role=Role.admin, token_id=None)


def seeds_dir() -> Path:
    packaged = Path(__file__).resolve().parents[2] / "seeds"
    return packaged if packaged.is_dir() else Path.cwd() / "seeds"


def load_seed(session: Session, *, directory: Path | None = None) -> bool:
    """Create the seed letter and its signatures; False when it already exists."""
    directory = directory or seeds_dir()
    meta = json.loads((directory / "letter.json").read_text(encoding="utf-8"))
    if letter_service.get_by_slug(session, slug=meta["slug"]) is not None:
        return False
    status = meta.pop("status", "open")
    letter = letter_service.create(
        session,
        data=LetterCreate.model_validate(meta | {"status": LetterStatus.draft}),
        principal=SEED_ACTOR,
    )
    letter_service.update(session, letter=letter, data=LetterUpdate(status=LetterStatus.open))
    with (directory / "signatories.csv").open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            anonymous = row["anonymous"].strip().lower() in ("true", "1", "yes")
            organisation = None
            if row["name"].strip():
                organisation = OrganisationIn(
                    name=row["name"],
                    other_names=[n for n in row.get("other_names", "").split("|") if n.strip()],
                    lang=row.get("lang") or None,
                    country=row.get("country") or None,
                    website=row.get("website") or None,
                    kind=row.get("kind") or "organisation",
                )
            signature_service.sign(
                session,
                letter=letter,
                data=SignatureCreate(organisation=organisation, anonymous=anonymous),
                principal=SEED_ACTOR,
                source="seed",
            )
    if status != LetterStatus.open:
        letter_service.update(
            session, letter=letter, data=LetterUpdate(status=LetterStatus(status))
        )
    return True
