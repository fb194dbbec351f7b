"""A peer may speak only for its own account, from its own node, under its own trusts.

An account id is only a name: any holder of an invitation could claim one. What binds a
trust to its peer is the peer's node and the keys pinned from it, and every call under a
trust is checked against both. These are the attacks that would otherwise work: a
proposal that has the proposer's key pinned under another account's id, a peer that
ends another peer's trust, a rotation that goes out before the new key is kept,
garbage in a proposal before anything is authenticated, and a peer's person going by the
id of one of the customer's own people.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from account_node.context import Work
from account_node.db import db
from account_node.tenancy import AccountScope
from tests.factories.accounts import make_account
from tests.federation.flows import establish_trust, ok, own_key
from trust.crypto.documents import sign_document
from trust.crypto.httpsig import HttpRequestParts, sign_request
from trust.crypto.keys import SigningKey


def _signed(node: Any, url: str, body: Any, trust: str, key: Any, keyid: str) -> httpx.Response:
    """A POST signed with ``key`` as ``keyid``, on ``node``'s clock."""
    headers = {"TrustDesk-Trust": trust, "Content-Type": "application/json"}
    content = json.dumps(body).encode()
    parts = HttpRequestParts("POST", url, headers, content)
    now = int(node.app.extensions["trustdesk"].clock.now().timestamp())
    sign_request(parts, key, keyid=keyid, created=now)
    return httpx.post(url, headers=dict(parts.headers), content=content)


