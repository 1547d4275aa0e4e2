"""Gettext catalogs: the supported UI locales, compiled .mo files, Translations objects."""

import logging
import os
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
# Catalog directory name (babel/gettext spelling) → BCP 47 tag used on the wire.
SUPPORTED: dict[str, str] = {
    "en": "en",
    "fr": "fr",
    "es": "es",
    "de": "de",
    "pt": "pt",
    "ru": "ru",
    "ar": "ar",
    "zh_Hant": "zh-Hant",
    "zh_Hans": "zh-Hans",
    "ja": "ja",
}
DEFAULT = "en"
RTL = frozenset({"ar"})

log = logging.getLogger(__name__)


def po_path(name: str) -> Path:
    return LOCALES_DIR / name / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalogs() -> list[str]:
    """Compile every .po whose .mo is missing or older; returns the names compiled.

    `make` and the Dockerfile compile with `pybabel compile`; this covers a checkout where
    nobody did (the .mo files are not in git). A read-only install falls back to reading the
    .po in memory (see `translations`).
    """
    compiled = []
    for name in SUPPORTED:
        po = po_path(name)
        mo = po.with_suffix(".mo")
        if not po.exists() or (mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime):
            continue
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=name, domain=DOMAIN)
        try:
            tmp = mo.with_suffix(f".mo.{os.getpid()}.tmp")
            with tmp.open("wb") as handle:
                write_mo(handle, catalog, use_fuzzy=False)
            tmp.replace(mo)
        except OSError as exc:
            log.warning("cannot write %s (%s); reading the .po at runtime", mo, exc)
            continue
        compiled.append(name)
    return compiled


@cache
def translations(name: str) -> Translations:
    """The Translations of a supported catalog name (from its .mo, else from its .po)."""
    if name not in SUPPORTED:
        raise KeyError(name)
    mo = po_path(name).with_suffix(".mo")
    if mo.exists():
        with mo.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    if name == DEFAULT and not po_path(name).exists():
        return Translations(domain=DOMAIN)
    # Read-only tree without compiled catalogs: compile into memory.
    import io

    with po_path(name).open("rb") as handle:
        catalog = read_po(handle, locale=name, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)
