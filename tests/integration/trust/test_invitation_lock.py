"""An invitation code is used once, even by two proposals racing with it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from account_node.db import db
from account_node.tenancy import AccountScope, bind_scope
from tests.factories.accounts import make_account
from trust.handshake import InvitationStore, code_hash
from trust.models import Invitation


def test_a_proposal_holds_its_invitation_until_it_commits(postgres_app):
    """The second reader of the code waits for the first to commit (and then finds it
    used); here it gives up after a moment instead of waiting."""
    app = postgres_app
    account = make_account(app, kind="msp")
    clock = app.extensions["trustdesk"].clock
    with app.app_context():
        bind_scope(db.session(), AccountScope(account.id))
        now = clock.now()
        invitation = Invitation(
            code_hash=code_hash("c0de"), created_by=account.admin.id, created_at=now,
            expires_at=now, used_at=None,
        )  # fmt: skip
        InvitationStore(db.session(), AccountScope(account.id)).add(invitation)
        db.session.commit()
        first = InvitationStore(db.session(), AccountScope(account.id))
        assert first.by_code("c0de") is not None  # locked from here until commit
        with Session(db.engine) as other:
            bind_scope(other, AccountScope(account.id))
            other.execute(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(OperationalError, match="lock"):
                InvitationStore(other, AccountScope(account.id)).by_code("c0de")
        db.session.rollback()
