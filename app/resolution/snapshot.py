"""The machine's resolution index: one memory-mapped snapshot file shared by its workers.

A snapshot is the registry's committed organisations at one registry version, written once per
machine (by whichever process finds none usable, under a file lock) and mapped read-only by
every worker: the kernel keeps one copy of its pages for all of them, and a worker that starts
maps it in milliseconds instead of building Python objects for every name (decision 0093).

Layout (little-endian, each section 8-byte aligned; ids and offsets in 4 bytes when they fit,
the metadata says): a header and JSON metadata; sorted 64-bit key hashes, their offsets into
one array of organisation ids (each posting ascending); sorted organisation ids, their offsets
into a blob of marshalled entries (the parsed names as the scorer needs them, website,
country); the keys of postings too common to read whole or dense and, for each, a bitmap
by organisation id; the ids of unsigned organisations; and the hidden organisations (few) as one
marshalled list, loaded into an ordinary in-memory Index so that they stay apart from the
public index exactly as before. Built from the registry's rows by a few processes (decision
0113).

Changes committed after the snapshot's version are applied on top, per worker, by
MappedIndex: a small in-memory Index of organisations added or changed since, and the set of
snapshot organisations it replaces or that left. Lookups give the same postings, sizes and
entries as an Index built from scratch, so blocking and scoring decide the same.
"""

import bisect
import hashlib
import json
import marshal
import mmap
import multiprocessing
import os
import re
import sys
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, KeysView, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import lru_cache
from itertools import accumulate, compress, islice
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from app.resolution.index import (
    _BUDGET,
    _COMMON,
    _SET_AT,
    Index,
    OrgEntry,
    Posting,
    _present,
    filed_keys,
    make_entry,
)
from app.resolution.normalise import NameKey, build_name_key, name_key_of
from app.resolution.rules import score_pair

_MAGIC = b"USIDX01\n"
_MASK = (1 << 64) - 1
_NAME_FIELDS = tuple(f.name for f in fields(NameKey))
# Postings and entries are decoded from the file per query, never kept. Kept across
# queries, they were walked by the cyclic collector's young collections until they aged (each
# a few thousand objects and ids, cold in the cache): at 1,000,000 organisations, caches of
# 300,000 posting ids and 8,192 entries put 1.5-7 ms pauses on 25 queries in 1,000 (11-50 ms
# on full collections), and saved less than that (an entry decodes in ~6 µs, a medium
# posting in ~100 µs).

# One name per script whose tables load on first use (places, lemmas, readings,
# transliteration): resolved once when a snapshot is opened, so that a worker's first queries
# do not pay for them (a per-worker Index paid while parsing its registry).
_WARM_UP = (
    "Amnesty International UK",
    "HRW",
    "中国人权",
    "日本の人権",
    "한국인권",
    "Права человека",
    "حقوق الإنسان",
    "Ελληνική Ένωση",
)
# Rows per chunk sent to a parsing process (a few MB of results each).
_CHUNK = 5000


@lru_cache(maxsize=1 << 16)
def key_hash(item: str | int) -> int:
    """A blocking key as 64 bits, the same in every process (str hashes are salted per
    process; whole-name keys are already stable hashes, keys.py)."""
    if isinstance(item, int):
        return item & _MASK
    hasher = _BLAKE2B_STR.copy()  # as keys._exact: the same hash, no arguments to parse
    hasher.update(item.encode())
    return int.from_bytes(hasher.digest())


_BLAKE2B_STR = hashlib.blake2b(digest_size=8, person=b"str")


@lru_cache(maxsize=1)
def fingerprint() -> str:
    """The code and data (app/resolution/) that decide what an entry holds and under which
    keys it is filed: a snapshot written by others (or another Python's marshal) is rebuilt,
    never read."""
    digest = hashlib.sha256(f"{sys.version_info[:2]}{_NAME_FIELDS}".encode())
    folder = Path(__file__).parent
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


