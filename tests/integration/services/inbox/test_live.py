"""What an open live stream asks the database about its trusts, at each keep-alive."""

from __future__ import annotations

from account_node.db import db
from services.inbox.live import ended_trusts
from tests.factories.accounts import make_account
from tests.integration.trust.outbox_fakes import RecordedJobs, work_for
from trust.handshake import TrustStore
from trust.models import Trust


def _trust(trust_id: str, status: str, now) -> Trust:
    return Trust(id=trust_id, role="trusted", peer_account="customer",
                 peer_node="https://customer.example", status=status,
                 agreement={"document": {}, "signatures": []}, created_at=now)  # fmt: skip


def test_a_streams_check_names_the_trusts_no_longer_active_and_keeps_no_connection(app):
    """One query, its transaction ended at once: a stream holds a server thread for
    minutes, and must not hold one of the database's few connections as well. A trust of
    another account, even of the same id, is not the account's own."""
    account, other = make_account(app, kind="msp"), make_account(app, kind="msp")
    with app.app_context():
        for owner, trusts in (
            (account, ("trust-live-on", "trust-live-off")),
            (other, ("trust-live-x",)),
        ):
            work = work_for(app, owner, RecordedJobs())
            for trust_id in trusts:
                status = "deactivated" if trust_id.endswith("off") else "active"
                TrustStore(work.session, work.scope).add(_trust(trust_id, status, work.clock.now()))
            db.session.commit()
        work = work_for(app, account, RecordedJobs())
        before = db.engine.pool.checkedout()

        asked = frozenset({"trust-live-on", "trust-live-off", "trust-live-x"})
        ended = ended_trusts(work)(asked)

        assert ended == {"trust-live-off", "trust-live-x"}
        assert not work.session.in_transaction()
        assert db.engine.pool.checkedout() == before
        db.session.remove()


def test_a_check_the_database_cannot_answer_ends_no_stream():
    """A failover while streams are open: they go on, and ask again at the next keep-alive
    (ending them all at once would send every client back to open a stream then)."""
    from types import SimpleNamespace

    from sqlalchemy.exc import OperationalError

    class Unreachable:
        rolled_back = False

        def scalars(self, query):
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))

        def rollback(self) -> None:
            self.rolled_back = True

    session = Unreachable()
    assert ended_trusts(SimpleNamespace(session=session))(frozenset({"trust-a"})) == set()
    assert session.rolled_back
