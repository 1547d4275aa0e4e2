"""The gettext catalogs: complete for every locale, compiled when missing, CLDR numbers."""

import re
import shutil
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po
from babel.numbers import get_decimal_symbol, get_group_symbol

from app.i18n import catalogs
from app.i18n.negotiation import ui_locale
from app.i18n.sentences import number

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _template_ids() -> set[str]:
    with (catalogs.LOCALES_DIR / "messages.pot").open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


@pytest.mark.parametrize("name", sorted(catalogs.SUPPORTED))
def test_catalog_is_complete_and_keeps_placeholders(name: str) -> None:
    with catalogs.po_path(name).open("rb") as handle:
        catalog = read_po(handle, locale=name)
    ids = set()
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else str(message.id[0])
        ids.add(msgid)
        raw = message.string if isinstance(message.string, tuple) else (message.string,)
        strings = [str(text or "") for text in raw]
        assert all(strings), f"{name}: untranslated {msgid!r}"
        assert not message.fuzzy, f"{name}: fuzzy {msgid!r}"
        if message.pluralizable:
            assert len(strings) == catalog.num_plurals
        wanted = set(_PLACEHOLDER.findall(msgid))
        for text in strings:
            used = set(_PLACEHOLDER.findall(text))
            assert used <= wanted, f"{name}: unknown placeholder in {text!r}"
            # Only plural forms that spell the number out (Arabic "one"/"two"/"zero", French
            # "une") may drop %(count)s; every other placeholder must stay.
            assert wanted - used <= {"count"}, f"{name}: lost a placeholder in {text!r}"
    assert ids == _template_ids()


def test_plural_forms_follow_cldr_for_integers() -> None:
    """The catalog's Plural-Forms picks one form per CLDR category, a different one for each."""
    for name in catalogs.SUPPORTED:
        choose = catalogs.translations(name).plural  # the compiled Plural-Forms expression
        rule = Locale.parse(name).plural_form
        forms: dict[str, set[int]] = {}
        for n in [*range(0, 230), 1000, 1001, 1002, 1011, 1_000_000]:
            forms.setdefault(rule(n), set()).add(choose(n))
        assert all(len(indices) == 1 for indices in forms.values()), (name, forms)
        # French/Spanish/Portuguese "many" (1 000 000) shares the "other" wording with digits.
        distinct = {c for c in forms if c != "many" or name not in ("fr", "es", "pt")}
        assert len({next(iter(forms[c])) for c in distinct}) == len(distinct), (name, forms)


def test_numbers_use_locale_separators_and_cldr_digits() -> None:
    assert number(1234567, ui_locale("en")) == "1,234,567"
    assert number(1234567, ui_locale("de")) == "1.234.567"
    assert number(1234567, ui_locale("fr")) == "1\u202f234\u202f567"
    assert number(1234567, ui_locale("ru")) == "1\u00a0234\u00a0567"
    arabic = Locale.parse("ar")
    group = get_group_symbol(arabic)
    assert number(1234567, ui_locale("ar")) == f"1{group}234{group}567"
    assert get_decimal_symbol(arabic)  # the default numbering system CLDR gives `ar`


def test_missing_mo_files_are_compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "locales"
    shutil.copytree(catalogs.LOCALES_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(catalogs, "LOCALES_DIR", copy)
    assert sorted(catalogs.compile_catalogs()) == sorted(catalogs.SUPPORTED)
    mo = copy / "ru" / "LC_MESSAGES" / "messages.mo"
    assert mo.stat().st_size > 0
    assert catalogs.compile_catalogs() == []  # up to date: nothing to do
