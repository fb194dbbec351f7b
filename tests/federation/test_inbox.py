"""The cross-account inbox: two customer nodes fanned out to at once, one of them dead."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.factories.accounts import AccountFixture, make_account
from tests.federation.conftest import RunningNode, _drop, _postgres_database, start_node
from tests.federation.flows import build_msp_desk, down, establish_trust, lying, offer, ok

TIMEOUT_MS = 1500


@dataclass
class Customer:
    node: RunningNode
    account: AccountFixture
    trust: str
    request: dict


@dataclass
class Msp:
    node: RunningNode
    account: AccountFixture


@pytest.fixture(params=["sqlite", "postgresql"])
def estate(request, tmp_path) -> Iterator[tuple[Msp, list[Customer]]]:
    names = ("msp", "alpha", "beta")
    databases = {}
    if request.param == "postgresql":
        databases = {name: _postgres_database(name) for name in names}
    nodes = {
        name: start_node(name, tmp_path / name, databases.get(name), inbox_timeout_ms=TIMEOUT_MS)
        for name in names
    }
    try:
        msp = Msp(nodes["msp"], make_account(nodes["msp"].app, kind="msp", prefix="msp"))
        desk = build_msp_desk(msp.node, msp.account)
        customers = []
        for name, priority in (("alpha", "p1"), ("beta", "p4")):
            node = nodes[name]
            account = make_account(node.app, prefix=name)
            trust = establish_trust(msp.node, msp.account, node, account)
            offer(msp.node, msp.account, desk, trust)
            with node.client(account.end_user) as customer:
                [held] = ok(customer.get("/api/v1/offerings"))["items"]
                body = {"subject": f"{name} needs help", "offering_id": held["id"],
                        "priority": priority}  # fmt: skip
                raised = ok(customer.post("/api/v1/requests", json=body), 201)
            customers.append(Customer(node, account, trust, raised))
        yield msp, customers
    finally:
        for node in nodes.values():
            node.stop()
        for owner, _ in databases.values():
            _drop(owner)


def _inbox(msp: Msp, **params) -> dict:
    with msp.node.client(msp.account.specialist) as client:
        return dict(ok(client.get("/api/v1/inbox", params=params)))


def test_the_inbox_merges_every_trusting_node_by_sla_urgency(estate):
    msp, (alpha, beta) = estate
    inbox = _inbox(msp)
    assert [i["subject"] for i in inbox["items"]] == ["alpha needs help", "beta needs help"]
    assert [i["account"] for i in inbox["items"]] == [alpha.account.id, beta.account.id]
    assert (
        inbox["items"][0]["path"] == f"/api/v1/trusts/{alpha.trust}/requests/{alpha.request['id']}"
    )
    by_account = {s["account"]: s for s in inbox["sources"]}
    assert by_account[alpha.account.id]["status"] == by_account[beta.account.id]["status"] == "ok"
    assert by_account[msp.account.id]["node"] == "this node"
    assert all(s["latency_ms"] >= 0 for s in inbox["sources"])


def test_a_node_that_hangs_costs_its_timeout_and_hides_nothing_else(estate):
    msp, (alpha, beta) = estate
    beta.node.server.shutdown()  # still listening, never answering: a hung node
    started = time.perf_counter()
    inbox = _inbox(msp)
    took = time.perf_counter() - started
    assert [i["account"] for i in inbox["items"]] == [alpha.account.id]
    statuses = {s["account"]: s["status"] for s in inbox["sources"]}
    assert statuses[beta.account.id] == "unreachable"
    assert statuses[alpha.account.id] == "ok"
    assert took < TIMEOUT_MS / 1000 + 1.5


def test_a_node_killed_outright_is_unreachable_at_once(estate):
    msp, (alpha, beta) = estate
    beta.node.server.shutdown()
    beta.node.server.server_close()  # the port is closed: connections are refused
    inbox = _inbox(msp)
    statuses = {s["account"]: s["status"] for s in inbox["sources"]}
    assert (statuses[alpha.account.id], statuses[beta.account.id]) == ("ok", "unreachable")


def test_a_customer_that_ended_the_trust_is_shown_as_refusing(estate, monkeypatch):
    msp, (alpha, beta) = estate
    from trust.client import PeerClient
    from trust.errors import PeerUnavailable

    def lost(*args, **kwargs):
        raise PeerUnavailable("lost")

    with monkeypatch.context() as patch:
        patch.setattr(PeerClient, "post_signed", lost)
        with beta.node.client(beta.account.admin) as customer:
            ok(customer.post(f"/api/v1/trusts/{beta.trust}/deactivate"))
    inbox = _inbox(msp)
    statuses = {s["account"]: s["status"] for s in inbox["sources"]}
    assert statuses[beta.account.id] == "refused"
    assert [i["account"] for i in inbox["items"]] == [alpha.account.id]


def test_a_node_restarting_behind_its_proxy_is_unreachable_not_refusing(estate):
    """A 503 is a node that cannot answer now, not a customer that ended the trust."""
    msp, (alpha, beta) = estate
    with down(beta.node):
        inbox = _inbox(msp)
    statuses = {s["account"]: s["status"] for s in inbox["sources"]}
    assert (statuses[alpha.account.id], statuses[beta.account.id]) == ("ok", "unreachable")


def test_a_node_slipping_in_a_request_of_another_offering_shows_none_of_its_rows(estate):
    """Which of our people see a request follows from its offering (the routing team):
    a page holding one that was not asked for is no answer at all."""
    msp, (alpha, beta) = estate

    def smuggled(answer: dict) -> dict:
        items = answer.get("items", [])
        items.append({**items[0], "id": "smuggled", "offering": "another-offering"})
        return answer

    with lying(beta.node, "/federation/", smuggled):
        inbox = _inbox(msp)
    statuses = {s["account"]: s["status"] for s in inbox["sources"]}
    assert (statuses[alpha.account.id], statuses[beta.account.id]) == ("ok", "unreachable")
    assert [i["account"] for i in inbox["items"]] == [alpha.account.id]


def test_an_offering_is_shown_by_the_name_the_msp_signed_not_the_one_a_peer_sends(estate):
    msp, (alpha, beta) = estate

    def renamed(answer: dict) -> dict:
        for item in answer.get("items", []):
            item["offering_name"] = "Urgent: reset your password at evil.example"
        return answer

    with lying(beta.node, "/federation/", renamed):
        inbox = _inbox(msp)
    names = {i["account"]: i["offering_name"] for i in inbox["items"]}
    assert names[beta.account.id] == names[alpha.account.id] != ""
    assert "evil" not in json.dumps(inbox)


def test_trusts_long_ended_do_not_push_newer_customers_out_of_the_inbox(estate):
    """Ended trusts stay on record for good: two hundred of them, older than alpha's and
    beta's, once filled the one page of trusts the inbox looked through."""
    from datetime import UTC, datetime

    from account_node.db import db
    from account_node.tenancy import AccountScope, bind_scope
    from trust.models import Trust

    msp, (alpha, beta) = estate
    with msp.node.app.app_context():
        bind_scope(db.session(), AccountScope(msp.account.id))
        long_ago = datetime(2020, 1, 1, tzinfo=UTC)
        db.session.add_all(
            Trust(id=f"ended-{n}", role="trusted", peer_account=f"gone-{n}",
                  peer_node="https://gone.example", status="deactivated", agreement={},
                  created_at=long_ago, deactivated_at=long_ago, account_id=msp.account.id)
            for n in range(200)
        )  # fmt: skip
        db.session.commit()
    inbox = _inbox(msp)
    assert {i["account"] for i in inbox["items"]} == {alpha.account.id, beta.account.id}


