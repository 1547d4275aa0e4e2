"""Locale negotiation, count sentences and gettext catalogs (app/i18n/locales)."""

from app.i18n.catalogs import compile_catalogs

# The .mo files are build products (not in git): compile any that are missing so that a fresh
# checkout, `make run`, the tests and the container all serve translated text.
compile_catalogs()
