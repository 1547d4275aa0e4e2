"""Load the seed letter (seeds/letter.json + seeds/signatories.csv) once."""

import json
from pathlib import Path

from sqlmodel import Session

from app.auth.models import Role
from app.auth.service import Principal
from app.imports import parsing
from app.imports import service as import_service
from app.letters import service as letter_service
from app.letters.models import LetterStatus
from app.letters.schemas import LetterCreate, LetterUpdate
from app.signatures.models import SignatureSource

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
    # The same import code as `POST /letters/{slug}/imports`, so the seed is a real test of it.
    parsed = parsing.parse((directory / "signatories.csv").read_bytes(), media_type="text/csv")
    import_service.run_import(
        session,
        letter=letter,
        parsed=parsed,
        principal=SEED_ACTOR,
        dry_run=False,
        source=SignatureSource.seed,
    )
    if status != LetterStatus.open:
        letter_service.update(
            session, letter=letter, data=LetterUpdate(status=LetterStatus(status))
        )
    return True