def test_filters_narrow_the_fan_out_to_one_account(estate):
    msp, (_, beta) = estate
    inbox = _inbox(msp, account=beta.account.id)
    assert [s["account"] for s in inbox["sources"]] == [beta.account.id]
    assert [i["account"] for i in inbox["items"]] == [beta.account.id]


def test_a_team_filter_keeps_the_offerings_routed_to_that_team(estate):
    msp, _ = estate
    with msp.node.client(msp.account.admin) as client:
        other = ok(client.post("/api/v1/teams", json={"name": "Field Engineers"}), 201)["id"]
        [desk_team] = [t["id"] for t in ok(client.get("/api/v1/teams"))["items"]
                       if t["name"] == "Service Desk"]  # fmt: skip
    found = _inbox(msp, team=desk_team)
    assert len(found["items"]) == 2, found
    assert _inbox(msp, team=other)["items"] == []


def test_a_service_filter_keeps_the_offerings_of_that_service(estate):
    msp, _ = estate
    with msp.node.client(msp.account.admin) as client:
        [service] = ok(client.get("/api/v1/services"))["items"]
        [sla] = ok(client.get("/api/v1/slas"))["items"][:1]
        body = {"name": "Backups", "default_sla_id": sla["id"]}
        other = ok(client.post("/api/v1/services", json=body), 201)
    assert len(_inbox(msp, service=service["id"])["items"]) == 2
    found = _inbox(msp, service=other["id"])
    assert found["items"] == [], found["sources"]