@pytest.fixture
def elsewhere():
    """A node URL that answers anything with 200: the attacker's own node."""
    server = make_server(
        "127.0.0.1",
        0,
        lambda environ, start: Response(json.dumps({"ok": True}), 200)(environ, start),
        threaded=True,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _proposal(served: Any, trusting: dict[str, str], evil: SigningKey) -> dict[str, Any]:
    msp = served.msp_account.id
    own = own_key(served.msp, msp)
    agreement = {
        "id": f"trust-{secrets.token_hex(8)}",
        "revision": 1,
        "trusting": {
            **trusting,
            "public_key": evil.verify_key.to_b64url(),
            "fingerprint": evil.verify_key.fingerprint,
        },
        "trusted": {
            "account": msp,
            "name": "MSP",
            "node": served.msp.url,
            "keyid": str(own.ref),
            "public_key": own.signing.verify_key.to_b64url(),
            "fingerprint": own.signing.verify_key.fingerprint,
        },
        "scopes": ["requests:read", "requests:act", "events:send"],
        "start": datetime.now(UTC).isoformat(),
        "end": None,
        "proposed_by": {"id": "p1", "name": "Eve"},
    }
    return agreement


def _propose(served: Any, agreement: dict[str, Any], evil: SigningKey) -> httpx.Response:
    msp = served.msp_account.id
    with served.msp.client(served.msp_account.admin) as admin:
        code = ok(admin.post("/api/v1/trusts/invitations"), 201)["code"]
    keyid = agreement["trusting"]["keyid"]
    signed = sign_document(agreement, evil, "trust-agreement", keyid=keyid)
    return _signed(
        served.msp,
        f"{served.msp.url}/federation/v1/{msp}/trusts/proposals",
        {"agreement": dict(signed), "code": code},
        agreement["id"],
        evil,
        keyid,
    )


def _reason(response: httpx.Response) -> str:
    return str(response.json().get("reason"))


def test_a_proposal_cannot_name_a_key_of_another_account(served, elsewhere):
    victim = served.customer_account.id
    evil = SigningKey.generate()
    trusting = {"account": "attacker-co", "name": "Attacker Co", "node": elsewhere,
                "keyid": f"{victim}#evil"}  # fmt: skip
    response = _propose(served, _proposal(served, trusting, evil), evil)
    assert response.status_code == 401, response.text
    assert _reason(response) == "agreement_invalid"


def test_a_proposal_cannot_claim_an_account_known_at_another_node(served, elsewhere):
    """The attacker names the victim's own account id, with its own key and node."""
    victim = served.customer_account.id
    evil = SigningKey.generate()
    trusting = {"account": victim, "name": "Victim", "node": elsewhere, "keyid": f"{victim}#evil"}
    response = _propose(served, _proposal(served, trusting, evil), evil)
    assert response.status_code == 401, response.text
    assert _reason(response) == "agreement_mismatch"
    with served.msp.client(served.msp_account.admin) as admin:
        trusts = ok(admin.get("/api/v1/trusts"))["items"]
    assert [t["id"] for t in trusts] == [served.trust]  # nothing stored


def test_a_key_pinned_from_another_node_cannot_sign_under_a_trust(served, elsewhere):
    """Even were a key pinned under the victim's id from another node (say, by an admin
    who accepted what they should not have), it signs for no trust with the victim."""
    victim, msp = served.customer_account.id, served.msp_account.id
    evil = SigningKey.generate()
    app = served.msp.app
    with app.app_context():
        from trust.crypto.keys import KeyRef
        from trust.keyring import Keyring

        ring = Keyring(db.session(), AccountScope(msp), app.extensions["trustdesk"].clock)
        ring.pin(KeyRef(victim, "evil"), evil.verify_key, elsewhere, "handshake")
        db.session.commit()
    notice = {"notice_id": "forged-1", "type": "request.changed", "request": "x",
              "offering": "y", "action": "note", "at": "2026-12-02T09:00:00+00:00"}  # fmt: skip
    url = f"{served.msp.url}/federation/v1/{msp}/trusts/{served.trust}/events"
    response = _signed(served.msp, url, notice, served.trust, evil, f"{victim}#evil")
    assert response.status_code == 403, response.text
    assert _reason(response) == "trust_unknown"


def test_a_peer_cannot_end_another_peers_trust(federation):
    """Mallory, a second MSP account the customer also trusts, signs a deactivation of
    the customer's trust with the first MSP, with her own pinned key."""
    f = federation
    victim_trust = establish_trust(f.msp, f.msp_account, f.customer, f.customer_account)
    mallory = make_account(f.msp.app, kind="msp", prefix="mallory")
    own_trust = establish_trust(f.msp, mallory, f.customer, f.customer_account)
    key = own_key(f.msp, mallory.id)
    url = f"{f.customer.url}/federation/v1/{f.customer_account.id}/trusts/{victim_trust}"
    for signed_trust in (own_trust, victim_trust):
        response = _signed(
            f.msp, url + "/deactivation", {"trust": victim_trust}, signed_trust,
            key.signing, str(key.ref),
        )  # fmt: skip
        assert response.status_code == 403, response.text
    with f.customer.client(f.customer_account.admin) as admin:
        assert ok(admin.get(f"/api/v1/trusts/{victim_trust}"))["status"] == "active"
        assert ok(admin.get(f"/api/v1/trusts/{own_trust}"))["status"] == "active"


def test_the_peer_itself_still_ends_its_trust(served):
    with served.msp.client(served.msp_account.admin) as admin:
        ok(admin.post(f"/api/v1/trusts/{served.trust}/deactivate"))
    with served.customer.client(served.customer_account.admin) as admin:
        trust = ok(admin.get(f"/api/v1/trusts/{served.trust}"))
    assert trust["status"] == "deactivated"


@pytest.mark.parametrize(
    "body",
    [
        {"agreement": []},
        {"agreement": "x", "code": "c"},
        {"agreement": {"document": {"trusting": "x"}}, "code": "c"},
        {"agreement": {"document": {"trusting": {"account": 3}, "trusted": []}}, "code": "c"},
    ],
)
def test_garbage_in_a_proposal_is_a_coded_refusal(served, body):
    url = f"{served.msp.url}/federation/v1/{served.msp_account.id}/trusts/proposals"
    response = httpx.post(url, json=body)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_rotation_is_kept_before_any_peer_hears_of_it(served, monkeypatch):
    """A failure after the rotation is recorded leaves the new key kept, not a notice
    out in the world for a key this node no longer has."""
    real = Work.record

    def failing(self: Work, action: str, *args: Any, **kwargs: Any) -> Any:
        if action == "key.announce":
            raise RuntimeError("the worker died after the notices went out")
        return real(self, action, *args, **kwargs)

    monkeypatch.setattr(Work, "record", failing)
    with served.msp.client(served.msp_account.admin) as admin:
        assert admin.post("/api/v1/keys/rotate").status_code == 500
    monkeypatch.setattr(Work, "record", real)
    with served.msp.client(served.msp_account.specialist) as specialist:
        response = specialist.get(f"/api/v1/trusts/{served.trust}/requests")
    assert response.status_code == 200, response.text


def test_a_peers_person_named_by_a_local_persons_id_is_still_the_peers(served):
    """Person ids are unique within one account only: the MSP's node may send any id
    as its acting person, the customer's requester's included. The note stays the
    MSP's, vouched for by it, and is no reply of the requester's: the request keeps
    waiting for the customer."""
    from tests.federation.test_refusals import _call

    request_id = served.request["id"]
    requester = served.customer_account.end_user.id
    with served.customer.client(served.customer_account.admin) as admin:
        for status in ("in_progress", "waiting_for_customer"):
            ok(admin.patch(f"/api/v1/requests/{request_id}", json={"status": status}))

    noted = _call(served, f"/requests/{request_id}/notes", body={"body": "ok thanks"},
                  actor=requester)  # fmt: skip

    assert noted.status_code == 201, noted.text
    assert noted.json()["vouched_by"] == served.msp_account.id
    with served.customer.client(served.customer_account.admin) as admin:
        assert ok(admin.get(f"/api/v1/requests/{request_id}"))["status"] == "waiting_for_customer"
