"""Import every table model so that SQLModel.metadata (Alembic, tests) sees the whole schema."""

from app.admin.models import AuditEvent, DuplicateCandidate, Judgement, MergeRecord
from app.auth.models import ApiToken, LetterGrant
from app.letters.models import Letter, LetterTranslation
from app.organisations.models import Organisation, OrganisationName, RegistryState
from app.signatures.models import IdempotencyRecord, Signature

__all__ = [
    "ApiToken",
    "AuditEvent",
    "DuplicateCandidate",
    "IdempotencyRecord",
    "Judgement",
    "Letter",
    "LetterGrant",
    "LetterTranslation",
    "MergeRecord",
    "Organisation",
    "OrganisationName",
    "RegistryState",
    "Signature",
]
