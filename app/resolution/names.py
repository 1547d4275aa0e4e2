"""Turn one signatory line as printed into the organisation's names.

`Reporters Without Borders (Reporters sans frontières, RSF)` is one organisation with three
names; `香港黎明, Dawn of Hong Kong, 香港の夜明け` too; `Friends of Tibet (NZ)` is one name.

Parsing never invents a name. A bracketed, dashed, slashed, trailing or other-script part
becomes another name of the organisation only when it can stand for it on its own
(`_stands_alone`): an acronym (FIDH, LSVD), a name of several words, a name in another script,
a coined word (KontraS, PhilRights) or a word the rest of the line abbreviates to (Provea). A
place, a number, a type word, a chapter word or a stopword stays in the name as a qualifier:
`Tenants Union (London)` and `Women Lawyers Association (London)` share no name.
"""

import re
import unicodedata
from dataclasses import dataclass

from app.resolution.lookalike import lookalike_word, strip_invisible
from app.resolution.normalise import STOPWORDS, abbreviates, is_acronym, name_key, naming_word
from app.resolution.scripts import char_script, detect_script, is_cjk_script

__all__ = [
    "MAX_NAME_LENGTH",
    "NameError_",
    "ParsedName",
    "detect_script",
    "is_acronym",
    "split_signatory_line",
    "validate_name",
]

MAX_NAME_LENGTH = 300
_BIDI_AND_CONTROL = re.compile(
    r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u034f\u180e]")
# An HTML tag or comment as a browser would start one: `<` then a letter, `/`, `!` or `?`.
_MARKUP = re.compile(r"<[/!?]?[^\W\d_]|<[/!?]")
_GROUP = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|【([^【】]*)】|（([^（）]*)）")
_TRAILING_PUNCT = " .,;:-–—/"
_CAMEL = re.compile(r"[^\W\d_]*[a-z][A-Z]")


@dataclass(frozen=True)
class ParsedName:
    name: str
    script: str
    is_acronym: bool
    is_primary: bool = False


class NameError_(ValueError):
    """A name the registry refuses (empty, too long, markup, no letter, control or
    bidi-override characters)."""


def validate_name(raw: str) -> str:
    """NFC, trimmed, invisible characters removed (lookalike.strip_invisible), 1–300
    characters, at least one letter, no HTML markup, no control/bidi-override character, lone
    surrogate or word mixing look-alike letters of two scripts; raises NameError_ otherwise."""
    if _BIDI_AND_CONTROL.search(raw):
        raise NameError_("must not contain control or bidi-override characters")
    if _SURROGATE.search(raw):
        raise NameError_("must be valid Unicode text (a lone surrogate is not)")
    if not strip_invisible(_INVISIBLE.sub("", raw)).strip():
        raise NameError_("must not be empty or made only of invisible characters")
    # What cannot be seen is not stored: "Amnesty\u200b International" is Amnesty International.
    name = unicodedata.normalize("NFC", re.sub(r"\s+", " ", strip_invisible(raw))).strip()
    twin = lookalike_word(name)
    if twin is not None:
        raise NameError_(
            f"mixes look-alike letters of different scripts in '{twin}' (e.g. Cyrillic 'а' "
            "for Latin 'a'); write each word in one script"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise NameError_(f"must be at most {MAX_NAME_LENGTH} characters")
    if _MARKUP.search(name):
        raise NameError_("must not contain HTML markup (a tag such as <b> or <script>)")
    if not any(c.isalpha() for c in name):
        raise NameError_("must contain a letter (not only digits, punctuation or symbols)")
    return name


def _family(text: str) -> str:
    """The script of a name, with all CJK scripts as one (香港黎明 and 香港の夜明け are both)."""
    script = detect_script(text)
    return "CJK" if is_cjk_script(script) else script


def _stands_alone(part: str, rest: str) -> bool:
    """Whether `part`, printed beside `rest`, is plausibly another name of the organisation
    rather than a qualifier of `rest` (a place, a number, a type or chapter word…)."""
    key = name_key(part)
    if not key.identifying:
        return False
    if key.cjk:
        # 協會, 分會 or 青年 alone are words, not names.
        return len(key.cjk) >= 3
    if is_acronym(part) or _family(part) != _family(rest):
        return True
    if " " not in part.strip():
        # One printed word in the script of the rest: a coined name (KontraS), or one the rest
        # abbreviates to (Provea: PROgrama VEnezolano de educación-Acción, Acat-Burundi); an
        # unknown place (Hackney) never is.
        return bool(_CAMEL.match(part)) or abbreviates(key.despaced, name_key(rest), min_words=2)
    kinds = {kind for kind, _, _ in key.items}
    # A part naming a place or a chapter ("Youth Wing", "Tibet Society UK") is a name of its
    # own only with two words of its own: otherwise it qualifies the rest.
    own = sum(kind == "c" and naming_word(value) for kind, value, _ in key.items)
    return own >= 2 or (own == 1 and not kinds & {"p", "h"})


def _split_if_each_stands(piece: str, parts: list[str], *, verified: bool = False) -> list[str]:
    """`parts` when the first is a name of its own and every other one stands alone beside
    it (or, `verified` by the initials of one spelling the other, is a name of its own);
    otherwise the piece whole."""
    parts = [p for p in (_strip(p) for p in parts) if p]
    if (
        len(parts) > 1
        and name_key(parts[0]).identifying
        and all(
            name_key(part).identifying if verified else _stands_alone(part, parts[0])
            for part in parts[1:]
        )
    ):
        return parts
    return [piece]


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
        return _split_if_each_stands(piece, [" ".join(words[:-1]), last], verified=True)
    if is_acronym(first) and first.isalpha() and _initials(words[1:]) == first.upper():
        return _split_if_each_stands(piece, [first, " ".join(words[1:])], verified=True)
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
        and any(w.islower() or w.istitle() for w in rest if w.casefold() not in STOPWORDS)
        and not any(is_acronym(w) for w in rest)
        and not rest[-1].endswith(",")  # "Fridays for Future, PCT": a qualifier, not a name
    ):
        return _split_if_each_stands(piece, [" ".join(rest), last])
    return [piece]