def test_the_msps_own_requests_are_merged_in_by_urgency_too(estate):
    msp, (alpha, beta) = estate
    with msp.node.client(msp.account.admin) as client:
        [service] = ok(client.get("/api/v1/services"))["items"]
        [team] = [t for t in ok(client.get("/api/v1/teams"))["items"]
                  if t["name"] == "Service Desk"]  # fmt: skip
        body = {"service_id": service["id"], "name": "Internal IT", "team_id": team["id"]}
        local = ok(client.post("/api/v1/offerings", json=body), 201)
        ok(client.post("/api/v1/requests", json={"subject": "MSP laptop", "priority": "p1",
                                                 "offering_id": local["id"]}), 201)  # fmt: skip
    inbox = _inbox(msp)
    accounts = [i["account"] for i in inbox["items"]]
    assert sorted(accounts) == sorted([alpha.account.id, beta.account.id, msp.account.id])
    [own] = [i for i in inbox["items"] if i["account"] == msp.account.id]
    assert (own["trust_id"], own["path"]) == (None, f"/api/v1/requests/{own['id']}")
    dues = [i["urgency_at"] for i in inbox["items"]]
    assert dues == sorted(dues)


def test_a_change_on_a_customer_node_reaches_the_msp_stream_as_a_signed_notice(estate):
    import threading

    msp, (alpha, _) = estate
    received: list[str] = []

    def listen() -> None:
        with (
            msp.node.client(msp.account.specialist) as client,
            client.stream("GET", "/api/v1/inbox/events", timeout=30) as events,
        ):
            received.extend(line for line in events.iter_lines() if line.startswith("data: "))

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.5)  # the stream is open
    with alpha.node.client(alpha.account.end_user) as customer:
        note = {"body": "It is jamming again."}
        ok(customer.post(f"/api/v1/requests/{alpha.request['id']}/notes", json=note), 201)
    listener.join()
    assert received, "no event arrived on the stream"
    events = [json.loads(line.removeprefix("data: ")) for line in received]
    # (a notice of the setup's requests may still be on its way, and arrive first)
    [event] = [e for e in events if e["action"] == "note"]
    assert (event["type"], event["account"], event["request"]) == (
        "request.changed",
        alpha.account.id,
        alpha.request["id"],
    )
    assert event["path"] == f"/api/v1/trusts/{alpha.trust}/requests/{alpha.request['id']}"
    assert not any("It is jamming" in line for line in received)  # references only


def test_a_node_answering_garbage_is_unreachable_and_its_words_are_not_shown(estate, monkeypatch):
    from services.visibility.service import SharedRequests

    msp, (alpha, beta) = estate
    monkeypatch.setattr(
        SharedRequests, "page", lambda self, **kw: {"items": [{"subject": "<script>"}]}
    )
    inbox = _inbox(msp)
    statuses = {s["account"]: s["status"] for s in inbox["sources"]}
    assert (statuses[alpha.account.id], statuses[beta.account.id]) == (
        "unreachable",
        "unreachable",
    )
    assert "<script>" not in json.dumps(inbox)


