"""Each handshake step is written here first and sent to the peer last, so that neither
side is ever left holding half a handshake; a step whose answer was lost can be sent
again; and the invitation's node is the node that answers at its URL.

The peers are real nodes on loopback. A lost answer is made by letting the call through
and then failing it as a dropped connection would; a node that is not what the
invitation says is a small server of the test's own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import delete
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from account_node.app import create_app
from account_node.db import db
from tests.conftest import node_settings
from tests.factories.accounts import make_account
from tests.factories.keys import keyring
from tests.federation.conftest import RunningNode
from tests.federation.flows import down, ok, own_key
from trust.client import PeerClient
from trust.crypto.documents import sign_document
from trust.crypto.httpsig import HttpRequestParts, sign_request
from trust.crypto.keys import KeyRef, SigningKey
from trust.descriptor import DESCRIPTOR
from trust.errors import PeerUnavailable
from trust.models import PinnedKey

INVITATION = ("node_url", "account", "fingerprint", "code")


def _invite(node: RunningNode, account: Any) -> dict[str, Any]:
    with node.client(account.admin) as admin:
        return dict(ok(admin.post("/api/v1/trusts/invitations"), 201))


def _propose(f: Any, invitation: dict[str, Any], **changed: str) -> httpx.Response:
    body = {**{k: invitation[k] for k in INVITATION}, **changed}
    with f.customer.client(f.customer_account.admin) as admin:
        return admin.post("/api/v1/trusts", json=body)


def _accept(f: Any, trust_id: str) -> httpx.Response:
    with f.msp.client(f.msp_account.admin) as admin:
        return admin.post(f"/api/v1/trusts/{trust_id}/accept")


def _trusts(node: RunningNode, account: Any) -> dict[str, str]:
    """The account's trusts: id → status."""
    with node.client(account.admin) as admin:
        return {t["id"]: t["status"] for t in ok(admin.get("/api/v1/trusts"))["items"]}


def _pinned(node: RunningNode, account_id: str, peer: str) -> list[tuple[str, str]]:
    """The keys ``account_id`` pinned of ``peer``: (key id, node)."""
    with node.app.app_context():
        ring = keyring(node.app, account_id)
        rows = [(row.key_id, row.peer_node) for row in ring.store.of_peer(peer)]
        db.session.commit()
    return rows


def _pin(node: RunningNode, account_id: str, ref: KeyRef, key: Any, at: str) -> None:
    with node.app.app_context():
        keyring(node.app, account_id).pin(ref, key, at, "handshake")
        db.session.commit()


def _audited(node: RunningNode, account: Any, action: str) -> list[dict[str, Any]]:
    with node.client(account.auditor) as auditor:
        return list(ok(auditor.get("/api/v1/audit", params={"action": action}))["items"])


@pytest.fixture
def lose_answers(monkeypatch) -> Callable[[str, int], list[tuple[str, Any]]]:
    """``lose_answers(path_end, times)``: the next ``times`` signed POSTs to a URL ending
    in ``path_end`` reach the peer, which acts on them, but their answers are lost.
    Returns the (URL, body) of every such POST sent, lost or not."""
    real = PeerClient.post_signed
    sent: list[tuple[str, Any]] = []
    left: dict[str, Any] = {"times": 0, "end": None}

    def post_signed(self: PeerClient, url: str, body: Any, *args: Any, **kwargs: Any) -> Any:
        answer = real(self, url, body, *args, **kwargs)
        if left["end"] is not None and url.endswith(left["end"]):
            sent.append((url, body))
            if left["times"] > 0:
                left["times"] -= 1
                raise PeerUnavailable("the peer did not answer (RemoteProtocolError)")
        return answer

    monkeypatch.setattr(PeerClient, "post_signed", post_signed)

    def lose(end: str, times: int) -> list[tuple[str, Any]]:
        left["end"], left["times"] = end, times
        return sent

    return lose


