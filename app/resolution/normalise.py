"""Name normalisation: the keys under which names are compared."""

import re
import unicodedata

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def normalise(name: str) -> str:
    """NFKC, case-fold, punctuation to spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(_PUNCT.sub(" ", text).split())