_ENTRY_FIELDS = attrgetter(*_NAME_FIELDS)


def _encode(entry: OrgEntry) -> bytes:
    return marshal.dumps((entry.website, entry.country, tuple(map(_ENTRY_FIELDS, entry.names))))


def _decode(organisation_id: int, blob: bytes | memoryview) -> OrgEntry:
    website, country, names = marshal.loads(blob)
    return OrgEntry(organisation_id, tuple(map(name_key_of, names)), website, country)


class Row(NamedTuple):
    """An organisation as the registry holds it, before its names are parsed."""

    organisation_id: int
    names: Sequence[str]
    website: str | None
    country: str | None


def _entry(row: Row) -> OrgEntry:
    return make_entry(row.organisation_id, row.names, website=row.website, country=row.country)


# Key hashes are sharded by their top bits: each shard is grouped into postings apart (in
# parallel), and the shards in order are the sorted key array.
_SHARD_BITS = 4


def _parse(rows: list[Row]) -> tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]]]:
    """One chunk of rows parsed (in a worker process): its entries' ids, the ends of their
    encodings in the chunk's blob, the blob, and per shard every (key hash, id) they are filed
    under — flat arrays, so that nothing per name crosses the pipe or stays behind."""
    ids = array("q")
    ends = array("q")
    blob = bytearray()
    shards = [(array("Q"), array("q")) for _ in range(1 << _SHARD_BITS)]
    appends = [(hashes.append, owners.append) for hashes, owners in shards]
    shift = 64 - _SHARD_BITS
    for row in rows:
        organisation_id = row.organisation_id
        entry = _entry(row)
        if not entry.names:
            continue  # an Index does not hold it either
        ids.append(organisation_id)
        blob += _encode(entry)
        ends.append(len(blob))
        for item in filed_keys(entry):
            # Whole-name keys are stable hashes already, each filed once: key_hash's cache is
            # kept for the words, which repeat.
            h = item & _MASK if type(item) is int else key_hash(item)
            add_hash, add_owner = appends[h >> shift]
            add_hash(h)
            add_owner(organisation_id)
    pairs = [(hashes.tobytes(), owners.tobytes()) for hashes, owners in shards]
    return ids.tobytes(), ends.tobytes(), bytes(blob), pairs


# A posting also gets a bitmap when that costs at most twice its ids (4 bytes each): then
# block()'s leaders are tested against it by one bit each, not by bisection (decision 0119).
# At 100,000 organisations: 92 postings of 1,563-4,000 ids, 1.2 MB; at 1,000,000 none (a
# bitmap is 125 KB there, only postings over index._COMMON have one).
_DENSE = 8


