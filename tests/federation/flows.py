"""Steps the federation tests share: a countersigned trust, an MSP desk, an offering."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from account_node.db import db
from tests.factories.keys import account_keys

OFFICE = {
    "timezone": "Europe/Amsterdam",
    "weekly": {d: [["08:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}
ALWAYS = {"timezone": "UTC", "weekly": {d: [["00:00", "24:00"]] for d in
          ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}  # fmt: skip


def targets(response: int, resolution: int) -> dict[str, dict[str, int]]:
    return {p: {"response": response, "resolution": resolution} for p in ("p1", "p2", "p3", "p4")}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@contextmanager
def down(node: Any) -> Iterator[None]:
    """``node`` (a running node) answers every call with 503 until the block ends."""

    def unavailable(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"restarting"]

    real, node.server.app = node.server.app, unavailable
    try:
        yield
    finally:
        node.server.app = real


@contextmanager
def lying(node: Any, path: str, change: Callable[[Any], Any]) -> Iterator[None]:
    """``node`` (a running node) answers every call whose path starts with ``path`` with
    its own JSON answer passed through ``change`` until the block ends: a peer that lies.
    The answer is written as the standard library writes JSON, so a lone surrogate or a
    NUL that ``change`` puts in a string goes out escaped (``\\ud800``, ``\\u0000``)."""

    def liar(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not environ["PATH_INFO"].startswith(path):
            return real(environ, start_response)
        kept: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept.update(status=status, headers=headers)
            return lambda data: None

        answer = real(environ, keep)
        try:
            body = json.dumps(change(json.loads(b"".join(answer)))).encode()
        finally:
            getattr(answer, "close", lambda: None)()
        headers = [(k, v) for k, v in kept["headers"] if k.lower() != "content-length"]
        start_response(kept["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    real, node.server.app = node.server.app, liar
    try:
        yield
    finally:
        node.server.app = real


def own_key(node: Any, account_id: str) -> Any:
    """The current key of an account of a running node (its private half included)."""
    with node.app.app_context():
        key = account_keys(node.app, account_id).current()
        db.session.commit()
    return key


def establish_trust(msp_node, msp_account, customer_node, customer_account) -> str:
    """Invite on the MSP node, propose on the customer's, countersign on the MSP's."""
    with msp_node.client(msp_account.admin) as msp:
        invitation = ok(msp.post("/api/v1/trusts/invitations"), 201)
    with customer_node.client(customer_account.admin) as customer:  # handed over whole
        trust_id = ok(customer.post("/api/v1/trusts", json=invitation), 201)["id"]
    with msp_node.client(msp_account.admin) as msp:
        ok(msp.post(f"/api/v1/trusts/{trust_id}/accept"))
    return str(trust_id)


@dataclass
class MspDesk:
    calendar: str
    standard: str
    gold: str
    team: str
    service: str


def build_msp_desk(node, account) -> MspDesk:
    """Office hours, two SLAs, a service desk team with the specialist, one service."""
    with node.client(account.admin) as msp:

        def made(path: str, body: dict[str, Any]) -> str:
            return str(ok(msp.post(path, json=body), 201)["id"])

        calendar = made("/api/v1/calendars", {"name": "Office", "definition": ALWAYS})
        standard = made(
            "/api/v1/slas",
            {"name": "Standard", "calendar_id": calendar, "targets": targets(240, 960)},
        )
        gold = made(
            "/api/v1/slas", {"name": "Gold", "calendar_id": calendar, "targets": targets(60, 240)}
        )
        team = made(
            "/api/v1/teams", {"name": "Service Desk", "member_ids": [account.specialist.id]}
        )
        service = made(
            "/api/v1/services",
            {"name": "Workplace support", "description": "Laptops, printers, accounts",
             "default_sla_id": standard},
        )  # fmt: skip
    return MspDesk(calendar, standard, gold, team, service)


def offer(node, account, desk: MspDesk, trust_id: str, **extra: Any) -> dict[str, Any]:
    body = {"trust_id": trust_id, "service_id": desk.service, "name": "Workplace support",
            "team_id": desk.team, "customer_sla_id": desk.gold, **extra}  # fmt: skip
    with node.client(account.admin) as msp:
        return dict(ok(msp.post("/api/v1/offerings", json=body), 201))


def cli_env(node: Any) -> dict[str, str]:
    """The environment under which ``trustdesk`` commands work on running ``node``'s data."""
    settings = node.app.extensions["trustdesk"].settings
    return {
        "TRUSTDESK_DATABASE_URL": settings.database_url,
        "TRUSTDESK_DATA_DIR": settings.data_dir,
        "TRUSTDESK_SECRET_KEY": settings.secret_key,
        "TRUSTDESK_PUBLIC_URL": settings.public_url,
        "TRUSTDESK_FEDERATION_ALLOW_HTTP": "true",
        "TRUSTDESK_FEDERATION_ALLOW_PRIVATE": "true",
        "TRUSTDESK_FEDERATION_TIMEOUT_SECONDS": "3",
        "TRUSTDESK_SLA_SWEEP_SECONDS": "0",
    }


FAR = datetime(9000, 1, 1, tzinfo=UTC)


def deliver_pending(node: Any, account_id: str) -> None:
    """Send what the account's outbox holds, as if each retry's time had come, until it
    holds nothing due. Each round sends every peer queue's head (a delivered message
    enqueues the next, which the node's jobs then run). A round may send nothing: the
    node's own runner may hold the message that moment, and then its attempt settles it
    or leaves it for the next round."""
    from trust.outbox import DELIVER, OutboxStore, outbox_work

    trustdesk = node.app.extensions["trustdesk"]
    for _ in range(10):
        with node.app.app_context():
            work = outbox_work(trustdesk, account_id)
            store = OutboxStore(work.session, work.scope)
            heads = []
            for head in store.heads_due(FAR):
                store.make_due(head, work.clock.now())
                heads.append(head.id)
            db.session.commit()
            db.session.remove()
        if not heads:
            return
        for message_id in heads:
            trustdesk.run_job(DELIVER, (account_id, message_id))
        trustdesk.jobs.drain()
    raise AssertionError("the outbox still holds messages after ten rounds")
