"""A small service desk per test, built through the public API like a real admin would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from account_node.audit.service import Actor
from account_node.context import Work
from account_node.db import db
from account_node.tenancy import AccountScope
from services.requests.service import Requests
from tests.factories.accounts import AccountFixture, make_account

ALWAYS = {"timezone": "UTC", "weekly": {d: [["00:00", "24:00"]] for d in
          ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}  # fmt: skip


def targets(response: int, resolution: int) -> dict[str, dict[str, int]]:
    """Minutes per priority; p1 a quarter of the given targets, p4 twice them."""
    factor = {"p1": 0.25, "p2": 0.5, "p3": 1, "p4": 2}
    return {
        p: {"response": int(response * f), "resolution": int(resolution * f)}
        for p, f in factor.items()
    }


@dataclass
class Desk:
    account: AccountFixture
    client: Any
    calendar: str
    standard: str  # service default: 4 h response, 16 h resolution (p3), 24x7
    customer: str  # offering default: 2 h / 8 h
    ci_sla: str  # 1 h / 4 h
    premium: str  # 30 min / 2 h
    urgent: str  # 10 min / 1 h
    team: str
    service: str
    offering: str
    parent_ci: str
    child_ci: str

    def post(self, path: str, body: dict[str, Any], who: str = "admin", **kw: Any) -> Any:
        member = getattr(self.account, who)
        return self.client.post(path, json=body, headers={**member.headers, **kw})

    def created(self, path: str, body: dict[str, Any], who: str = "admin") -> dict[str, Any]:
        response = self.post(path, body, who)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def raise_request(self, who: str = "end_user", **body: Any) -> dict[str, Any]:
        body.setdefault("subject", "Printer on fire")
        if "service_id" not in body:
            body.setdefault("offering_id", self.offering)
        return self.created("/api/v1/requests", body, who)

    def get(self, path: str, who: str = "admin", **query: Any) -> Any:
        member = getattr(self.account, who)
        return self.client.get(path, headers=member.headers, query_string=query)

    def patch(self, path: str, body: dict[str, Any], who: str = "admin") -> Any:
        member = getattr(self.account, who)
        return self.client.patch(path, json=body, headers=member.headers)


def build_desk(app, client) -> Desk:
    account = make_account(app)
    draft = Desk(account, client, *([""] * 11))
    calendar = draft.created("/api/v1/calendars", {"name": "Always", "definition": ALWAYS})["id"]
    slas = {
        name: draft.created(
            "/api/v1/slas", {"name": name, "calendar_id": calendar, "targets": targets(r, s)}
        )["id"]
        for name, r, s in (
            ("Standard", 240, 960),
            ("Customer", 120, 480),
            ("CI", 60, 240),
            ("Premium", 30, 120),
            ("Urgent", 10, 60),
        )
    }
    team = draft.created(
        "/api/v1/teams", {"name": "Service Desk", "member_ids": [account.specialist.id]}
    )["id"]
    service = draft.created(
        "/api/v1/services", {"name": "Printing", "default_sla_id": slas["Standard"]}
    )["id"]
    offering = draft.created(
        "/api/v1/offerings",
        {"service_id": service, "name": "Printing for HQ", "customer_sla_id": slas["Customer"],
         "team_id": team},
    )["id"]  # fmt: skip
    parent = draft.created(
        "/api/v1/cis", {"type": "site", "name": "HQ floor 3", "sla_id": slas["CI"]}
    )["id"]
    child = draft.created(
        "/api/v1/cis", {"type": "printer", "name": "PRN-301", "parent_id": parent}
    )["id"]
    return Desk(
        account, client, calendar, slas["Standard"], slas["Customer"], slas["CI"],
        slas["Premium"], slas["Urgent"], team, service, offering, parent, child,
    )  # fmt: skip


@pytest.fixture
def desk(app, client) -> Desk:
    return build_desk(app, client)


def admin_work(node: Any, account: AccountFixture) -> Work:
    """The account's admin at work in the current app context, as a service sees them."""
    return Work(
        db.session,
        AccountScope(account.id),
        Actor(account.admin.id, account.id, "Ada Admin <admin@example.test>"),
        node.clock,
        node.jobs,
        node.settings,
        roles=frozenset({"admin"}),
    )


def while_uncommitted(
    app: Any, desk: Desk, first: Callable[[Requests], Any], second: Callable[[], Any]
) -> tuple[Any, Any]:
    """Run ``first`` as the admin and keep it uncommitted while ``second`` is sent on its
    own connection (``holding``)."""
    node = app.extensions["trustdesk"]
    return holding(app, lambda: first(Requests(admin_work(node, desk.account))), second)


def holding(
    app: Any,
    first: Callable[[], Any],
    second: Callable[[], Any],
    meanwhile: Callable[[], Any] = lambda: None,
) -> tuple[Any, Any]:
    """Run ``first`` in the app's session and keep it uncommitted while ``second`` is
    sent on its own connection; the second must still be waiting a moment later; then
    ``meanwhile`` (the clock moved on, say) and commit the first. Returns what ``first``
    returned and the second's answer."""
    answers: list[Any] = []
    with app.app_context():
        done = first()
        waiting = threading.Thread(target=lambda: answers.append(second()))
        waiting.start()
        try:
            waiting.join(timeout=1)
            assert waiting.is_alive(), "the second did not wait for the first"
            meanwhile()
            db.session.commit()
        finally:
            db.session.rollback()
            waiting.join(timeout=30)
    [answer] = answers
    return done, answer
