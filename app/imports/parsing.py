"""Parse a signatory list pasted as letters print it (numbered lines, wraps, footnotes)."""

import re
from dataclasses import dataclass, field

# "1. NAME", "- 10.NAME", "73. NAME", "12) NAME"; the dash is a list bullet some editors add.
_ENTRY = re.compile(r"^\s*(?:[-*•]\s*)?(\d{1,6})\s*[.)]\s*(\S.*)$")
# Markdown escapes that copy-paste from rendered letters leaves behind ("T\*Revers").
_MD_ESCAPE = re.compile(r"\\([*_`#\[\]()\\])")


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


def clean_text(text: str) -> str:
    text = _MD_ESCAPE.sub(r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def parse_pasted_list(text: str) -> PastedList:
    """Split pasted text into numbered entries; a wrapped name continues on the next line."""
    result = PastedList()
    current: PastedEntry | None = None
    # A continuation must follow its entry directly; a blank line closes the entry.
    open_for_continuation = False
    for number, raw in enumerate(text.replace("\f", "\n").splitlines(), start=1):
        line = raw.strip()
        if not line:
            open_for_continuation = False
            continue
        match = _ENTRY.match(line)
        if match:
            current = PastedEntry(int(match.group(1)), clean_text(match.group(2)), number)
            result.entries.append(current)
            open_for_continuation = True
        elif current is not None and open_for_continuation:
            current.text = clean_text(f"{current.text} {line}")
        else:
            result.notes.append((number, clean_text(line)))
    return result