class FakeNode:
    """A server of the test's own: answers GET of the descriptor with ``descriptor()``
    and any POST with 200, noting every POST path it was sent."""

    def __init__(self, descriptor: Callable[[str], Any]) -> None:
        self.posted: list[str] = []
        self.server = make_server("127.0.0.1", 0, self._answer, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._descriptor = descriptor
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _answer(self, environ: Any, start: Any) -> Any:
        request = Request(environ)
        if request.method == "POST":
            self.posted.append(request.path)
            body = {"trust": "anything", "status": "proposed"}
        else:
            body = self._descriptor(self.url)
        return Response(json.dumps(body), 200, content_type="application/json")(environ, start)


@pytest.fixture
def fake_nodes() -> Iterator[Callable[[Callable[[str], Any]], FakeNode]]:
    started: list[FakeNode] = []

    def start(descriptor: Callable[[str], Any]) -> FakeNode:
        started.append(FakeNode(descriptor))
        return started[-1]

    yield start
    for node in started:
        node.server.shutdown()


# --- written here first, sent last ----------------------------------------------------------


def test_a_pin_conflict_stops_the_proposal_before_the_peer_hears_of_it(federation):
    f = federation
    invitation = _invite(f.msp, f.msp_account)
    msp_key = own_key(f.msp, f.msp_account.id)
    _pin(
        f.customer, f.customer_account.id, msp_key.ref, SigningKey.generate().verify_key, f.msp.url
    )

    refused = _propose(f, invitation)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "trust_conflict"
    assert _trusts(f.msp, f.msp_account) == {}  # the peer heard of nothing

    # The code was not spent: once the conflict is cleared, the same invitation works.
    with f.customer.app.app_context():
        keyring(f.customer.app, f.customer_account.id)  # binds the account's scope
        db.session.execute(
            delete(PinnedKey).where(
                PinnedKey.account_id == f.customer_account.id,
                PinnedKey.peer_account == f.msp_account.id,
            )
        )
        db.session.commit()
    proposed = ok(_propose(f, invitation), 201)
    assert _trusts(f.msp, f.msp_account) == {proposed["id"]: "proposed"}


def test_a_peer_account_known_at_another_node_stops_the_proposal_before_it_is_sent(federation):
    """A trust whose peer key was pinned from another node would have every call under
    it refused (``trust_unknown``): refused here instead, while nothing is spent."""
    f = federation
    invitation = _invite(f.msp, f.msp_account)
    elsewhere = KeyRef(f.msp_account.id, "moved")
    _pin(f.customer, f.customer_account.id, elsewhere, SigningKey.generate().verify_key,
         "https://old-home.example")  # fmt: skip

    refused = _propose(f, invitation)
    assert refused.status_code == 409, refused.text
    assert "another node" in refused.json()["detail"]
    assert _trusts(f.msp, f.msp_account) == {}


def test_a_proposal_the_peer_refuses_leaves_nothing_here(federation):
    f = federation
    invitation = _invite(f.msp, f.msp_account)
    ok(_propose(f, invitation), 201)
    pinned = _pinned(f.customer, f.customer_account.id, f.msp_account.id)
    before = _trusts(f.customer, f.customer_account)

    again = _propose(f, invitation)  # the code is used: the peer refuses
    assert again.status_code == 502 and again.json()["code"] == "peer_declined"
    assert _trusts(f.customer, f.customer_account) == before
    assert _pinned(f.customer, f.customer_account.id, f.msp_account.id) == pinned
    assert len(_audited(f.customer, f.customer_account, "trust.propose")) == 1


def test_a_countersignature_the_peer_refuses_leaves_the_proposal_as_it_was(federation):
    """Withdrawn meanwhile, and the withdrawal never reached the MSP: the customer's node
    refuses the countersignature by its own record, and the accept changes nothing."""
    f = federation
    trust_id = ok(_propose(f, _invite(f.msp, f.msp_account)), 201)["id"]
    with down(f.msp), f.customer.client(f.customer_account.admin) as admin:
        ok(admin.post(f"/api/v1/trusts/{trust_id}/deactivate"))

    refused = _accept(f, trust_id)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "proposal_withdrawn"
    assert _trusts(f.msp, f.msp_account) == {trust_id: "proposed"}
    assert _pinned(f.msp, f.msp_account.id, f.customer_account.id) == []
    assert _audited(f.msp, f.msp_account, "trust.accept") == []


def test_the_account_keeps_writing_while_a_handshake_step_waits_for_its_peer(
    federation, monkeypatch
):
    """A step's audit event is recorded after the peer answers: recording locks the
    account's audit chain until the commit, and a slow peer must not hold up every
    other write of the account meanwhile (here: a team made while the accept is out)."""
    f = federation
    trust_id = ok(_propose(f, _invite(f.msp, f.msp_account)), 201)["id"]
    real = PeerClient.post_signed
    made: list[int] = []

    def post_signed(self: PeerClient, url: str, body: Any, *args: Any, **kwargs: Any) -> Any:
        if url.endswith("/countersignature"):
            with httpx.Client(base_url=f.msp.url, headers=f.msp_account.admin.headers) as admin:
                made.append(
                    admin.post("/api/v1/teams", json={"name": "NOC"}, timeout=2).status_code
                )
        return real(self, url, body, *args, **kwargs)

    monkeypatch.setattr(PeerClient, "post_signed", post_signed)
    ok(_accept(f, trust_id))
    assert made == [201]
    assert len(_audited(f.msp, f.msp_account, "trust.accept")) == 1


def test_a_deactivation_is_committed_before_the_peer_is_told(federation, monkeypatch):
    """The end takes effect here at once, and the account keeps writing meanwhile; a
    notice the peer does not take is audited and changes nothing here."""
    f = federation
    trust_id = ok(_propose(f, _invite(f.msp, f.msp_account)), 201)["id"]
    ok(_accept(f, trust_id))
    made: list[int] = []
    seen: list[dict[str, str]] = []

    def post_signed(self: PeerClient, url: str, body: Any, *args: Any, **kwargs: Any) -> Any:
        with httpx.Client(base_url=f.msp.url, headers=f.msp_account.admin.headers) as admin:
            made.append(admin.post("/api/v1/teams", json={"name": "NOC"}, timeout=2).status_code)
        seen.append(_trusts(f.msp, f.msp_account))  # as another request sees it: committed
        raise PeerUnavailable("the peer did not answer")

    monkeypatch.setattr(PeerClient, "post_signed", post_signed)
    with f.msp.client(f.msp_account.admin) as admin:
        assert ok(admin.post(f"/api/v1/trusts/{trust_id}/deactivate"))["status"] == "deactivated"
    assert made == [201]
    assert seen == [{trust_id: "deactivated"}]
    assert len(_audited(f.msp, f.msp_account, "trust.notice_undelivered")) == 1
    assert _trusts(f.customer, f.customer_account) == {trust_id: "active"}  # never told


# --- a step whose answer was lost -----------------------------------------------------------


def test_a_proposal_whose_answer_was_lost_is_sent_again_and_made_once(federation, lose_answers):
    f = federation
    sent = lose_answers("/trusts/proposals", 1)
    proposed = ok(_propose(f, _invite(f.msp, f.msp_account)), 201)
    assert len(sent) == 2  # the first answer was lost
    assert _trusts(f.msp, f.msp_account) == {proposed["id"]: "proposed"}
    ok(_accept(f, proposed["id"]))
    assert _trusts(f.customer, f.customer_account) == {proposed["id"]: "active"}


def test_a_countersignature_whose_answer_was_lost_is_sent_again(federation, lose_answers):
    f = federation
    trust_id = ok(_propose(f, _invite(f.msp, f.msp_account)), 201)["id"]
    sent = lose_answers("/countersignature", 1)
    ok(_accept(f, trust_id))
    assert len(sent) == 2
    assert _trusts(f.customer, f.customer_account) == {trust_id: "active"}
    assert _trusts(f.msp, f.msp_account) == {trust_id: "active"}
    assert len(_audited(f.customer, f.customer_account, "trust.activated")) == 1


def test_an_accept_retried_after_its_answers_were_lost_succeeds(federation, lose_answers):
    """The customer's trust became active, ours rolled back to a proposal: accepting
    again sends the same countersignature, which the customer answers as before."""
    f = federation
    trust_id = ok(_propose(f, _invite(f.msp, f.msp_account)), 201)["id"]
    lose_answers("/countersignature", 2)
    failed = _accept(f, trust_id)
    assert failed.status_code == 502, failed.text
    assert _trusts(f.msp, f.msp_account) == {trust_id: "proposed"}
    assert _trusts(f.customer, f.customer_account) == {trust_id: "active"}

    ok(_accept(f, trust_id))
    assert _trusts(f.msp, f.msp_account) == {trust_id: "active"}
    with f.customer.client(f.customer_account.admin) as admin:
        theirs = ok(admin.get(f"/api/v1/trusts/{trust_id}"))
    with f.msp.client(f.msp_account.admin) as admin:
        assert ok(admin.get(f"/api/v1/trusts/{trust_id}"))["agreement"] == theirs["agreement"]


def test_a_repeated_proposal_is_answered_with_the_trust_it_made(federation, lose_answers):
    """The same signed agreement with the same code, in a call signed anew: the trust it
    made, not a second one. A replay of the very call, or another agreement with the
    used code, is still refused."""
    f = federation
    sent = lose_answers("/trusts/proposals", 0)
    trust_id = ok(_propose(f, _invite(f.msp, f.msp_account)), 201)["id"]
    [(url, body)] = sent
    key = own_key(f.customer, f.customer_account.id)

    def resend(payload: dict[str, Any], trust: str) -> httpx.Response:
        content = json.dumps(payload).encode()
        parts = HttpRequestParts(
            "POST", url, {"Content-Type": "application/json", "TrustDesk-Trust": trust}, content
        )
        now = int(f.customer.app.extensions["trustdesk"].clock.now().timestamp())
        sign_request(parts, key.signing, keyid=str(key.ref), created=now)
        return httpx.post(url, headers=dict(parts.headers), content=content)

    repeated = resend(body, trust_id)
    assert repeated.status_code == 202, repeated.text
    assert repeated.json() == {"trust": trust_id, "status": "proposed"}
    assert _trusts(f.msp, f.msp_account) == {trust_id: "proposed"}

    other = dict(body["agreement"]["document"], id="trust-0123456789abcdef")
    signed = dict(sign_document(other, key.signing, "trust-agreement", keyid=str(key.ref)))
    refused = resend({"agreement": signed, "code": body["code"]}, other["id"])
    assert refused.status_code == 401 and refused.json()["reason"] == "invitation_invalid"
    assert _trusts(f.msp, f.msp_account) == {trust_id: "proposed"}


# --- the node at the invitation's URL -------------------------------------------------------


def test_a_descriptor_served_at_another_url_than_its_nodes_is_refused(federation, fake_nodes):
    """A server relaying the MSP's own descriptor (rightly signed, fingerprint and all)
    is not the MSP's node: the proposal must not go there."""
    f = federation
    invitation = _invite(f.msp, f.msp_account)
    relay = fake_nodes(lambda _url: httpx.get(f"{f.msp.url}/.well-known/trustdesk-node").json())

    refused = _propose(f, invitation, node_url=relay.url)
    assert refused.status_code == 422, refused.text
    assert list(refused.json()["errors"]) == ["node_url"]
    assert relay.posted == []
    assert _trusts(f.customer, f.customer_account) == {}


def test_a_descriptor_listing_the_invited_fingerprint_next_to_another_key_is_refused(
    federation, fake_nodes
):
    """An impostor node lists the MSP's account with the MSP's (public) fingerprint but
    its own key, and signs with it: the fingerprint handed over out of band is the key's
    own or nothing, so the impostor's key is never pinned."""
    f = federation
    invitation = _invite(f.msp, f.msp_account)
    evil = SigningKey.generate()

    def forged(url: str) -> Any:
        listing = {"key_id": "k1", "status": "current", "public_key": evil.verify_key.to_b64url(),
                   "fingerprint": invitation["fingerprint"]}  # fmt: skip
        entry = {"id": f.msp_account.id, "name": "MSP", "keys": [listing]}
        document = {"node": url, "issued_at": "2026-12-01T00:00:00+00:00", "accounts": [entry]}
        return dict(sign_document(document, evil, DESCRIPTOR, keyid=f"{f.msp_account.id}#k1"))

    impostor = fake_nodes(forged)
    refused = _propose(f, invitation, node_url=impostor.url)
    assert refused.status_code == 422, refused.text
    assert list(refused.json()["errors"]) == ["fingerprint"]
    assert impostor.posted == []
    assert _pinned(f.customer, f.customer_account.id, f.msp_account.id) == []


def test_an_invitation_url_spelled_otherwise_makes_a_working_trust(tmp_path):
    """The MSP names itself ``http://localhost:<port>``; the customer types the host in
    capitals with a trailing slash. Same node: the trust is made, and calls go to the
    URL the MSP names itself by (it checks each call's signed target URI against it)."""
    msp = _start_named_node("msp", tmp_path / "msp", "localhost")
    customer = _start_named_node("customer", tmp_path / "customer", "127.0.0.1")
    try:
        msp_account, customer_account = (
            make_account(msp.app, kind="msp"),
            make_account(customer.app),
        )
        invitation = _invite(msp, msp_account)
        typed = invitation["node_url"].replace("localhost", "LocalHost") + "/"
        body = {**{k: invitation[k] for k in INVITATION}, "node_url": typed}
        with customer.client(customer_account.admin) as admin:
            proposed = ok(admin.post("/api/v1/trusts", json=body), 201)
        assert proposed["peer_node"] == invitation["node_url"]
        with msp.client(msp_account.admin) as admin:
            ok(admin.post(f"/api/v1/trusts/{proposed['id']}/accept"))
            ok(admin.post(f"/api/v1/trusts/{proposed['id']}/deactivate"))
        with customer.client(customer_account.admin) as admin:
            assert ok(admin.get(f"/api/v1/trusts/{proposed['id']}"))["status"] == "deactivated"
    finally:
        msp.stop()
        customer.stop()


def _start_named_node(name: str, directory: Any, host: str) -> RunningNode:
    """A node on SQLite whose public URL names it by ``host`` (bound to 127.0.0.1)."""
    from account_node.migrations import upgrade

    directory.mkdir(parents=True, exist_ok=True)
    upgrade(f"sqlite:///{directory / 'node.db'}")
    server = make_server("127.0.0.1", 0, Flask("placeholder"), threaded=True)
    url = f"http://{host}:{server.server_port}"
    settings = node_settings(
        data_dir=str(directory), public_url=url, node_name=name, secret_key=f"{name}-secret",
        federation_allow_http=True, federation_allow_private=True, federation_timeout_seconds=3,
    )  # fmt: skip
    app = create_app(settings)
    server.app = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return RunningNode(name, app, server, url)


# --- a second proposal claiming an account already known -------------------------------------


def test_a_proposal_claiming_an_account_accepted_meanwhile_at_another_node_is_not_accepted(
    federation, fake_nodes
):
    """Two proposals name the customer's account: the customer's own, and one from
    another node with its own key (any holder of an invitation can claim any account
    id). Neither account was pinned when they arrived. Once the customer's is accepted,
    the other cannot be: accepting it would pin a key for that account from another node."""
    f = federation
    victim = f.customer_account.id
    real = ok(_propose(f, _invite(f.msp, f.msp_account)), 201)["id"]
    attacker = fake_nodes(lambda _url: {})
    evil = SigningKey.generate()
    msp_key = own_key(f.msp, f.msp_account.id)
    party = {"account": victim, "name": "Victim", "node": attacker.url,
             "keyid": f"{victim}#evil", "public_key": evil.verify_key.to_b64url(),
             "fingerprint": evil.verify_key.fingerprint}  # fmt: skip
    ours = {"account": f.msp_account.id, "name": "MSP", "node": f.msp.url,
            "keyid": str(msp_key.ref), "public_key": msp_key.signing.verify_key.to_b64url(),
            "fingerprint": msp_key.signing.verify_key.fingerprint}  # fmt: skip
    forged_id = "trust-fedcba9876543210"
    agreement = {"id": forged_id, "revision": 1, "trusting": party, "trusted": ours,
                 "scopes": ["requests:read"], "start": "2026-12-01T00:00:00+00:00",
                 "end": None, "proposed_by": {"id": "p", "name": "Eve"}}  # fmt: skip
    signed = dict(sign_document(agreement, evil, "trust-agreement", keyid=f"{victim}#evil"))
    url = f"{f.msp.url}/federation/v1/{f.msp_account.id}/trusts/proposals"
    content = json.dumps({"agreement": signed, "code": _invite(f.msp, f.msp_account)["code"]})
    parts = HttpRequestParts(
        "POST", url, {"Content-Type": "application/json", "TrustDesk-Trust": forged_id},
        content.encode(),
    )  # fmt: skip
    now = int(f.msp.app.extensions["trustdesk"].clock.now().timestamp())
    sign_request(parts, evil, keyid=f"{victim}#evil", created=now)
    received = httpx.post(url, headers=dict(parts.headers), content=content.encode())
    assert received.status_code == 202, received.text  # nothing contradicted it yet

    ok(_accept(f, real))
    refused = _accept(f, forged_id)
    assert refused.status_code == 409, refused.text
    assert attacker.posted == []
    assert {node for _, node in _pinned(f.msp, f.msp_account.id, victim)} == {f.customer.url}
    assert _trusts(f.msp, f.msp_account)[forged_id] == "proposed"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_trust_between_two_accounts_of_one_node(tmp_path, kind):
    """An MSP hosting a customer: our side of a step must not keep the peer, on this same
    node, waiting on our locks. On PostgreSQL the two accounts' rows and audit chains are
    apart; SQLite's one write lock is not held across the call."""
    from tests.federation.conftest import _drop, _postgres_database, start_node

    database = _postgres_database("solo") if kind == "postgresql" else None
    node = start_node("solo", tmp_path / "solo", database)
    try:
        msp, customer = make_account(node.app, kind="msp"), make_account(node.app)
        for member in (msp.admin, customer.admin):  # a token's first use writes, as in the demo
            with node.client(member) as client:
                ok(client.get("/api/v1/me"))
        invitation = _invite(node, msp)
        with node.client(customer.admin) as admin:
            body = {k: invitation[k] for k in INVITATION}
            trust_id = ok(admin.post("/api/v1/trusts", json=body), 201)["id"]
        with node.client(msp.admin) as admin:
            ok(admin.post(f"/api/v1/trusts/{trust_id}/accept"))
        assert _trusts(node, customer) == {trust_id: "active"}
    finally:
        node.stop()
        if database is not None:
            _drop(database[0])
