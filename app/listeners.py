"""The SQLAlchemy session events the application reacts to, in one place, installed where the
application starts: `create_app`, the CLI, the tests and the benchmarks call `install()`.

What they keep true: the registry version is stamped at commit and workers learn of it
(resolution/registry.py), the duplicate queue and identity checks catch up after commits that
changed organisations (resolution/queue.py, resolution/checks.py), and cached public pages are
evicted when their letter changes (embed/cache.py). Code that writes organisations refuses to
run without them (`require`), so an entry point that forgot `install()` fails loudly rather
than leaving the registry's versions unstamped.
"""

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from app import db
from app.embed import cache
from app.resolution import checks, queue, registry
from app.resolution import service as resolution

_MODULES = (registry, queue, checks, cache)


def install() -> None:
    """Install every listener once (idempotent)."""
    # After a crash of the database server, what workers hold in memory may include commits
    # that did not survive it (decision 0138): the registry is reloaded, the counts recounted.
    db.when_server_lost(resolution.reset_cache)
    db.when_server_lost(cache.count_cache.clear)
    for module in _MODULES:
        for name, listener in module.LISTENERS:
            if not event.contains(OrmSession, name, listener):
                event.listen(OrmSession, name, listener)


def installed() -> bool:
    return all(
        event.contains(OrmSession, name, listener)
        for module in _MODULES
        for name, listener in module.LISTENERS
    )