def _split_dash_acronym(piece: str) -> list[str]:
    """`FOVIDA - Fomento de la Vida`, `Defenders Network- SAHRDN`: a dash beside an acronym."""
    parts = re.split(r"\s+[-–—]\s*|[-–—]\s+", piece)
    if len(parts) != 2:
        return [piece]
    if any(is_acronym(p.strip()) and len(p.strip()) >= 3 for p in parts):
        return _split_if_each_stands(piece, parts)
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
    return _split_if_each_stands(piece, [" ".join(run) for run in runs])


def _split_commas_across_scripts(piece: str) -> list[str]:
    # Commas inside a Latin name are common ("Fuerza, Unión, Justicia"); split only when the
    # comma separates names written in different scripts.
    parts = [p.strip() for p in re.split(r"[,、，]", piece) if p.strip()]
    if len(parts) > 1 and len({_token_is_cjk(p) for p in parts}) > 1:
        return _split_if_each_stands(piece, parts)
    return [piece]


def _split_slash(piece: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"\s*/\s*", piece) if p.strip()]
    if len(parts) > 1 and any(" " in p for p in parts):
        return _split_if_each_stands(piece, parts)
    return [piece]


def _strip(text: str) -> str:
    return text.strip(_TRAILING_PUNCT + " ").strip()


def _bracketed(text: str) -> list[tuple[int, str]]:
    """(offset, text) of the printed line's names: the line without the brackets whose every
    part stands alone beside it, then those parts, in printed order. When what is left
    outside the brackets is no name of its own ("London (Tenants Union)"), the line is one
    name."""
    groups = []
    for match in _GROUP.finditer(text):
        content = next(g for g in match.groups() if g is not None)
        alternates = [_strip(a) for a in re.split(r"\s*[,;，]\s*", content) if _strip(a)]
        if alternates:
            groups.append((match, alternates))
    outside = _GROUP.sub(" ", text)
    removed: list[re.Match[str]] = []
    pieces: list[tuple[int, str]] = []
    for match, alternates in groups:
        if all(_stands_alone(a, outside) for a in alternates):
            removed.append(match)
            pieces.extend((match.start(), a) for a in alternates)
    # Text around removed groups is one name: "Institute (SEATINI) Uganda" → "Institute Uganda".
    spans = [m.span() for m in removed]
    remainder = _strip(
        re.sub(r"\s+", " ", _GROUP.sub(lambda m: " " if m.span() in spans else m.group(0), text))
    )
    if removed and remainder and not name_key(remainder).identifying:
        return [(0, _strip(text))]
    if remainder:
        offset = next(
            i
            for i, c in enumerate(text)
            if not c.isspace() and not any(a <= i < b for a, b in spans)
        )
        pieces.append((offset, remainder))
    return sorted(pieces, key=lambda item: item[0])


def split_signatory_line(line: str) -> list[ParsedName]:
    """All names of one signatory line, the first one primary, in the order printed."""
    text = validate_name(line)
    names: list[str] = []
    for _, piece in _bracketed(text):
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
