"""Turn an uploaded signatory file (CSV or a pasted numbered list) into rows to import.

Nothing here touches the database: parsing problems of the whole file raise `BadRequest`;
problems of one row are kept on that row (`ImportRow.error`) so the plan can report them.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import inspect

from app.errors import BadRequest
from app.resolution.lookalike import strip_invisible
from app.signatures.models import Signature

# The signature's own values the model marks `CSV_COLUMN`, each a column of the same name: a row
# gives its cell (when not empty) to SignatureCreate, which validates it, the import stores it,
# and the coordinator's export writes it back. Nothing else names them.
SIGNATURE_COLUMNS = tuple(c.key for c in inspect(Signature).columns if c.info.get("csv"))
# The columns of seeds/signatories.csv (who signs, and where), then the signature's own: what
# the CSV export writes, in this order.
IMPORT_COLUMNS = (
    "position",
    "name",
    "other_names",
    "kind",
    "lang",
    "country",
    "website",
    "anonymous",
    *SIGNATURE_COLUMNS,
)
# The signature's columns that have no cell of their own, and why. With IMPORT_COLUMNS they
# name every column of the table (tests/imports/test_columns.py): a new column is either marked
# CSV_COLUMN or listed here, never forgotten by the import or the export.
NOT_CARRIED = {
    "id": "given by the database",
    "letter_id": "the letter imported into, or exported",
    "organisation_id": "resolved from name, other_names, kind, lang, country and website",
    "display_name": "the name cell, as the file prints it",
    "signed_at": "the time of the import",
    "source": "import or seed, said by who imports",
    "withdrawn_at": "exports list live signatures only",
}
# Every other column may be left out: a missing column reads as empty cells.
REQUIRED_COLUMN = "name"
OTHER_NAMES_SEPARATOR = "|"
# Cells the CSV export prefixes with an apostrophe so spreadsheets do not run them as formulas.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n", ""})

# "1. NAME", "- 10.NAME", "73. NAME", "12) NAME", "5、NAME"; the dash is a list bullet some
# editors add.
_ENTRY = re.compile(r"^\s*(?:[-*•·]\s*)?(\d{1,6})\s*[.)．、）]\s*(\S.*)$")
# Markdown escapes that copy-paste from rendered letters leaves behind ("T\*Revers").
_MD_ESCAPE = re.compile(r"\\([*_`#\[\]()\\])")
# A line that starts like a footnote or a heading is never the end of a wrapped name.
_NOTE_START = re.compile(r"^(?:\\?[*†‡※#]|注|備註|备注|notes?\b|total\b)", re.IGNORECASE)
# A name that ends on one of these words or characters continues on the next line.
_OPEN_ENDING = re.compile(
    r"(?:[-–—/&,:(\[【（]|\b(?:and|of|for|the|in|on|to|at|de|des|du|la|le|y|et|und|für))$",
    re.IGNORECASE,
)
_OPENERS = "([【（"
_CLOSERS = ")]】）"


@dataclass
class Note:
    """A line that is neither an entry nor part of one: a footnote, a heading, a comment."""

    line: int
    text: str


@dataclass
class ImportRow:
    line: int  # 1-based line of the file where the row starts
    position: int | None = None
    name: str = ""
    other_names: list[str] = field(default_factory=list)
    kind: str = "organisation"
    lang: str | None = None
    country: str | None = None
    website: str | None = None
    anonymous: bool = False
    # The non-empty cells of SIGNATURE_COLUMNS, as read; validated when the row is planned.
    cells: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # why this row cannot be imported, found while parsing


@dataclass
class ParsedImport:
    format: str  # "csv" | "text"
    rows: list[ImportRow] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


@dataclass
class PastedEntry:
    number: int
    text: str
    line: int  # 1-based line where the entry starts


@dataclass
class PastedList:
    entries: list[PastedEntry] = field(default_factory=list)
    # Lines that are not entries nor wrapped continuations: footnotes, "Originally published…".
    notes: list[tuple[int, str]] = field(default_factory=list)


def decode(data: bytes) -> str:
    """UTF-8 text (a leading BOM dropped); 400 naming the line of the first invalid byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise BadRequest(
            f"line {line} is not valid UTF-8 (byte 0x{data[exc.start]:02X} at byte {column} "
            "of the line); save the file as UTF-8",
            error="invalid_encoding",
            field="body",
        ) from None
    if not text.strip():
        raise BadRequest("the file is empty", error="empty_file", field="body")
    return text


def clean_text(text: str) -> str:
    text = _MD_ESCAPE.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _unfinished(text: str) -> bool:
    """A name cut by a line break: an open bracket, or a last word that needs a next one."""
    depth = sum(text.count(c) for c in _OPENERS) - sum(text.count(c) for c in _CLOSERS)
    return depth > 0 or bool(_OPEN_ENDING.search(text))


def _continues(line: str) -> bool:
    """A line that can only be the rest of a name: it starts in lower case or closes a bracket."""
    return line[0] in _CLOSERS or line[0].islower()


