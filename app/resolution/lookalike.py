"""Invisible characters and look-alike letters in names (UTS #39 confusables).

A name is stored as it will be shown, so what cannot be seen must not change who it is:
- characters that show nothing (zero-width space, word joiner, BOM, soft hyphen, left-to-right
  and right-to-left marks, variation selectors, tag characters) are removed before anything is
  stored or compared; ZWNJ/ZWJ are kept only between two letters of a script that writes
  with them (Arabic, Persian, Indic scripts), where they change how a word is spelled;
- a word that mixes Latin, Cyrillic or Greek letters where Unicode's confusable table (via
  `confusable-homoglyphs`) says they look like letters of the other script ("Аmnеstу", with
  Cyrillic А, е, у) is refused: shown on a page it is a twin of another name.

Whole-script look-alikes (a Russian word that happens to read as Latin capitals) are real
words and stay allowed.
"""

import re
import unicodedata

from confusable_homoglyphs import confusables

# Shows nothing and means nothing in a name.
_DROP = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f"
    "\u2060-\u2064\u206a-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
_JOINERS = "\u200c\u200d"
# Letters of these scripts never need a joiner: one beside them is invisible padding.
_NO_JOINERS = ("LATIN", "CYRILLIC", "GREEK", "CJK", "HIRAGANA", "KATAKANA", "HANGUL")
_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_WORD = re.compile(r"\w+")


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else ""


def _joins(before: str, after: str) -> bool:
    """Whether a ZWNJ/ZWJ between these characters can change a spelling."""
    return (
        before.isalpha()
        and after.isalpha()
        and not _script(before).startswith(_NO_JOINERS)
        and not _script(after).startswith(_NO_JOINERS)
    )


def strip_invisible(text: str) -> str:
    """The text without characters that show nothing (see the module docstring)."""
    text = _DROP.sub("", text)
    if not any(j in text for j in _JOINERS):
        return text
    kept = []
    for i, char in enumerate(text):
        if char in _JOINERS:
            before = text[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if not (before and after and _joins(before, after)):
                continue
        kept.append(char)
    return "".join(kept)


def lookalike_word(text: str) -> str | None:
    """The first word that mixes Latin, Cyrillic or Greek letters confusable with the
    word's main script, or None."""
    for word in _WORD.findall(text):
        scripts = {_script(c) for c in word if c.isalpha()} & set(_LOOKALIKE_SCRIPTS)
        if len(scripts) < 2:
            continue
        counts = {s: sum(_script(c) == s for c in word) for s in scripts}
        main = max(sorted(counts), key=counts.__getitem__)
        if confusables.is_confusable(word, greedy=False, preferred_aliases=[main.lower()]):
            found: str = word
            return found
    return None
