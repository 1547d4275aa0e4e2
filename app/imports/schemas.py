"""Response shapes of imports and exports."""

from pydantic import BaseModel, Field


class ImportCandidatePublic(BaseModel):
    organisation_id: int | None = Field(
        description="null when the organisation would be created by this (unapplied) import"
    )
    name: str
    score: float
    reasons: list[str] = Field(default_factory=list)


class ImportRowPublic(BaseModel):
    line: int = Field(description="Line of the file where the row starts")
    position: int | None = Field(description="Position given by the file (CSV column or number)")
    name: str | None
    anonymous: bool
    status: str = Field(
        description="existing | new | needs_review | already_signed | duplicate_in_file | "
        "anonymous (signer without recorded identity) | error"
    )
    organisation_id: int | None
    score: float | None
    matched_name: str | None
    candidates: list[ImportCandidatePublic]
    signature_position: int | None = Field(
        description="Position on the letter: the existing signature's, or the one it gets"
    )
    duplicate_of_line: int | None
    reason: str | None = Field(description="Why an error row cannot be imported")
    note: str | None


class ImportSummaryPublic(BaseModel):
    rows: int
    existing: int
    new: int
    needs_review: int
    already_signed: int
    duplicate_in_file: int
    anonymous: int
    error: int
    signatures_created: int
    organisations_created: int
    organisations_to_create: int


class ImportNotePublic(BaseModel):
    line: int
    text: str


class ImportPublic(BaseModel):
    letter: str
    format: str = Field(description="csv | text")
    dry_run: bool
    applied: bool
    positions: str = Field(
        description="kept: signatures take the file's positions; appended: after the last one"
    )
    summary: ImportSummaryPublic
    rows: list[ImportRowPublic]
    notes: list[ImportNotePublic] = Field(
        description="Lines that are not signatories (footnotes, headings), not imported"
    )


class ImportRefusedPublic(BaseModel):
    error: str
    detail: str
    field: str | None
    report: ImportPublic


class SignatoryExport(BaseModel):
    position: int
    name: str
    kind: str
    lang: str
    organisation_id: int | None
    other_names: list[str] | None = None
    country: str | None = None
    website: str | None = None
    anonymous: bool | None = None
    signed_at: str | None = None
    source: str | None = None


class SignatoriesExport(BaseModel):
    letter: str
    full: bool = Field(description="true: every signature with its anonymous flag (coordinator)")
    named_count: int
    anonymous_count: int
    signatories: list[SignatoryExport]
