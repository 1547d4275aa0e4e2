"""Bulk import of signatories (CSV or a pasted list) and exports of a letter's signatories."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from app.auth.dependencies import CoordinatorUser, OptionalUser
from app.config import get_settings
from app.db import SessionDep
from app.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from app.imports import export, parsing, service
from app.imports.schemas import ImportPublic, ImportRefusedPublic, SignatoriesExport
from app.letters import service as letter_service
from app.letters.dependencies import ManagedLetter, VisibleLetter

router = APIRouter(prefix="/letters/{slug}", tags=["imports"])

MEDIA_TYPES = ("text/csv", "text/plain")


@dataclass
class Upload:
    media_type: str
    data: bytes


async def read_upload(request: Request) -> Upload:
    """The request body, refused early when its type is wrong or it is over the size limit.

    Declared before the session so that a slow upload is read before the request's
    transaction starts (on SQLite a write transaction holds the database's write lock).
    """
    content_type = request.headers.get("content-type", "")
    media_type, *params = (p.strip().lower() for p in content_type.split(";"))
    if media_type not in MEDIA_TYPES:
        raise UnsupportedMediaType(
            "send the list as text/csv (columns as in the README) or text/plain (a pasted "
            "numbered list)",
            field="Content-Type",
        )
    charset = next((p.split("=", 1)[1].strip('"') for p in params if p.startswith("charset=")), "")
    if charset not in ("", "utf-8", "utf8"):
        raise UnsupportedMediaType("only UTF-8 text is accepted", field="Content-Type")
    limit = get_settings().max_body_bytes
    too_large = PayloadTooLarge(
        f"the file is larger than the limit of {limit} bytes; split it", field="body"
    )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length must be a number of bytes", field="Content-Length")
        if int(declared) > limit:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    # The declared length may be absent (chunked) or wrong: count what actually arrives.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return Upload(media_type=media_type, data=b"".join(chunks))


UploadDep = Annotated[Upload, Depends(read_upload)]

_REQUEST_BODY = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {"type": "string"},
            "example": "position,name,other_names,kind,lang,country,website,anonymous\n"
            "1,Access Now,,organisation,en,,https://www.accessnow.org,false\n",
        },
        "text/plain": {
            "schema": {"type": "string"},
            "example": "1. Access Now\n- 2.ARTICLE 19\n3. Reporters Without Borders\n"
            "(Reporters sans frontières, RSF)\n",
        },
    },
}


@router.post(
    "/imports",
    response_model=ImportPublic,
    responses={
        400: {
            "model": ImportRefusedPublic,
            "description": "Rows with errors (without skip_errors)",
        },
        413: {"description": "Body over the configured limit"},
        415: {"description": "Not text/csv or text/plain in UTF-8"},
    },
    openapi_extra={"requestBody": _REQUEST_BODY},
)
def import_signatories(
    upload: UploadDep,
    letter: ManagedLetter,
    session: SessionDep,
    principal: CoordinatorUser,
    dry_run: Annotated[bool, Query(description="Plan only; write nothing")] = False,
    skip_errors: Annotated[bool, Query(description="Apply the rows without errors")] = False,
) -> dict[str, Any]:
    """Import signatories from CSV or a pasted list: a plan row by row, applied atomically."""
    parsed = parsing.parse(upload.data, media_type=upload.media_type)
    return service.run_import(
        session,
        letter=letter,
        parsed=parsed,
        principal=principal,
        dry_run=dry_run,
        skip_errors=skip_errors,
    )


def _full(session: SessionDep, letter: VisibleLetter, principal: OptionalUser) -> bool:
    return principal is not None and letter_service.can_manage(
        session, letter=letter, principal=principal
    )


FullExport = Annotated[bool, Depends(_full)]


def _headers(*, full: bool, filename: str) -> dict[str, str]:
    return {
        # A coordinator's export names anonymous signers: no cache may keep it.
        "Cache-Control": "no-store" if full else "no-cache",
        "Vary": "Authorization",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Content-Type-Options": "nosniff",
    }


@router.get(
    "/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def export_csv(
    letter: VisibleLetter,
    session: SessionDep,
    full: FullExport,
    bom: Annotated[bool, Query(description="Start with a UTF-8 BOM (for Excel)")] = False,
) -> Response:
    """Signatories as CSV (import columns): named only, or all with anonymous flags for the letter's coordinators."""
    rows = export.signatories(session, letter=letter, full=full)
    return Response(
        export.to_csv(rows, bom=bom).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers=_headers(full=full, filename=f"{letter.slug}.csv"),
    )


@router.get("/export.json", response_model=SignatoriesExport)
def export_json(letter: VisibleLetter, session: SessionDep, full: FullExport) -> JSONResponse:
    """Signatories as JSON: named only, or all with anonymous flags for the letter's coordinators."""
    rows = export.signatories(session, letter=letter, full=full)
    body = export.to_json(session, letter=letter, rows=rows, full=full)
    return JSONResponse(body, headers=_headers(full=full, filename=f"{letter.slug}.json"))