def parse_pasted_list(text: str) -> PastedList:
    """Split pasted text into numbered entries; a wrapped name continues on the next line.

    Blank lines and page breaks are ignored: after one, a line still continues the entry when
    the entry is visibly unfinished (open bracket, trailing "and"/"of"/dash) or the line starts
    in lower case; otherwise it is a note. A line that starts like a footnote ("*", "†",
    "Note") is always a note.
    """
    result = PastedList()
    current: PastedEntry | None = None
    after_blank = False
    # Lines are counted on "\n" only, as editors number them; a form feed (page break) is
    # whitespace that strip() removes.
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            after_blank = True
            continue
        match = _ENTRY.match(line)
        if match:
            current = PastedEntry(int(match.group(1)), clean_text(match.group(2)), number)
            result.entries.append(current)
        elif (
            current is not None
            and not _NOTE_START.match(line)
            and (not after_blank or _unfinished(current.text) or _continues(line))
        ):
            current.text = clean_text(f"{current.text} {line}")
        else:
            result.notes.append((number, clean_text(line)))
            current = None
        after_blank = False
    return result


def parse_text(text: str) -> ParsedImport:
    """A pasted numbered list: each entry is one organisation, its number its position."""
    pasted = parse_pasted_list(text)
    if not pasted.entries:
        raise BadRequest(
            "no numbered entries found: a pasted list needs lines like '1. Name'",
            error="empty_file",
            field="body",
        )
    return ParsedImport(
        format="text",
        rows=[ImportRow(line=e.line, position=e.number, name=e.text) for e in pasted.entries],
        notes=[Note(line=n, text=t) for n, t in pasted.notes],
    )


def unneutralise(cell: str) -> str:
    """Undo the export's formula guard: "'=SUM" was exported for "=SUM"."""
    if len(cell) > 1 and cell[0] == "'" and strip_invisible(cell[1:]).startswith(FORMULA_TRIGGERS):
        return cell[1:]
    return cell


def _cell(record: dict[str, str], column: str) -> str:
    return unneutralise(record.get(column, "")).strip()


def _row_from_record(line: int, record: dict[str, str]) -> ImportRow:
    row = ImportRow(line=line)
    problems: list[str] = []
    position = _cell(record, "position")
    if position:
        if position.isdigit() and 1 <= int(position) <= 2**31 - 1:
            row.position = int(position)
        else:
            problems.append("position must be a whole number from 1")
    row.name = _cell(record, "name")
    row.other_names = [
        unneutralise(n).strip()
        for n in record.get("other_names", "").split(OTHER_NAMES_SEPARATOR)
        if n.strip()
    ]
    row.kind = _cell(record, "kind") or "organisation"
    row.lang = _cell(record, "lang") or None
    row.country = _cell(record, "country") or None
    row.website = _cell(record, "website") or None
    row.cells = {c: cell for c in SIGNATURE_COLUMNS if (cell := _cell(record, c))}
    anonymous = _cell(record, "anonymous").lower()
    if anonymous in _TRUE:
        row.anonymous = True
    elif anonymous not in _FALSE:
        problems.append("anonymous must be true or false")
    if not row.name:
        if not row.anonymous:
            problems.append("name is required unless anonymous is true")
        elif row.other_names or row.website or row.country:
            problems.append("a row without a name cannot carry other names, a country or a website")
    if problems:
        row.error = "; ".join(problems)
    return row


def parse_csv(text: str) -> ParsedImport:
    """CSV with a header naming `name` and any other import columns (any order; unknown columns
    are noted)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    result = ParsedImport(format="csv")
    header: list[str] | None = None
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip().lstrip("\ufeff").lower() for c in cells]
                _check_header(header, result, line=line)
                continue
            if len(cells) > len(header):
                result.rows.append(
                    ImportRow(
                        line=line,
                        error=f"the row has {len(cells)} cells but the header has {len(header)}",
                    )
                )
                continue
            result.rows.append(_row_from_record(line, dict(zip(header, cells, strict=False))))
    except csv.Error as exc:
        raise BadRequest(
            f"line {reader.line_num} is not valid CSV ({exc})", error="invalid_csv", field="body"
        ) from None
    if header is None:
        raise BadRequest("the file is empty", error="empty_file", field="body")
    if not result.rows:
        raise BadRequest("the file has a header but no rows", error="empty_file", field="body")
    return result


def _check_header(header: list[str], result: ParsedImport, *, line: int) -> None:
    if REQUIRED_COLUMN not in header:
        optional = ", ".join(c for c in IMPORT_COLUMNS if c != REQUIRED_COLUMN)
        raise BadRequest(
            f"the CSV header lacks the column {REQUIRED_COLUMN}; the first line must name the "
            f"columns, {REQUIRED_COLUMN} and any of {optional}",
            error="missing_columns",
            field="body",
        )
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if repeated:
        raise BadRequest(
            f"the CSV header repeats the column(s) {', '.join(repeated)}",
            error="invalid_csv",
            field="body",
        )
    unknown = [c for c in header if c not in IMPORT_COLUMNS]
    if unknown:
        result.notes.append(Note(line=line, text=f"ignored column(s): {', '.join(unknown)}"))


def parse(data: bytes, *, media_type: str) -> ParsedImport:
    """Decode and parse an upload; media_type is "text/csv" or "text/plain"."""
    text = decode(data)
    return parse_csv(text) if media_type == "text/csv" else parse_text(text)
