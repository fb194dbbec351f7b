"""``GET /api/v1/outbox``: what the account's outbox holds, for the people who run it.

Messages are stored as the outbox leaves them; the listing filters by state and peer,
pages by cursor, and shows an account nothing of another's outbox.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from account_node.db import db
from tests.factories.accounts import make_account
from tests.integration.trust.outbox_fakes import RecordedJobs, work_for
from trust.handshake import TrustStore
from trust.models import KEY_NOTICE, MESSAGE, OutboxMessage, Trust


def _trust(account, peer: str, now) -> Trust:
    return Trust(
        id=f"trust-{peer}-{account.id}", role="trusting", peer_account=peer,
        peer_node=f"http://{peer}.example", status="active",
        agreement={"document": {}, "signatures": []}, created_at=now,
    )  # fmt: skip


def _fill(app, account, clock) -> None:
    """To "msp": one of each state; to "other": one pending."""
    with app.app_context():
        work = work_for(app, account, RecordedJobs())
        trusts = TrustStore(work.session, work.scope)
        for peer in ("msp", "other"):
            trusts.add(_trust(account, peer, clock.now()))
        now = clock.now()
        rows = [
            ("msp", "delivered", {"delivered_at": now}),
            ("msp", "abandoned", {"abandoned_at": now, "last_error": "peer_unavailable: down"}),
            ("msp", "waiting", {"key_refused": True, "last_error": "peer_declined (key_unknown)"}),
            ("msp", "notice", {"precedence": KEY_NOTICE, "signing_key": "k2"}),
            ("other", "pending", {}),
        ]
        for n, (peer, name, fields) in enumerate(rows):
            values = {
                "precedence": MESSAGE, "signing_key": None, "key_refused": False,
                "delivered_at": None, "abandoned_at": None, "last_error": None, **fields,
            }  # fmt: skip
            work.session.add(
                OutboxMessage(
                    id=f"{name}-{account.id}"[:32], account_id=account.id,
                    trust_id=f"trust-{peer}-{account.id}", peer_account=peer,
                    peer_node=f"http://{peer}.example", path=f"/federation/v1/{peer}/x",
                    body={"secret": "never listed"}, actor_id=None,
                    created_at=now + timedelta(seconds=n), attempts=n,
                    next_attempt_at=None if fields.get("delivered_at") else now, **values,
                )
            )  # fmt: skip
        db.session.commit()


@pytest.fixture
def account(app, clock):
    account = make_account(app, prefix="outbox")
    _fill(app, account, clock)
    return account


def _listed(client, member, **query) -> dict:
    response = client.get("/api/v1/outbox", query_string=query, headers=member.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_outbox_lists_every_message_oldest_first_with_its_state(client, account):
    items = _listed(client, account.auditor)["items"]
    assert [(i["peer_account"], i["state"], i["kind"]) for i in items] == [
        ("msp", "delivered", "message"),
        ("msp", "abandoned", "message"),
        ("msp", "waiting_for_key", "message"),
        ("msp", "pending", "key_notice"),
        ("other", "pending", "message"),
    ]
    waiting = items[2]
    assert waiting["last_error"] == "peer_declined (key_unknown)" and waiting["attempts"] == 2
    assert "body" not in waiting and "secret" not in str(items)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state": "pending"}, ["notice", "pending"]),
        ({"state": "waiting_for_key"}, ["waiting"]),
        ({"state": "abandoned", "peer": "msp"}, ["abandoned"]),
        ({"peer": "other"}, ["pending"]),
        ({"peer": "nobody"}, []),
    ],
)
def test_the_outbox_filters_by_state_and_peer(client, account, query, expected):
    items = _listed(client, account.admin, **query)["items"]
    assert [i["id"].split("-")[0] for i in items] == expected


def test_the_outbox_pages_by_cursor(client, account):
    first = _listed(client, account.admin, limit=3)
    second = _listed(client, account.admin, limit=3, cursor=first["next_cursor"])
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(ids) == len(set(ids)) == 5 and second["next_cursor"] is None


def test_an_unknown_state_is_a_problem_naming_the_field(client, account):
    response = client.get("/api/v1/outbox?state=stuck", headers=account.admin.headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert "state" in str(response.get_json())


def test_another_account_sees_nothing_of_this_outbox(app, client, account):
    other = make_account(app, prefix="outbox")
    assert _listed(client, other.admin)["items"] == []
    assert _listed(client, other.admin, peer="msp")["items"] == []


@pytest.mark.parametrize("role", ["specialist", "end_user"])
def test_only_admins_and_auditors_read_the_outbox(client, account, role):
    member = getattr(account, role)
    assert client.get("/api/v1/outbox", headers=member.headers).status_code == 403
