"""The registry version is stamped at commit (decision 0090): organisation creation does not
hold the counter's lock through a transaction, and one name still makes one organisation."""

import threading
import time

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

from app.auth.models import Role
from app.auth.service import Principal
from app.db import open_session
from app.organisations.models import Organisation, RegistryState
from app.resolution import service as identity
from app.resolution.visibility import Viewer

ADMIN = Viewer(Principal(role=Role.admin, token_id=None))


def registry_version() -> int:
    with open_session() as session:
        return int(session.exec(select(RegistryState.version)).one())


def test_revisions_are_the_commit_version_and_a_transaction_sees_its_own(engine: Engine) -> None:
    with open_session(write=True) as session:
        first = identity.identify(session, name="Lantern Harbour Collective", viewer=ADMIN)
        second = identity.identify(session, name="Quiet River Observatory", viewer=ADMIN)
        # Uncommitted: the counter has not moved, and the transaction still finds its own.
        assert registry_version() == 0
        again = identity.identify(session, name="Lantern Harbour Collective", viewer=ADMIN)
        assert (again.status, again.organisation_id) == ("existing", first.organisation_id)
        session.commit()
    assert registry_version() == 1
    with open_session() as session:
        revisions = {o.id: o.revision for o in session.exec(select(Organisation))}
    assert revisions == {first.organisation_id: 1, second.organisation_id: 1}
    # A transaction that changed nothing in the end (a rolled-back savepoint) moves nothing.
    with open_session(write=True) as session:
        savepoint = session.begin_nested()
        identity.identify(session, name="Gone Before Commit", viewer=ADMIN)
        savepoint.rollback()
        session.commit()
    assert registry_version() == 1
    with open_session(write=True) as session:
        found = identity.resolve(session, names=["Quiet River Observatory"], viewer=ADMIN)
        assert (found.status, found.organisation_id) == ("existing", second.organisation_id)


@pytest.mark.postgresql_only
def test_creations_on_postgresql_do_not_wait_for_each_other(engine: Engine) -> None:
    held = threading.Event()
    release = threading.Event()

    def slow_creator() -> None:
        with open_session(write=True) as session:
            identity.identify(session, name="Slow Mountain Alliance", viewer=ADMIN)
            held.set()
            release.wait(timeout=30)
            session.commit()

    thread = threading.Thread(target=slow_creator)
    thread.start()
    try:
        assert held.wait(timeout=30)
        started = time.perf_counter()
        with open_session(write=True) as session:
            session.execute(text("SET LOCAL lock_timeout = '5s'"))
            quick = identity.identify(session, name="Quick Valley Network", viewer=ADMIN)
            session.commit()
        # Before decision 0090 this waited for the slow transaction's commit (lock timeout).
        assert time.perf_counter() - started < 5
        assert quick.status == "new"
    finally:
        release.set()
        thread.join()
    assert registry_version() == 2


def test_one_name_waits_and_links(engine: Engine) -> None:
    held = threading.Event()
    release = threading.Event()
    created: list[int | None] = []

    def first_creator() -> None:
        with open_session(write=True) as session:
            resolution = identity.identify(session, name="Same Name Watch", viewer=ADMIN)
            created.append(resolution.organisation_id)
            held.set()
            release.wait(timeout=30)
            session.commit()

    thread = threading.Thread(target=first_creator)
    thread.start()
    assert held.wait(timeout=30)
    answers: list[identity.Resolution] = []

    def second_creator() -> None:
        with open_session(write=True) as session:
            answers.append(identity.identify(session, name="Same Name Watch", viewer=ADMIN))
            session.commit()

    second = threading.Thread(target=second_creator)
    second.start()
    time.sleep(0.5)
    assert second.is_alive()  # waiting on the name's bucket
    release.set()
    thread.join()
    second.join(timeout=30)
    assert answers and answers[0].status == "existing"
    assert answers[0].organisation_id == created[0]
    with open_session() as session:
        assert len(session.exec(select(Organisation)).all()) == 1
