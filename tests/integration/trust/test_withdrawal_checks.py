"""A withdrawal notice for a proposal the invited account holds but has not accepted: it
has not pinned the proposer's key yet, so the notice is checked against the key the
proposal names (``Deactivations.authenticate_proposer``), and against nothing else."""

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
from trust.ending import Deactivations
from trust.errors import FederationRefused
from trust.handshake import Handshake

PROPOSER, STRANGER = SigningKey.generate(), SigningKey.generate()
TRUST = "trust-0011223344556677"


def _handshake(app: Any, account: Any) -> Handshake:
    node = app.extensions["trustdesk"]
    actor = Actor(account.admin.id, account.id, "Ada Admin")
    work = Work(db.session(), AccountScope(account.id), actor, node.clock, node.jobs, node.settings)
    return Handshake(work, "http://msp.test", app.config["SECRET_KEY"], peers=None)  # type: ignore[arg-type]


def _call(handshake: Handshake, path: str, body: dict[str, Any], key: SigningKey, keyid: str,
          trust_id: str = TRUST) -> HttpRequestParts:  # fmt: skip
    content = json.dumps(body).encode()
    url = f"http://msp.test/federation/v1/{handshake.account}/{path}"
    headers = {"Content-Type": "application/json", "TrustDesk-Trust": trust_id}
    parts = HttpRequestParts("POST", url, headers, content)
    sign_request(parts, key, keyid=keyid, created=int(handshake.work.clock.now().timestamp()))
    return parts


def _proposed(app: Any) -> Handshake:
    """An MSP account holding a proposal by ``cust-1`` (key ``cust-1#k1``), not accepted."""
    msp = make_account(app, kind="msp")
    handshake = _handshake(app, msp)
    code = handshake.invite()["code"]
    own = handshake.keys.current()
    agreement = {
        "id": TRUST, "revision": 1, "scopes": ["requests:read"],
        "trusting": {"account": "cust-1", "name": "Customer", "node": "https://cust.example",
                     "keyid": "cust-1#k1", "public_key": PROPOSER.verify_key.to_b64url(),
                     "fingerprint": PROPOSER.verify_key.fingerprint},
        "trusted": {"account": msp.id, "name": "MSP", "node": "http://msp.test",
                    "keyid": str(own.ref), "public_key": own.signing.verify_key.to_b64url(),
                    "fingerprint": own.signing.verify_key.fingerprint},
        "start": "2026-12-01T00:00:00+00:00", "end": None,
        "proposed_by": {"id": "p1", "name": "Pat"},
    }  # fmt: skip
    body = {"agreement": dict(sign_document(agreement, PROPOSER, "trust-agreement",
                                            keyid="cust-1#k1")), "code": code}  # fmt: skip
    handshake.receive_proposal(
        _call(handshake, "trusts/proposals", body, PROPOSER, "cust-1#k1"), body
    )
    db.session.flush()
    return handshake


def _withdraw(app: Any, key: SigningKey, keyid: str, trust_id: str = TRUST) -> str:
    """The reason a withdrawal signed so is refused, or ``taken``; nothing is committed."""
    with app.app_context():
        try:
            handshake = _proposed(app)
            ends = Deactivations(handshake)
            proposal = ends.awaiting_acceptance(TRUST)
            assert proposal is not None
            path = f"trusts/{trust_id}/deactivation"
            parts = _call(handshake, path, {"trust": trust_id}, key, keyid, trust_id)
            ends.authenticate_proposer(parts, proposal)
            return "taken"
        except FederationRefused as refused:
            return str(refused.extensions["reason"])
        finally:
            db.session.rollback()


def test_a_withdrawal_signed_with_the_key_the_proposal_names_is_taken(app):
    assert _withdraw(app, PROPOSER, "cust-1#k1") == "taken"


@pytest.mark.parametrize(
    ("key", "keyid", "reason"),
    [
        (STRANGER, "cust-1#k1", "signature_invalid"),  # the named key id, another key
        (STRANGER, "cust-1#k2", "key_unknown"),  # a key the proposal does not name
        (STRANGER, "other-1#k1", "key_unknown"),  # another account altogether
    ],
)
def test_a_withdrawal_signed_otherwise_is_refused(app, key, keyid, reason):
    assert _withdraw(app, key, keyid) == reason


def test_a_withdrawal_covering_another_trust_is_refused(app):
    assert _withdraw(app, PROPOSER, "cust-1#k1", "trust-ffeeddccbbaa9988") == "trust_not_covered"
