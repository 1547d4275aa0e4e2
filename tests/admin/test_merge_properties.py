"""Property test: random sign / withdraw / merge / undo sequences keep every invariant, and
undoing a merge right away gives back the exact table contents."""

from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.admin import merges as merge_service
from app.auth.models import Role
from app.auth.service import Principal
from app.db import metadata, open_session
from app.errors import AppError
from app.letters.models import Letter
from app.organisations.models import Organisation
from app.resolution import registry
from app.resolution.names import split_signatory_line
from app.signatures import counting
from app.signatures import service as signature_service
from app.signatures.models import Signature
from app.signatures.schemas import SignatureCreate
from tests.conftest import wipe

ADMIN = Principal(role=Role.admin, token_id=None)
ORGS = 4
LETTERS = 2
# History tables grow on purpose and cache versions must move forward: everything else must
# come back exactly.
HISTORY = {"audit_event", "merge_record", "judgement", "registry_state", "idempotency_record"}
CACHE_COLUMNS = {"organisation": {"revision"}, "letter": {"revision", "counts_changed_at"}}

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("sign"),
            st.integers(0, LETTERS - 1),
            st.integers(0, ORGS - 1),
            st.booleans(),
        ),
        st.tuples(st.just("withdraw"), st.integers(0, LETTERS - 1), st.integers(0, 5)),
        st.tuples(
            st.just("merge"), st.integers(0, ORGS - 1), st.integers(0, ORGS - 1), st.booleans()
        ),
        st.tuples(st.just("undo"), st.integers(0, 3), st.booleans()),
    ),
    min_size=1,
    max_size=14,
)


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    state = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in HISTORY:
                continue
            skip = CACHE_COLUMNS.get(table.name, set())
            columns = [c.name for c in table.columns if c.name not in skip]
            rows = conn.execute(
                text(f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY id")
            ).all()
            state[table.name] = [tuple(r) for r in rows]
    return state


def setup(session: Session) -> tuple[list[int], list[int]]:
    letters = []
    for index in range(LETTERS):
        letter = Letter(slug=f"letter-{index}", title="t", lang="en", status="open")
        session.add(letter)
        session.flush()
        assert letter.id is not None
        letters.append(letter.id)
    organisations = []
    for index in range(ORGS):
        organisations.append(
            registry.create(
                session, names=split_signatory_line(f"Organisation {index} (ORG{index})")
            )
        )
    session.commit()
    return letters, organisations


def check_invariants(session: Session, revisions: dict[int, tuple[int, tuple[int, int]]]) -> None:
    signatures = session.exec(select(Signature)).all()
    merged_away = {
        o.id
        for o in session.exec(
            select(Organisation).where(col(Organisation.merged_into).is_not(None))
        )
    }
    live_keys = set()
    for letter in session.exec(select(Letter)).all():
        assert letter.id is not None
        live = [s for s in signatures if s.letter_id == letter.id and s.withdrawn_at is None]
        recount = (sum(not s.anonymous for s in live), sum(s.anonymous for s in live))
        assert counting.counts(session, letter_id=letter.id) == recount
        previous = revisions.get(letter.id)
        if previous is not None and previous[1] != recount:
            # Count caches key on the letter's revision: a changed count must move it.
            assert letter.revision > previous[0]
        revisions[letter.id] = (letter.revision, recount)
        for s in live:
            assert s.organisation_id not in merged_away
            key = (s.letter_id, s.organisation_id)
            assert key not in live_keys
            live_keys.add(key)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_random_histories_keep_counts_and_undo_exact(engine: Engine, ops: list[tuple]) -> None:
    wipe(engine)
    with open_session(write=True) as session:
        letters, organisations = setup(session)
    merge_ids: list[int] = []
    revisions: dict[int, tuple[int, tuple[int, int]]] = {}
    for op in ops:
        with open_session(write=True) as session:
            try:
                if op[0] == "sign":
                    letter = session.get(Letter, letters[op[1]])
                    assert letter is not None
                    signature_service.sign(
                        session,
                        letter=letter,
                        data=SignatureCreate(organisation_id=organisations[op[2]], anonymous=op[3]),
                        principal=ADMIN,
                    )
                elif op[0] == "withdraw":
                    letter = session.get(Letter, letters[op[1]])
                    rows = session.exec(
                        select(Signature.id)
                        .where(Signature.letter_id == letters[op[1]])
                        .order_by(col(Signature.id))
                    ).all()
                    if rows and letter is not None:
                        signature_service.withdraw(
                            session,
                            letter=letter,
                            signature_id=rows[op[2] % len(rows)],
                            principal=ADMIN,
                        )
                elif op[0] == "merge":
                    before = dump(engine)
                    record, _ = merge_service.merge(
                        session,
                        survivor_id=organisations[op[1]],
                        merged_ids=[organisations[op[2]]],
                        actor="env-admin",
                    )
                    assert record.id is not None
                    merge_ids.append(record.id)
                    session.commit()
                    if op[3]:
                        # undo(merge(state)) == state, table by table, ids included.
                        merge_service.undo(
                            session, merge_id=record.id, actor="env-admin", record_different=False
                        )
                        session.commit()
                        assert dump(engine) == before
                elif op[0] == "undo" and merge_ids:
                    merge_service.undo(
                        session,
                        merge_id=merge_ids[op[1] % len(merge_ids)],
                        actor="env-admin",
                        record_different=op[2],
                    )
                session.commit()
                event(f"{op[0]} applied")
            except AppError as error:
                event(f"{op[0]} refused: {error.error}")
                assert error.status_code in (404, 409), error.detail
                session.rollback()
        with open_session() as session:
            check_invariants(session, revisions)
