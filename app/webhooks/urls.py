"""Which receiver URLs are allowed: HTTPS to a public address (an SSRF guard). The check
runs when subscribing and again before every delivery (DNS may have changed)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from app.config import get_settings
from app.errors import BadRequest

LOOPBACK_FOR_TESTS = {"127.0.0.1", "::1", "localhost"}


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check(url: str, *, field: str = "url") -> str:
    """The URL, or 400 naming the field: HTTPS, no credentials, and a host that resolves only
    to public addresses. `UNDERSIGNED_WEBHOOK_ALLOW_PRIVATE=true` (tests) also allows http://
    and loopback or private receivers."""
    allow_private = get_settings().webhook_allow_private
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise BadRequest("not a URL", field=field) from None
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise BadRequest("a webhook URL must use https://", field=field)
    if not parts.hostname or parts.username or parts.password:
        raise BadRequest("a webhook URL needs a host and no user or password", field=field)
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise BadRequest("the webhook URL's host does not resolve", field=field) from None
    addresses = {str(info[4][0]) for info in infos}
    if not allow_private and not all(_public(a) for a in addresses):
        raise BadRequest(
            "the webhook URL resolves to a loopback, private or reserved address", field=field
        )
    return url.strip()
