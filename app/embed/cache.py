"""Per-process cache of public letter counts, revalidated against `letter.revision`.

Every signature write bumps `letter.revision` and `letter.counts_changed_at`: in the same
transaction (`signatures.service.touch_counts`), or, for a signature on PostgreSQL, in a
statement of its own just after its commit (`counting.bump_signed`, decision 0109). A worker serves a count from
memory for at most `count_cache_ttl` seconds after it last checked that row, then re-reads the
one indexed row (slug → id, status, revision, counts_changed_at) and recounts only if the
revision moved. A commit in this process evicts the letter at once (see `_collect_letters`);
other processes see it within the TTL. Responses carry `Age` = time since that check, so a
client's cache lifetime (max-age) never extends past max-age after a write.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from app.db import open_session
from app.letters.models import Letter, LetterStatus
from app.signatures import counting

MAX_ENTRIES = 4096
# The fold: a letter whose revision did not move is recounted all the same once this many
# seconds have passed since its last count. A PostgreSQL signature moves the revision just
# after its commit (decision 0109); a process killed in between leaves the count one short
# in other workers for at most this long, never for good.
RECOUNT_AFTER = 60.0


@dataclass
class Snapshot:
    """Counts of one public letter as of one revision; `renders` memoises bodies per locale,
    `pages` the letter page and widget per (kind, locale, …) with the time they were made."""

    letter_id: int
    slug: str
    revision: int
    counts_changed_at: datetime
    named: int
    anonymous: int
    # selfsign hook: self-signatures waiting for a coordinator (counting.awaiting).
    awaiting: int = 0
    renders: dict[tuple[str, str], Any] = field(default_factory=dict)
    pages: dict[tuple[Any, ...], tuple[Any, float]] = field(default_factory=dict)
    # When the counts were last compared with a recount (time.monotonic), for the fold.
    counted_at: float = field(default_factory=time.monotonic)

    @property
    def total(self) -> int:
        return self.named + self.anonymous


@dataclass(frozen=True)
class Entry:
    """A cache slot: the snapshot (None: no public letter with that slug) and when it was checked."""

    snapshot: Snapshot | None
    checked_at: float


class CountCache:
    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        # Bumped by every invalidation: a refresh that started before one must not store its
        # (possibly older) result over the eviction.
        self._generation = 0

    def fresh(self, slug: str, *, ttl: float) -> Entry | None:
        """The entry if it was checked less than `ttl` seconds ago (memory only, never blocks)."""
        entry = self._entries.get(slug)
        if entry is not None and time.monotonic() - entry.checked_at < ttl:
            return entry
        return None

    def peek(self, slug: str) -> Entry | None:
        """The entry whatever its age (its `checked_at` tells how old it is)."""
        return self._entries.get(slug)

    def get(self, slug: str, *, ttl: float) -> Entry:
        """A fresh entry, re-checked against the database if needed (blocking: use a thread)."""
        return self.fresh(slug, ttl=ttl) or self.refresh(slug)

    def refresh(self, slug: str) -> Entry:
        previous = self._entries.get(slug)
        generation = self._generation
        # The check time is taken before the read: the data is at least as new as this instant.
        checked_at = time.monotonic()
        with open_session() as session:
            row = session.exec(
                select(Letter.id, Letter.status, Letter.revision, Letter.counts_changed_at).where(
                    # Drafts share slugs with published letters (decision 0076); never shown.
                    Letter.slug == slug,
                    Letter.status != LetterStatus.draft,
                )
            ).first()
            if row is None or row[0] is None:
                entry = Entry(None, checked_at)
            else:
                letter_id, _, revision, changed_at = row
                old = previous.snapshot if previous else None
                same = old is not None and (
                    old.letter_id,
                    old.revision,
                    old.counts_changed_at,
                ) == (letter_id, revision, changed_at)
                recounted = None
                if old is not None and same and checked_at - old.counted_at >= RECOUNT_AFTER:
                    # The fold: a recount now and then, whatever the revision says.
                    recounted = counting.counts(session, letter_id=letter_id)
                    same = recounted == (old.named, old.anonymous)
                    if same:
                        old.counted_at = checked_at
                if old is not None and same:
                    entry = Entry(old, checked_at)
                else:
                    named, anonymous = recounted or counting.counts(session, letter_id=letter_id)
                    waiting = counting.awaiting(session, letter_id=letter_id)  # selfsign hook
                    snapshot = Snapshot(
                        letter_id, slug, revision, changed_at, named, anonymous, waiting
                    )
                    entry = Entry(snapshot, checked_at)
        with self._lock:
            if generation == self._generation:
                if slug not in self._entries and len(self._entries) >= MAX_ENTRIES:
                    self._entries.pop(next(iter(self._entries)))
                self._entries[slug] = entry
        return entry

    def invalidate(self, slugs: set[str]) -> None:
        with self._lock:
            self._generation += 1
            for slug in slugs:
                self._entries.pop(slug, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


count_cache = CountCache()
_PENDING = counting.CHANGED_LETTERS


def _collect_letters(session: OrmSession, _context: Any) -> None:
    # Any written letter row (signature counts via touch_counts, status, deletion) is evicted
    # once the transaction commits; until then other requests must still see the old state.
    changed = [
        obj.slug
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, Letter)
    ]
    if changed:
        session.info.setdefault(_PENDING, set()).update(changed)


def _evict_committed(session: OrmSession) -> None:
    slugs = session.info.pop(_PENDING, None)
    if slugs:
        count_cache.invalidate(slugs)
    assert isinstance(session, Session)
    counting.bump_signed(session)


def _forget_rolled_back(session: OrmSession) -> None:
    session.info.pop(_PENDING, None)
    assert isinstance(session, Session)
    counting.forget_signed(session)


# Session events this module reacts to, installed by app/listeners.py (at start-up, never as a
# side effect of an import).
LISTENERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("after_flush", _collect_letters),
    ("after_commit", _evict_committed),
    ("after_rollback", _forget_rolled_back),
)
