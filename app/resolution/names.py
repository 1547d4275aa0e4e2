"""Turn one signatory line as printed into the organisation's names.

`Reporters Without Borders (Reporters sans frontières, RSF)` is one organisation with three
names; `香港黎明, Dawn of Hong Kong, 香港の夜明け` too; `Friends of Tibet (NZ)` is one name
(a parenthesised country qualifies the name rather than naming it again).
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from babel import Locale

from app.resolution.normalise import STOPWORDS
from app.resolution.scripts import char_script, detect_script, is_cjk_script

MAX_NAME_LENGTH = 300
_BIDI_AND_CONTROL = re.compile(
    r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"
)
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u034f\u180e]")
_GROUP = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|【([^【】]*)】|（([^（）]*)）")
_TRAILING_PUNCT = " .,;:-–—/"


@dataclass(frozen=True)
class ParsedName:
    name: str
    script: str
    is_acronym: bool
    is_primary: bool = False


class NameError_(ValueError):
    """A name the registry refuses (empty, too long, control or bidi-override characters)."""


def validate_name(raw: str) -> str:
    """NFC, trimmed, 1–300 characters, no control/bidi-override; raises NameError_ otherwise."""
    if _BIDI_AND_CONTROL.search(raw):
        raise NameError_("must not contain control or bidi-override characters")
    name = unicodedata.normalize("NFC", re.sub(r"\s+", " ", raw)).strip()
    if not _INVISIBLE.sub("", name).strip():
        raise NameError_("must not be empty or made only of invisible characters")
    if len(name) > MAX_NAME_LENGTH:
        raise NameError_(f"must be at most {MAX_NAME_LENGTH} characters")
    return name


@cache
def _territory_words() -> frozenset[str]:
    words: set[str] = set()
    for lang in ("en", "fr", "es", "de", "pt"):
        for code, label in Locale.parse(lang).territories.items():
            words.add(label.casefold())
            if code.isalpha():
                words.add(code.casefold())
    return frozenset(words)


def is_territory(text: str) -> bool:
    return text.strip().casefold() in _territory_words()


def is_acronym(name: str) -> bool:
    """A single token mostly in capitals: RSF, FORUM-ASIA, iDEFEND, L4L, ICRtoP."""
    if " " in name.strip():
        return False
    letters = [c for c in name if c.isalpha()]
    upper = sum(c.isupper() for c in letters)
    return upper >= 2 and upper > len(letters) - upper


def _initials(words: list[str]) -> str:
    letters = []
    for word in words:
        if word.casefold() in STOPWORDS:
            continue
        base = unicodedata.normalize("NFKD", word[0])[0]
        letters.append(base.upper())
    return "".join(letters)


def _split_edge_acronym(piece: str) -> list[str]:
    """`VAJ Vietnamese Association in Japan` → acronym + name, when the initials agree."""
    words = piece.split()
    if len(words) < 3:
        return [piece]
    first, last = words[0], words[-1]
    if is_acronym(last) and last.isalpha() and _initials(words[:-1]) == last.upper():
        return [" ".join(words[:-1]), last]
    if is_acronym(first) and first.isalpha() and _initials(words[1:]) == first.upper():
        return [first, " ".join(words[1:])]
    # `Lesbian and Gay Federation in Germany LSVD`: a capitalised last word after a name
    # written in mixed case is its acronym even when the initials are those of another
    # language; a place code (UK, NZ) or an all-capitals line is left whole.
    rest = words[:-1]
    if (
        len(rest) >= 3
        and is_acronym(last)
        and last.isalpha()
        and last.isupper()
        and len(last) >= 3
        and not is_territory(last)
        and any(w.islower() or w.istitle() for w in rest if w.casefold() not in STOPWORDS)
        and not any(is_acronym(w) for w in rest)
        and not rest[-1].endswith(",")  # "Fridays for Future, PCT": a qualifier, not a name
    ):
        return [" ".join(rest), last]
    return [piece]


def _split_dash_acronym(piece: str) -> list[str]:
    """`FOVIDA - Fomento de la Vida`, `Defenders Network- SAHRDN`: a dash beside an acronym."""
    parts = re.split(r"\s+[-–—]\s*|[-–—]\s+", piece)
    if len(parts) != 2:
        return [piece]
    left, right = (p.strip() for p in parts)
    for acronym in (left, right):
        if is_acronym(acronym) and len(acronym) >= 3 and not is_territory(acronym):
            return [left, right]
    return [piece]


def _token_is_cjk(token: str) -> bool:
    if token.isascii():
        return False
    return any(is_cjk_script(char_script(c)) or char_script(c) == "Kana" for c in token)


def _split_script_runs(piece: str) -> list[str]:
    """`Federation for a Democratic China 民主中国陣線` → one name per script run."""
    runs: list[list[str]] = []
    previous: bool | None = None
    for token in piece.split():
        cjk = _token_is_cjk(token)
        if cjk != previous:
            runs.append([])
            previous = cjk
        runs[-1].append(token)
    if len(runs) < 2:
        return [piece]
    return [" ".join(run) for run in runs]


def _split_commas_across_scripts(piece: str) -> list[str]:
    # Commas inside a Latin name are common ("Fuerza, Unión, Justicia"); split only when the
    # comma separates names written in different scripts.
    parts = [p.strip() for p in re.split(r"[,、，]", piece) if p.strip()]
    if len(parts) > 1 and len({_token_is_cjk(p) for p in parts}) > 1:
        return parts
    return [piece]


def _split_slash(piece: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"\s*/\s*", piece) if p.strip()]
    if len(parts) > 1 and any(" " in p for p in parts):
        return parts
    return [piece]


def _strip(text: str) -> str:
    return text.strip(_TRAILING_PUNCT + " ").strip()


def split_signatory_line(line: str) -> list[ParsedName]:
    """All names of one signatory line, the first one primary, in the order printed."""
    text = validate_name(line)
    pieces: list[tuple[int, str]] = []  # (offset in line, text) to keep the printed order
    kept_groups: list[tuple[int, int]] = []
    for match in _GROUP.finditer(text):
        content = next(g for g in match.groups() if g is not None).strip()
        if not content:
            continue
        if is_territory(content):
            kept_groups.append(match.span())
            continue
        for alternate in re.split(r"\s*[,;，]\s*", content):
            if _strip(alternate):
                pieces.append((match.start(), _strip(alternate)))
    # Text around removed groups is one name: "Institute (SEATINI) Uganda" → "Institute Uganda".
    removed = [m.span() for m in _GROUP.finditer(text) if m.span() not in kept_groups]
    remainder = re.sub(
        r"\s+", " ", _GROUP.sub(lambda m: m.group(0) if m.span() in kept_groups else " ", text)
    )
    remainder_offset = next(
        (
            i
            for i, c in enumerate(text)
            if not c.isspace() and not any(a <= i < b for a, b in removed)
        ),
        0,
    )
    if _strip(remainder):
        pieces.append((remainder_offset, _strip(remainder)))
    pieces.sort(key=lambda item: item[0])

    names: list[str] = []
    for _, piece in pieces:
        for a in _split_commas_across_scripts(piece):
            for b in _split_slash(a):
                for c in _split_script_runs(b):
                    for d in _split_dash_acronym(c):
                        names.extend(_split_edge_acronym(d))
    seen: set[str] = set()
    result: list[ParsedName] = []
    for raw in names:
        name = _strip(raw)
        if not name or name.casefold() in seen:
            continue
        seen.add(name.casefold())
        result.append(
            ParsedName(
                name=name,
                script=detect_script(name),
                is_acronym=is_acronym(name),
                is_primary=not result,
            )
        )
    if not result:
        result.append(ParsedName(text, detect_script(text), is_acronym(text), True))
    return result