def _group(task: tuple[bytes, bytes, int]) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """One shard's (key hash, id) pairs, ids ascending, grouped into postings (in a worker
    process): its sorted keys, each posting's size, the postings' ids end to end, and the keys
    and bitmaps (`width` bytes each) of postings too common to read whole (index._COMMON)
    or dense (_DENSE): a query of common words only intersects those with `&` on integers
    instead of sets, and leaders are tested against them by a bit."""
    hash_bytes, owner_bytes, width = task
    hashes = array("Q")
    hashes.frombytes(hash_bytes)
    owners = array("q")
    owners.frombytes(owner_bytes)
    del hash_bytes, owner_bytes
    # Counted, sorted and permuted in C, not grouped pair by pair in a dict (decision 0131):
    # the sort is stable, so each posting keeps its ids in the order they came (ascending).
    counts = Counter(hashes)
    keys = array("Q", sorted(counts))
    sizes = array("q", map(counts.__getitem__, keys))
    del counts
    ids = array("q", map(owners.__getitem__, sorted(range(len(hashes)), key=hashes.__getitem__)))
    del hashes, owners
    large_keys = array("Q")
    bitmaps = bytearray()
    # A posting of `least` ids or more is over index._COMMON or dense (see _DENSE); one of a
    # single id never has a bitmap, however small the registry.
    least = max(2, min(_COMMON + 1, -(-width // _DENSE)))
    starts = list(accumulate(sizes, initial=0))
    for j in compress(range(len(keys)), map(least.__le__, sizes)):
        large_keys.append(keys[j])
        bits = bytearray(width)
        for organisation_id in ids[starts[j] : starts[j + 1]]:
            bits[organisation_id >> 3] |= 1 << (organisation_id & 7)
        bitmaps += bits
    return keys.tobytes(), sizes.tobytes(), ids.tobytes(), large_keys.tobytes(), bytes(bitmaps)


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    """Rows in chunks, checked to come in ascending id order: postings are then ascending as
    they are appended, and entries need no sort (which held every parsed entry at once)."""
    chunk: list[Row] = []
    last = None
    for row in rows:
        if last is not None and row.organisation_id <= last:
            raise ValueError("snapshot rows must come in ascending organisation id order")
        last = row.organisation_id
        chunk.append(row)
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def _mapper(processes: int) -> Iterator[Callable[..., Iterator[Any]]]:
    """map, in order, over `processes` worker processes when more than one (spawned: the
    caller may be a threaded server, where fork is unsafe).

    The items are drawn in the caller's thread, a few tasks ahead of the results, never by
    the pool's feeder thread: they may be rows read from the caller's database transaction,
    which belongs to its thread (read from the feeder thread, the request's connection was
    used by two threads, and the tests' PostgreSQL wipes deadlocked against it)."""
    if processes <= 1:
        yield map
        return
    with multiprocessing.get_context("spawn").Pool(processes) as pool:

        def mapped(function: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
            pending: deque[Any] = deque()
            for item in items:
                pending.append(pool.apply_async(function, (item,)))
                if len(pending) > 2 * processes:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()

        yield mapped


def _narrow(values: "array[int]", *, largest: int) -> "array[int]":
    """The same values (none negative, none above `largest`) in 4 bytes each when they fit:
    ids and offsets, usually."""
    return array("I", values) if largest < 1 << 32 else values


def _pad(out: Any, written: int) -> int:
    extra = -written % 8
    out.write(b"\0" * extra)
    return written + extra


def write(
    path: Path,
    *,
    version: int,
    identity: str,
    public: Iterable[Row],
    hidden: Iterable[tuple[Row, int]],
    unsigned: Iterable[int],
    processes: int | None = None,
) -> dict[str, Any]:
    """Write a snapshot atomically (a temporary file renamed over `path`); its metadata.

    `public` rows come in ascending id order; their names are parsed over `processes` worker
    processes (default: one per core, at most 4; none in a daemonic process, which may not
    start any) while the rest are read. `hidden` and `unsigned` are read only once `public`
    is exhausted: a caller streaming the registry once may fill them as its rows go by."""
    if processes is None:
        daemonic = multiprocessing.current_process().daemon
        processes = 1 if daemonic else min(4, len(os.sched_getaffinity(0)))
    entry_ids = array("q")
    entry_offsets = array("q", [0])
    blob = bytearray()
    shards = [(bytearray(), bytearray()) for _ in range(1 << _SHARD_BITS)]
    keys = array("Q")
    offsets = array("q", [0])
    ids = array("q")
    large_keys = array("Q")
    bitmaps = bytearray()
    with _mapper(processes) as mapped:
        for chunk_ids, chunk_ends, chunk_blob, pairs in mapped(_parse, _chunks(public)):
            ends = array("q")
            ends.frombytes(chunk_ends)
            entry_ids.frombytes(chunk_ids)
            base = len(blob)
            entry_offsets.extend([base + end for end in ends])
            blob += chunk_blob
            for (hashes, owners), (hash_bytes, owner_bytes) in zip(shards, pairs, strict=True):
                hashes += hash_bytes
                owners += owner_bytes
        largest = max(entry_ids, default=0)
        width = ((largest >> 3) + 8) & ~7  # bytes, 8-aligned

        def tasks() -> Iterator[tuple[bytes, bytes, int]]:
            while shards:
                hashes, owners = shards.pop(0)  # freed once sent
                yield bytes(hashes), bytes(owners), width

        for shard_keys, sizes, shard_ids, shard_large, shard_bitmaps in mapped(_group, tasks()):
            keys.frombytes(shard_keys)
            counts = array("q")
            counts.frombytes(sizes)
            offsets.extend(islice(accumulate(counts, initial=offsets[-1]), 1, None))
            ids.frombytes(shard_ids)
            large_keys.frombytes(shard_large)
            bitmaps += shard_bitmaps
    unsigned_ids = array("q", sorted(unsigned))
    hidden_blob = marshal.dumps(
        [(row.organisation_id, revision, _encode(_entry(row))) for row, revision in hidden]
    )
    sections: list[tuple[str, Any]] = [
        ("keys", keys),
        ("offsets", _narrow(offsets, largest=offsets[-1])),
        ("ids", _narrow(ids, largest=largest)),
        ("entry_ids", _narrow(entry_ids, largest=largest)),
        ("entry_offsets", _narrow(entry_offsets, largest=entry_offsets[-1])),
        ("entries", bytes(blob)),
        ("large_keys", large_keys),
        ("bitmaps", bytes(bitmaps)),
        ("unsigned", _narrow(unsigned_ids, largest=max(unsigned_ids, default=0))),
        ("hidden", hidden_blob),
    ]
    del blob, bitmaps
    meta: dict[str, Any] = {
        "version": version,
        "identity": identity,
        "fingerprint": fingerprint(),
        "organisations": len(entry_ids),
        "keys": len(keys),
        "bitmap_bytes": width,
        "sections": {},
    }
    # Offsets are laid out after a header of fixed size (the metadata padded to 4 KB).
    position = 4096
    for name, data in sections:
        size = len(data) * (data.itemsize if isinstance(data, array) else 1)
        meta["sections"][name] = [position, size, data.typecode if isinstance(data, array) else ""]
        position += size + (-size % 8)
    header = json.dumps(meta).encode()
    if len(header) > 4096 - 16:
        raise ValueError("snapshot metadata too large")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    # Owner-only: the file holds hidden organisations' names, like the database does.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(_MAGIC)
        out.write(len(header).to_bytes(8, "little"))
        out.write(header)
        out.write(b"\0" * (4096 - 16 - len(header)))
        written = 4096
        for _, data in sections:
            out.write(data)
            written = _pad(out, written + memoryview(data).nbytes)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    return meta


class Snapshot:
    """A snapshot file mapped read-only (never written once renamed into place)."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        # Ask the kernel to read the file ahead (into the page cache every worker shares):
        # the first queries then fault on cached pages rather than wait for the disk.
        self._map.madvise(mmap.MADV_WILLNEED)
        if self._map[:8] != _MAGIC:
            raise ValueError("not a resolution snapshot")
        length = int.from_bytes(self._map[8:16], "little")
        self.meta: dict[str, Any] = json.loads(self._map[16 : 16 + length])
        self.version = int(self.meta["version"])
        view = memoryview(self._map)

        def section(name: str) -> memoryview:
            start, size, typecode = self.meta["sections"][name]
            part = view[start : start + size]
            return part.cast(typecode) if typecode else part

        self._keys = section("keys")
        self._offsets = section("offsets")
        self._ids = section("ids")
        self._entry_ids = section("entry_ids")
        self._entry_offsets = section("entry_offsets")
        self._entries = section("entries")
        self._large_keys = section("large_keys")
        self._bitmaps = section("bitmaps")
        self.bitmap_bytes = int(self.meta["bitmap_bytes"])
        self.unsigned = section("unsigned")
        self._hidden = section("hidden")

    def __len__(self) -> int:
        return len(self._entry_ids)

    def span(self, h: int) -> tuple[int, int] | None:
        """Where a key's posting lies in the ids array (None: no such key)."""
        keys = self._keys
        i = bisect.bisect_left(keys, h)
        if i == len(keys) or keys[i] != h:
            return None
        return self._offsets[i], self._offsets[i + 1]

    def ids(self, start: int, end: int) -> memoryview:
        return self._ids[start:end]

    def bitmap(self, h: int) -> memoryview | None:
        """A large or dense posting's ids as a bitmap (bit i of byte i // 8: organisation id
        i); None for the others."""
        keys = self._large_keys
        i = bisect.bisect_left(keys, h)
        if i == len(keys) or keys[i] != h:
            return None
        width = self.bitmap_bytes
        return self._bitmaps[i * width : (i + 1) * width]

    def position(self, organisation_id: int) -> int | None:
        ids = self._entry_ids
        i = bisect.bisect_left(ids, organisation_id)
        return i if i < len(ids) and ids[i] == organisation_id else None

    def entry_at(self, i: int) -> OrgEntry:
        blob = self._entries[self._entry_offsets[i] : self._entry_offsets[i + 1]]
        return _decode(self._entry_ids[i], blob)

    def hidden(self) -> list[tuple[OrgEntry, int]]:
        return [
            (_decode(organisation_id, blob), revision)
            for organisation_id, revision, blob in marshal.loads(self._hidden)
        ]


class Unsigned:
    """The ids of unsigned organisations: the snapshot's, then added and discarded since
    (the interface of the set it replaces in registry._Shared)."""

    def __init__(self, base: Iterable[int] = ()) -> None:
        self._base: Any = base
        self._added: set[int] = set()
        self._removed: set[int] = set()

    def _in_base(self, organisation_id: int) -> bool:
        base = self._base
        i = bisect.bisect_left(base, organisation_id)
        return i < len(base) and base[i] == organisation_id

    def __contains__(self, organisation_id: object) -> bool:
        if not isinstance(organisation_id, int) or organisation_id in self._removed:
            return False
        return organisation_id in self._added or self._in_base(organisation_id)

    def add(self, organisation_id: int) -> None:
        self._removed.discard(organisation_id)
        if not self._in_base(organisation_id):
            self._added.add(organisation_id)

    def discard(self, organisation_id: int) -> None:
        self._added.discard(organisation_id)
        if self._in_base(organisation_id):
            self._removed.add(organisation_id)

    def clear(self) -> None:
        self._base = ()
        self._added.clear()
        self._removed.clear()


class _Large:
    """A posting too common for blocking to read whole (over index._COMMON ids), left in the
    file: block() only counts it, tests a few hundred leaders against it (a bit each in its
    bitmap, else bisection), or, when a query has nothing rarer, intersects it with other
    common ones (MappedIndex._common_pool)."""

    def __init__(
        self,
        base: memoryview,
        bits: memoryview | None,
        gone: AbstractSet[int],
        added: tuple[int, ...] | list[int] | set[int],
        size: int,
    ) -> None:
        self._base = base
        self.bits = bits
        self._gone = gone
        self.added = added
        self._size = size

    def __len__(self) -> int:
        return self._size

    def __contains__(self, organisation_id: object) -> bool:
        if organisation_id in self.added:
            return True
        if organisation_id in self._gone or not isinstance(organisation_id, int):
            return False
        bits = self.bits
        if bits is not None:
            byte = organisation_id >> 3
            return 0 <= byte < len(bits) and bool(bits[byte] >> (organisation_id & 7) & 1)
        base = self._base
        i = bisect.bisect_left(base, organisation_id)
        return i < len(base) and base[i] == organisation_id

    def __iter__(self) -> Iterator[int]:
        gone = self._gone
        if gone:
            yield from (i for i in self._base.tolist() if i not in gone)
        else:
            yield from self._base.tolist()
        yield from self.added

    def intersection(self, ids: Iterable[int]) -> set[int]:
        return {i for i in ids if i in self}


_NONZERO = re.compile(rb"[^\x00]")
_BITS = [tuple(bit for bit in range(8) if byte >> bit & 1) for byte in range(256)]


def _lowest(bits: int, width: int, *, skip: AbstractSet[int], count: int) -> list[int]:
    """The `count` lowest set bits' positions of `bits` (not in `skip`), ascending."""
    data = bits.to_bytes(width, "little")
    found: list[int] = []
    for match in _NONZERO.finditer(data):
        at = match.start()
        for bit in _BITS[data[at]]:
            organisation_id = at * 8 + bit
            if organisation_id not in skip:
                found.append(organisation_id)
                if len(found) == count:
                    return found
    return found


# Bisection costs ~0.7 µs per id tested, decoding ~50 ns per id of the posting: a posting
# without a bitmap is bisected only when it is this many times longer than the ids tested.
_BISECT_FROM = 16


def _among(
    posting: memoryview, bits: memoryview | None, ids: set[int] | KeysView[int]
) -> Iterable[int]:
    """The ids of `ids` in an ascending posting of the file (`bits`: its bitmap, if it has
    one): a bit each, else bisection when the posting is long, else the posting decoded."""
    if bits is not None:
        limit = len(bits) << 3
        return [i for i in ids if 0 <= i < limit and bits[i >> 3] >> (i & 7) & 1]
    if len(posting) < _BISECT_FROM * len(ids):
        return set(posting.tolist()).intersection(ids)
    found: list[int] = []
    size = len(posting)
    at = 0
    for organisation_id in sorted(ids):
        at = bisect.bisect_left(posting, organisation_id, at)
        if at == size:
            break
        if posting[at] == organisation_id:
            found.append(organisation_id)
    return found


class _Postings:
    """Index._postings as block() reads it: key → posting (int, ascending list or set)."""

    def __init__(self, owner: "MappedIndex") -> None:
        self._owner = owner

    def get(self, item: str | int, default: Posting | None = None) -> Posting | None:
        posting = self._owner._posting(item)
        return default if posting is None else posting

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str | int) and self._owner.size(item) > 0

    def __getitem__(self, item: str | int) -> Posting:
        posting = self._owner._posting(item)
        if posting is None:
            raise KeyError(item)
        return posting


class _Entries:
    """Index._entries as its readers use it: organisation id → entry."""

    def __init__(self, owner: "MappedIndex") -> None:
        self._owner = owner

    def get(self, organisation_id: int, default: OrgEntry | None = None) -> OrgEntry | None:
        found = self._owner.entry(organisation_id)
        return default if found is None else found

    def __contains__(self, organisation_id: object) -> bool:
        return self._owner.__contains__(organisation_id)

    def __len__(self) -> int:
        return len(self._owner)

    def values(self) -> Iterator[OrgEntry]:
        return self._owner._all_entries()


class MappedIndex(Index):
    """An Index whose committed bulk lives in a snapshot; what changed since is held in a
    small in-memory Index (`delta`) and a set of snapshot organisations it shadows (`gone`)."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self._base = snapshot
        self._delta = Index()
        self._gone: set[int] = set()
        # Per key hash: how many of its snapshot organisations are gone (sizes stay exact).
        self._minus: dict[int, int] = {}
        self._postings = _Postings(self)  # type: ignore[assignment]
        self._entries = _Entries(self)  # type: ignore[assignment]

    @property
    def delta_size(self) -> int:
        return len(self._delta) + len(self._gone)

    def __len__(self) -> int:
        return len(self._base) - len(self._gone) + len(self._delta)

    def __contains__(self, organisation_id: object) -> bool:
        if not isinstance(organisation_id, int):
            return False
        if organisation_id in self._delta:
            return True
        return (
            organisation_id not in self._gone and self._base.position(organisation_id) is not None
        )

    def _base_entry(self, organisation_id: int) -> OrgEntry | None:
        # Decoded on every read, never kept (the note on decoding at the top of this module).
        position = self._base.position(organisation_id)
        return None if position is None else self._base.entry_at(position)

    def entry(self, organisation_id: int) -> OrgEntry | None:
        found = self._delta.entry(organisation_id)
        if found is not None or organisation_id in self._gone:
            return found
        return self._base_entry(organisation_id)

    def _all_entries(self) -> Iterator[OrgEntry]:
        for i in range(len(self._base)):
            if self._base._entry_ids[i] not in self._gone:
                yield self._base.entry_at(i)
        yield from self._delta.entries()

    def entries(self) -> list[OrgEntry]:
        with self._lock:
            return list(self._all_entries())

    def adopt(self, entry: OrgEntry) -> None:
        with self._lock:
            self._drop(entry.organisation_id)
            if entry.names:
                self._delta.adopt(entry)
                self._forget(filed_keys(entry))

    def _drop(self, organisation_id: int) -> None:
        old = self._delta.entry(organisation_id)
        if old is not None:
            self._delta.remove(organisation_id)
            self._forget(filed_keys(old))
            return
        if organisation_id in self._gone:
            return
        old = self._base_entry(organisation_id)
        if old is None:
            return
        self._gone.add(organisation_id)
        filed = filed_keys(old)
        for item in filed:
            h = key_hash(item)
            self._minus[h] = self._minus.get(h, 0) + 1
        self._forget(filed)

    def _forget(self, items: Iterable[str | int]) -> None:
        """Postings sorted before a change to them are stale."""
        for item in items:
            self._ascending.pop(item, None)

    def _ascending_ids(self, item: str | int, posting: set[int]) -> list[int]:
        """A posting untouched since the snapshot is already ascending in the file."""
        h = key_hash(item)
        span = self._base.span(h)
        if span is not None and not self._minus.get(h) and self._delta.size(item) == 0:
            return self._base.ids(*span)  # type: ignore[return-value]
        return super()._ascending_ids(item, posting)

    def _common_pool(self, items: Sequence[str | int]) -> list[int]:
        """As Index's, with `&` on the postings' bitmaps instead of sets of tens of thousands
        of ids; the same ids: those of the snapshot in every bitmap and not gone since, and
        those added since to every posting (an organisation added since is either new or has
        its snapshot version gone)."""
        postings = [self._postings[item] for item in items]
        larges = [p for p in postings if isinstance(p, _Large) and p.bits is not None]
        if len(larges) < len(postings):
            return super()._common_pool(items)
        found = int.from_bytes(larges[0].bits or b"", "little")
        for large in larges[1:]:
            found &= int.from_bytes(large.bits or b"", "little")
        pool = _lowest(found, self._base.bitmap_bytes, skip=self._gone, count=_BUDGET)
        added = [i for i in larges[0].added if all(i in large for large in larges[1:])]
        return sorted(pool + added)[:_BUDGET] if added else pool

    def _filed_among(self, item: str | int, ids: set[int] | KeysView[int]) -> Iterable[int]:
        """As Index's (the ids of `ids` in the posting _decode would give), without decoding
        the posting: each id is tested in the file, by a bit of the posting's bitmap or by
        bisection. A common key only refines block()'s few hundred leaders, while decoding a
        posting of 3,000 ids into a set costs ~0.2 ms (decision 0119)."""
        with self._lock:
            h = key_hash(item)
            span = self._base.span(h)
            delta = self._delta._postings.get(item)
            if span is None:
                return () if delta is None else _present(delta, ids)
            minus = self._minus.get(h, 0)
            start, end = span
            found = set(_among(self._base.ids(start, end), self._base.bitmap(h), ids))
            if minus:
                found.difference_update(self._gone)
            if delta is not None:
                # Disjoint from the snapshot's part (an organisation added since is new or has
                # its snapshot version gone); a set all the same, as no id may count twice.
                found.update(_present(delta, ids))
            return found

    def size(self, item: str | int) -> int:
        h = key_hash(item)
        span = self._base.span(h)
        base = 0 if span is None else span[1] - span[0] - self._minus.get(h, 0)
        return base + self._delta.size(item)

    def rarity(self, word: str) -> int:
        return self.size("w:" + word)

    def _posting(self, item: str | int) -> Posting | None:
        """The posting an Index built from scratch would hold (as a set from _SET_AT ids)."""
        with self._lock:
            return self._decode(item)

    def _decode(self, item: str | int) -> Posting | None:
        h = key_hash(item)
        span = self._base.span(h)
        delta = self._delta._postings.get(item)
        if span is None:
            return delta
        start, end = span
        added = () if delta is None else ((delta,) if isinstance(delta, int) else delta)
        total = end - start - self._minus.get(h, 0) + len(added)
        if total <= 0:
            return None
        ids = self._base.ids(start, end)
        if total > _COMMON:
            gone = self._gone if self._minus.get(h) else frozenset()
            bits = self._base.bitmap(h)
            return _Large(ids, bits, gone, added, total)  # type: ignore[return-value]
        if total < _SET_AT:
            found = ids.tolist()
            if self._minus.get(h):
                found = [i for i in found if i not in self._gone]
            if added:
                found = sorted(found + list(added))
            return found[0] if len(found) == 1 else found
        decoded = set(ids.tolist())
        if self._minus.get(h):
            decoded.difference_update(self._gone)
        decoded.update(added)
        return decoded


@dataclass
class Opened:
    """A snapshot opened for a worker: its indexes and registry state at `version`."""

    version: int
    public: MappedIndex
    hidden: Index
    revision: dict[int, int]
    unsigned: Unsigned


def _opened(snapshot: Snapshot) -> Opened:
    hidden = Index()
    revision: dict[int, int] = {}
    for entry, revised in snapshot.hidden():
        hidden.adopt(entry)
        revision[entry.organisation_id] = revised
    public = MappedIndex(snapshot)
    for raw in _WARM_UP:
        key = build_name_key(raw)
        public.score([key])
        score_pair(key, key)
    return Opened(snapshot.version, public, hidden, revision, Unsigned(snapshot.unsigned))


# A snapshot further behind the registry than this (organisations changed since, at least
# this many and this share of it) is rebuilt by the next worker that starts.
_STALE_AT = 5000
_STALE_SHARE = 0.05


def location(database_url: str, directory: str) -> Path:
    """The snapshot file of a database on this machine."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if directory:
        folder = Path(directory)
    elif url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        folder = Path(str(url.database)).resolve().parent
    else:
        import tempfile

        folder = Path(tempfile.gettempdir()) / "undersigned-index"
    # Named after the database (without its password), so that two databases never share one.
    named = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return folder / f"resolution-{named}.idx"


def usable(path: Path, *, identity: str, committed: int) -> Opened | None:
    """The snapshot at `path` if it was written by this code for this database, at a version
    not past `committed` (a lower committed version means the database was reset)."""
    try:
        snapshot = Snapshot(path)
    except (OSError, ValueError, KeyError):
        return None
    meta = snapshot.meta
    if (
        meta.get("fingerprint") != fingerprint()
        or meta.get("identity") != identity
        or snapshot.version > committed
    ):
        return None
    return _opened(snapshot)


def stale(opened: Opened, *, behind: int) -> bool:
    return behind >= _STALE_AT and behind >= _STALE_SHARE * len(opened.public)


class FileLock:
    """An exclusive lock on a file beside the snapshot (fcntl: released if the holder dies)."""

    def __init__(self, path: Path) -> None:
        self._path = path.with_name(path.name + ".lock")
        self._handle: Any = None

    def __enter__(self) -> "FileLock":
        import fcntl

        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self._path, "a+b")  # held until __exit__
        fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        import fcntl

        fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
        self._handle.close()
