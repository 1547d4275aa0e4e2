"""Security headers; a header a route already set (the embed widget's CSP) is never replaced."""

# No third-party assets anywhere: pages load their own scripts and styles only. Inline styles
# are allowed (low risk, used by small server-rendered pages); inline scripts are not.
HTML_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# An SVG opened directly is a document that could run script; badges need none.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors *"
# Swagger UI and ReDoc, served by this server (app/pages): their bundles inject styles, ReDoc
# runs a worker from a blob. Still nothing from a third party.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


HTML_CSP_BYTES = HTML_CSP.encode("ascii")
SVG_CSP_BYTES = SVG_CSP.encode("ascii")
DOCS_CSP_BYTES = DOCS_CSP.encode("ascii")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_REFERRER = (b"referrer-policy", b"no-referrer")
_DENY_FRAMES = (b"x-frame-options", b"DENY")


def secured(headers: list[tuple[bytes, bytes]], *, docs: bool = False) -> list[tuple[bytes, bytes]]:
    """The headers with the security headers a response lacks added (a new list, or the same one
    when nothing is missing). `docs`: the response is one of the API documentation pages.

    Applied by the security middleware to every response, and once per representation to the
    public answers built in memory (app/embed/hits.py), which therefore pass through unchanged.
    """
    names: dict[bytes, bytes] = {}
    for name, value in headers:
        names.setdefault(name.lower(), value)
    added: list[tuple[bytes, bytes]] = []
    if b"x-content-type-options" not in names:
        added.append(_NOSNIFF)
    if b"referrer-policy" not in names:
        added.append(_NO_REFERRER)
    if b"content-security-policy" not in names:
        content_type = names.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type == b"text/html":
            added.append((b"content-security-policy", DOCS_CSP_BYTES if docs else HTML_CSP_BYTES))
            # For browsers without CSP frame-ancestors; only with our own CSP, so that a
            # route that allows framing (the widget) is never contradicted.
            if b"x-frame-options" not in names:
                added.append(_DENY_FRAMES)
        elif content_type == b"image/svg+xml":
            added.append((b"content-security-policy", SVG_CSP_BYTES))
    return [*headers, *added] if added else headers
