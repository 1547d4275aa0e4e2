"""SVG badge: one rounded label with the localised count sentence, sized to its text."""

import unicodedata
from xml.sax.saxutils import escape, quoteattr

from app.i18n.negotiation import UiLocale

FONT_SIZE = 11
HEIGHT = 20
PADDING = 8
FONT_FAMILY = "Verdana,DejaVu Sans,Geneva,sans-serif"
# Advance widths in em of Verdana/DejaVu Sans (the fonts badges are drawn with), by class.
_NARROW = set(" .,:;'!|ijlIft()[]/")
_WIDE = set("mwMW@%")


def _em(char: str) -> float:
    code = ord(char)
    if unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0.0  # combining marks (Arabic harakat) and format controls take no advance
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0  # CJK ideographs, kana, full-width punctuation
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF:
        return 0.53
    if char in _NARROW or char in "\u00a0\u202f\u2009":
        return 0.34
    if char in _WIDE:
        return 0.95
    if char.isdigit():
        return 0.64
    if char.isupper():
        return 0.72
    return 0.62


def text_width(text: str) -> int:
    """Estimated rendered width in px at FONT_SIZE, rounded up with a small safety margin."""
    return int(sum(_em(c) for c in text) * FONT_SIZE * 1.05) + 1


def render(text: str, ui: UiLocale, *, fill: str = "#1f5f8b") -> bytes:
    """A standalone SVG document; every text is escaped, RTL locales set `direction`."""
    width = text_width(text) + 2 * PADDING
    rtl = ui.direction == "rtl"
    direction = ' direction="rtl" unicode-bidi="embed"' if rtl else ""
    label = quoteattr(text)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" role="img" aria-label={label} '
        f"xml:lang={quoteattr(ui.tag)}>"
        f"<title>{escape(text)}</title>"
        f'<rect width="{width}" height="{HEIGHT}" rx="3" fill="{fill}"/>'
        f'<text x="{width / 2:g}" y="14" fill="#fff" font-family="{FONT_FAMILY}" '
        f'font-size="{FONT_SIZE}" text-anchor="middle"{direction}>{escape(text)}</text>'
        "</svg>"
    )
    return svg.encode("utf-8")