@pytest.mark.parametrize("unstorable", ["\x00", "\ud800"], ids=["nul", "lone_surrogate"])
def test_a_node_answering_text_no_database_can_store_is_unreachable_and_hides_nothing_else(
    estate, unstorable
):
    """Beta's node writes a NUL or a lone surrogate into its requests' subjects: its
    answer is garbage, refused whole, and the page still shows everyone else."""
    msp, (alpha, beta) = estate

    def poisoned(answer: dict) -> dict:
        for item in answer.get("items", []):
            item["subject"] = f"beta {unstorable} needs help"
        return answer

    with lying(beta.node, "/federation/", poisoned):
        inbox = _inbox(msp)
    statuses = {s["account"]: s["status"] for s in inbox["sources"]}
    assert (statuses[alpha.account.id], statuses[beta.account.id]) == ("ok", "unreachable")
    assert [i["subject"] for i in inbox["items"]] == ["alpha needs help"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_customer_hosted_on_the_msps_node_answers_a_fresh_tokens_first_inbox(tmp_path, kind):
    """A token's first use is written; on SQLite a write held across a call to a peer
    would keep the hosted customer from writing its side of it (the nonce, its half of
    the handshake) until the call timed out: the handshake failed, the inbox showed the
    customer unreachable. Every token here is used for the first time, and the use is
    written last."""
    database = _postgres_database("solo") if kind == "postgresql" else None
    node = start_node("solo", tmp_path / "solo", database, inbox_timeout_ms=TIMEOUT_MS)
    try:
        msp = Msp(node, make_account(node.app, kind="msp", prefix="msp"))
        customer = make_account(node.app, prefix="hosted")
        trust = establish_trust(node, msp.account, node, customer)
        offer(node, msp.account, build_msp_desk(node, msp.account), trust)
        with node.client(customer.end_user) as end_user:
            [held] = ok(end_user.get("/api/v1/offerings"))["items"]
            body = {"subject": "Hosted needs help", "offering_id": held["id"]}
            ok(end_user.post("/api/v1/requests", json=body), 201)

        inbox = _inbox(msp)  # the specialist's token is used for the first time

        statuses = {s["account"]: s["status"] for s in inbox["sources"]}
        assert statuses[customer.id] == "ok"
        assert [i["subject"] for i in inbox["items"]] == ["Hosted needs help"]
    finally:
        node.stop()
        if database is not None:
            _drop(database[0])


def test_a_trust_the_customer_ends_closes_the_msp_streams_under_it(estate, monkeypatch):
    """DESIGN section 5: beta ends its trust; the specialist's open stream (beta's offering
    is routed to their team) is told so and ends then, not at the end of its lifetime."""
    import threading

    msp, (_, beta) = estate
    services = msp.node.app.extensions["trustdesk"]
    monkeypatch.setattr(services, "settings", services.settings.replace(inbox_stream_seconds=60))
    received: list[dict] = []

    def listen() -> None:
        with (
            msp.node.client(msp.account.specialist) as client,
            client.stream("GET", "/api/v1/inbox/events", timeout=90) as events,
        ):
            received.extend(
                json.loads(line.removeprefix("data: "))
                for line in events.iter_lines()
                if line.startswith("data: ")
            )

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(0.5)  # the stream is open
    with beta.node.client(beta.account.admin) as customer:
        ok(customer.post(f"/api/v1/trusts/{beta.trust}/deactivate"))
    listener.join(timeout=15)
    assert not listener.is_alive(), "the stream outlived the trust it reached"
    # (notices of the setup's requests may arrive first)
    assert received[-1] == {"id": f"{beta.trust}:end", "type": "trust.deactivated",
                            "trust": beta.trust}  # fmt: skip
