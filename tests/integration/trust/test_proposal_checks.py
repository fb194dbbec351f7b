"""What a received proposal must say before it is kept: this account with its very key
as the trusted side, an id and a proposer's node that fit where they are kept. Anything
else is a coded refusal (never a database error on PostgreSQL and a kept row on SQLite)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from account_node.audit.service import Actor
from account_node.context import Work
from account_node.db import db
from account_node.tenancy import AccountScope
from tests.factories.accounts import make_account
from trust.crypto.documents import sign_document
from trust.crypto.httpsig import HttpRequestParts, sign_request
from trust.crypto.keys import SigningKey
from trust.errors import FederationRefused
from trust.handshake import Handshake

PROPOSER = SigningKey.generate()


def _handshake(app: Any, account: Any) -> Handshake:
    node = app.extensions["trustdesk"]
    actor = Actor(account.admin.id, account.id, "Ada Admin")
    work = Work(db.session(), AccountScope(account.id), actor, node.clock, node.jobs, node.settings)
    return Handshake(work, "http://msp.test", app.config["SECRET_KEY"], peers=None)  # type: ignore[arg-type]


def _receive(app: Any, trust_id: str = "trust-0011223344556677", **changes: Any) -> Any:
    """Invite, then receive a proposal by ``cust-1`` whose agreement has ``changes``
    (``trusted_<field>`` / ``trusting_<field>`` change one side's field). Returns the
    trust kept or the refusal's reason; nothing is committed."""
    msp = make_account(app, kind="msp")
    with app.app_context():
        handshake = _handshake(app, msp)
        code = handshake.invite()["code"]
        own = handshake.keys.current()
        sides = {
            "trusting": {"account": "cust-1", "name": "Customer", "node": "https://cust.example",
                         "keyid": "cust-1#k1", "public_key": PROPOSER.verify_key.to_b64url(),
                         "fingerprint": PROPOSER.verify_key.fingerprint},
            "trusted": {"account": msp.id, "name": "MSP", "node": "http://msp.test",
                        "keyid": str(own.ref), "public_key": own.signing.verify_key.to_b64url(),
                        "fingerprint": own.signing.verify_key.fingerprint},
        }  # fmt: skip
        for name, value in changes.items():
            side, field = name.split("_", 1)
            sides[side][field] = value
        agreement = {"id": trust_id, "revision": 1, **sides, "scopes": ["requests:read"],
                     "start": "2026-12-01T00:00:00+00:00", "end": None,
                     "proposed_by": {"id": "p1", "name": "Pat"}}  # fmt: skip
        signed = sign_document(agreement, PROPOSER, "trust-agreement", keyid="cust-1#k1")
        content = json.dumps({"agreement": dict(signed), "code": code}).encode()
        url = f"http://msp.test/federation/v1/{msp.id}/trusts/proposals"
        headers = {"Content-Type": "application/json", "TrustDesk-Trust": trust_id}
        parts = HttpRequestParts("POST", url, headers, content)
        now = int(handshake.work.clock.now().timestamp())
        sign_request(parts, PROPOSER, keyid="cust-1#k1", created=now)
        try:
            kept = handshake.receive_proposal(parts, json.loads(content))
            db.session.flush()
            return kept
        except FederationRefused as refused:
            return refused.extensions["reason"]
        finally:
            db.session.rollback()


def test_a_well_formed_proposal_is_kept(app):
    kept = _receive(app)
    assert (kept.id, kept.role, kept.status) == ("trust-0011223344556677", "trusted", "proposed")


def test_a_proposal_naming_this_accounts_key_id_with_another_key_is_refused(app):
    """This account would countersign, and both sides keep, terms that misstate its key."""
    other = SigningKey.generate().verify_key
    reason = _receive(
        app, trusted_public_key=other.to_b64url(), trusted_fingerprint=other.fingerprint
    )
    assert reason == "agreement_mismatch"


@pytest.mark.parametrize(
    "changes",
    [
        {"trust_id": "trust-" + "a" * 34},  # 40 characters: more than an invitation keeps
        {"trusting_node": "https://cust.example/" + "n" * 300},  # more than a trust keeps
        {"trusting_node": "not a url"},
        {"trusting_node": "https://cust.example/?q=1"},
    ],
)
def test_a_proposal_with_an_id_or_node_that_cannot_be_kept_is_refused(app, changes):
    assert _receive(app, **changes) == "agreement_invalid"
