"""Public organisation ids: opaque, stable, and telling nothing (decision 0100).

Internal ids are a sequence: shown to the public they would give away creation order and,
through the gaps, how many hidden organisations exist (issue 14.3). A public id is the
internal id encrypted under a server secret: a 64-bit block (32-bit id, 32-bit HMAC tag) run
through a four-round Feistel network keyed by HMAC-SHA256, written in base32. Decoding
needs no table, and an id nobody was given fails the tag check (answered as not found, like
any unknown id).

`public_org_id` / `internal_org_id` are the only two functions other code calls; swapping
the scheme (e.g. a stored random id) touches this module only.
"""

import base64
import hashlib
import hmac
import secrets
import struct
import threading

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app import db
from app.config import get_settings
from app.opendata.models import OpendataSecret
from app.organisations.models import Organisation

PREFIX = "org-"
_ROUNDS = 4
_SECRET_NAME = "public_id"
_lock = threading.Lock()
_key: bytes | None = None


def reset_key() -> None:
    """Forget the cached key (tests that change the setting)."""
    global _key
    _key = None


def _load_key() -> bytes:
    configured = get_settings().public_id_secret
    if configured is not None:
        return hashlib.sha256(configured.get_secret_value().encode()).digest()
    # The migration stores a random secret; a database made without it gets one here, in a
    # transaction of its own so that every worker reads the same row.
    engine = db.get_engine()
    with Session(engine) as session:
        row = session.exec(
            select(OpendataSecret).where(OpendataSecret.name == _SECRET_NAME)
        ).first()
        if row is None:
            session.add(OpendataSecret(name=_SECRET_NAME, value=secrets.token_hex(32)))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
            row = session.exec(
                select(OpendataSecret).where(OpendataSecret.name == _SECRET_NAME)
            ).one()
        return bytes.fromhex(row.value)


def _secret() -> bytes:
    global _key
    if _key is None:
        with _lock:
            if _key is None:
                _key = _load_key()
    return _key


def _round(key: bytes, number: int, half: int) -> int:
    digest = hmac.new(key, struct.pack(">BI", number, half), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def _tag(key: bytes, value: int) -> int:
    digest = hmac.new(key, b"tag" + struct.pack(">I", value), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def encode(value: int) -> str:
    if not 0 < value < 2**32:
        raise ValueError("organisation id out of range")
    key = _secret()
    left, right = value, _tag(key, value)
    for number in range(_ROUNDS):
        left, right = right, left ^ _round(key, number, right)
    block = struct.pack(">II", left, right)
    return PREFIX + base64.b32encode(block).decode().rstrip("=").lower()


def decode(public_id: str) -> int | None:
    """The internal id, or None when `public_id` is not one this server gave out."""
    if not public_id.startswith(PREFIX) or len(public_id) != len(PREFIX) + 13:
        return None
    try:
        block = base64.b32decode(public_id[len(PREFIX) :].upper() + "===")
    except ValueError:
        return None
    # base32 of 8 bytes leaves 4 spare bits in the last character: only the canonical
    # spelling is an id, so that each organisation has exactly one.
    if base64.b32encode(block).decode().rstrip("=").lower() != public_id[len(PREFIX) :]:
        return None
    key = _secret()
    left, right = struct.unpack(">II", block)
    for number in reversed(range(_ROUNDS)):
        left, right = right ^ _round(key, number, left), left
    if left == 0 or not hmac.compare_digest(
        right.to_bytes(4, "big"), _tag(key, left).to_bytes(4, "big")
    ):
        return None
    return left


def public_org_id(org: Organisation | int) -> str:
    """The id the public knows an organisation by."""
    value = org if isinstance(org, int) else org.id
    assert value is not None
    return encode(value)


def internal_org_id(public_id: str) -> int | None:
    return decode(public_id)
