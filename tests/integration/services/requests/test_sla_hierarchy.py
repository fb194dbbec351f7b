"""The SLA hierarchy: request > requester > CI > offering > service, each explained."""

from __future__ import annotations

from datetime import timedelta

import pytest


def test_level_5_the_service_default_applies_without_anything_more_specific(desk):
    body = desk.raise_request(service_id=desk.service)
    assert body["sla"]["source"] == "service"
    assert body["sla"]["id"] == desk.standard
    assert body["sla"]["reason"] == "service default of Printing: Standard"


def test_level_4_the_customer_default_on_the_offering_beats_the_service(desk):
    body = desk.raise_request()
    assert (body["sla"]["source"], body["sla"]["id"]) == ("offering", desk.customer)


def _about(desk, ci_id):
    """The end user's request about a CI of the desk's (not theirs: end users name only
    their own CIs), raised for them by the specialist."""
    return desk.raise_request("specialist", requester_id=desk.account.end_user.id, ci_id=ci_id)


def test_level_3_the_ci_beats_the_offering_and_is_inherited_from_its_parent(desk):
    own = _about(desk, desk.parent_ci)
    assert (own["sla"]["source"], own["sla"]["id"]) == ("ci", desk.ci_sla)
    assert own["sla"]["reason"] == "configuration item: HQ floor 3, CI"
    inherited = _about(desk, desk.child_ci)
    assert inherited["sla"]["id"] == desk.ci_sla
    assert inherited["sla"]["reason"] == (
        "configuration item: PRN-301 (inherited from HQ floor 3), CI"
    )


def _premium_for_end_user(desk):
    desk.created(
        "/api/v1/slas/requester-overrides",
        {"label": "Finance executives", "sla_id": desk.premium,
         "person_ids": [desk.account.end_user.id]},
    )  # fmt: skip


def test_level_2_a_user_override_beats_the_ci(desk):
    _premium_for_end_user(desk)
    body = _about(desk, desk.child_ci)
    assert (body["sla"]["source"], body["sla"]["id"]) == ("requester", desk.premium)
    assert body["sla"]["reason"] == "user override: Finance executives, Premium"


def test_level_1_a_request_override_beats_everything_and_needs_a_reason(desk):
    _premium_for_end_user(desk)
    body = _about(desk, desk.child_ci)
    path = f"/api/v1/requests/{body['id']}/sla-override"
    assert desk.post(path, {"sla_id": desk.urgent}, "specialist").status_code == 422
    overridden = desk.post(path, {"sla_id": desk.urgent, "reason": "CEO's printer"}, "specialist")
    assert overridden.status_code == 200, overridden.get_data(as_text=True)
    sla = overridden.get_json()["sla"]
    assert (sla["source"], sla["id"]) == ("request", desk.urgent)
    assert sla["reason"] == "request override: Urgent (CEO's printer)"
    audit = desk.get("/api/v1/audit", who="auditor", action="request.sla_reevaluate").get_json()
    assert audit["items"][0]["target_id"] == body["id"]


@pytest.mark.parametrize("sla_id", ["no-such-sla", "f" * 64], ids=["unknown", "longer than ids"])
def test_an_override_naming_no_sla_is_refused_by_field_and_changes_nothing(desk, sla_id):
    """On PostgreSQL an id longer than any SLA's reached the request's column before the
    lookup: the database's own refusal named no field."""
    body = desk.raise_request()
    path = f"/api/v1/requests/{body['id']}/sla-override"
    refused = desk.post(path, {"sla_id": sla_id, "reason": "CEO's printer"}, "specialist")
    assert refused.status_code == 422
    assert list(refused.get_json()["errors"]) == ["sla_id"]
    assert desk.get(f"/api/v1/requests/{body['id']}").get_json()["sla"] == body["sla"]


def test_end_users_cannot_override_the_sla(desk):
    body = desk.raise_request()
    path = f"/api/v1/requests/{body['id']}/sla-override"
    assert (
        desk.post(path, {"sla_id": desk.urgent, "reason": "please"}, "end_user").status_code == 403
    )


def test_changing_an_input_never_rewrites_a_running_request_until_reevaluated(desk):
    body = desk.raise_request()
    assert (
        desk.patch(
            f"/api/v1/offerings/{desk.offering}", {"customer_sla_id": desk.premium}
        ).status_code
        == 200
    )
    unchanged = desk.get(f"/api/v1/requests/{body['id']}").get_json()
    assert unchanged["sla"]["id"] == desk.customer
    path = f"/api/v1/requests/{body['id']}/reevaluate"
    reevaluated = desk.post(path, {"reason": "contract upgraded"}, "specialist").get_json()
    assert reevaluated["sla"]["id"] == desk.premium
    timeline = desk.get(f"/api/v1/requests/{body['id']}/timeline").get_json()
    assert timeline[-1]["kind"] == "sla" and timeline[-1]["body"] == "contract upgraded"
    assert timeline[-1]["public"] is False  # the desk's reason, not the requester's to read
    theirs = desk.get(f"/api/v1/requests/{body['id']}/timeline", who="end_user").get_json()
    assert "contract upgraded" not in str(theirs)


def test_the_frozen_terms_survive_a_change_to_the_sla_itself(desk):
    body = desk.raise_request()
    faster = {"targets": {p: {"response": 1, "resolution": 2} for p in ("p1", "p2", "p3", "p4")}}
    assert desk.patch(f"/api/v1/slas/{desk.customer}", faster).status_code == 200
    again = desk.get(f"/api/v1/requests/{body['id']}").get_json()
    assert again["sla"]["response"]["due"] == body["sla"]["response"]["due"]


def test_level_2_without_a_ci_the_first_group_by_label_beats_the_offering(desk):
    ids = {role: getattr(desk.account, role).id for role in ("end_user", "admin")}
    for label, sla, people in (
        ("Zeta desk", desk.premium, [ids["end_user"], ids["admin"]]),
        ("Alpha desk", desk.urgent, [ids["end_user"]]),
    ):
        desk.created(
            "/api/v1/slas/requester-overrides",
            {"label": label, "sla_id": sla, "person_ids": people},
        )
    first = desk.raise_request()["sla"]
    assert (first["source"], first["id"]) == ("requester", desk.urgent)
    assert first["reason"] == "user override: Alpha desk, Urgent"
    other = desk.raise_request(who="admin")["sla"]
    assert (other["source"], other["reason"]) == ("requester", "user override: Zeta desk, Premium")
    nobody = desk.raise_request(who="specialist")["sla"]
    assert (nobody["source"], nobody["id"]) == ("offering", desk.customer)
    assert nobody["reason"] == "customer default on offering Printing for HQ: Customer"


def test_requester_terms_agree_for_ids_the_one_query_cannot_match(app, desk):
    """An id JSON would escape takes the long way and still finds its group."""
    from account_node.db import db
    from account_node.tenancy import AccountScope
    from services.requests.store import RequestStore
    from services.sla.models import RequesterSla

    odd = 'x"y\\z'
    node = app.extensions["trustdesk"]
    with app.app_context():
        store = RequestStore(db.session, AccountScope(desk.account.id))
        db.session.add(
            RequesterSla(
                account_id=desk.account.id,
                label="Odd ones",
                sla_id=desk.premium,
                person_ids=[odd],
                created_at=node.clock.now(),
            )
        )
        db.session.flush()
        group, sla, _ = store.requester_terms(odd, desk.standard)
        assert (group.label, sla.id) == ("Odd ones", desk.premium)
        group, sla, _ = store.requester_terms("x", desk.standard)
        assert (group, sla.id) == (None, desk.standard)
        # Read with the offering: left to the long way for the odd id, answered for others.
        assert store.offering_terms(desk.offering, odd).requester_terms is None
        group, sla, _ = store.offering_terms(desk.offering, "x").requester_terms
        assert (group, sla.id) == (None, desk.customer)
        db.session.rollback()


def _sla_pausing_in(desk, name: str, statuses: list[str]) -> str:
    """An SLA whose clocks pause in ``statuses`` only (none at all: ``[]``)."""
    targets = {p: {"response": 60, "resolution": 240} for p in ("p1", "p2", "p3", "p4")}
    body = {"name": name, "calendar_id": desk.calendar, "pausing_statuses": statuses,
            "targets": targets}  # fmt: skip
    return str(desk.created("/api/v1/slas", body)["id"])


def test_an_override_to_terms_that_do_not_pause_restarts_a_paused_clock(desk, clock):
    """Waiting for the customer paused the clock under the old terms; the new ones do not
    pause there, so from the override on the clock runs, and the pause so far is kept."""
    body = desk.raise_request()
    path = f"/api/v1/requests/{body['id']}"
    desk.patch(path, {"status": "waiting_for_customer"}, "specialist")
    clock.advance(timedelta(hours=1))
    overridden = desk.post(
        f"{path}/sla-override",
        {"sla_id": _sla_pausing_in(desk, "Relentless", []), "reason": "contract"},
        "specialist",
    )
    assert overridden.status_code == 200, overridden.get_data(as_text=True)
    clock.advance(timedelta(hours=2))

    read = desk.get(path).get_json()["sla"]
    assert read["resolution"]["paused"] is False
    assert read["resolution"]["used_seconds"] == 2 * 3600
    [pause] = read["pauses"]
    assert pause["status"] == "waiting_for_customer" and pause["ended_at"] is not None


def test_an_override_to_terms_that_pause_in_the_current_status_stops_the_clock(desk, clock):
    patient = _sla_pausing_in(desk, "Patient", ["waiting_for_customer", "in_progress"])
    body = desk.raise_request()
    path = f"/api/v1/requests/{body['id']}"
    desk.patch(path, {"status": "in_progress"}, "specialist")
    clock.advance(timedelta(hours=1))
    desk.post(f"{path}/sla-override", {"sla_id": patient, "reason": "on hold"}, "specialist")
    clock.advance(timedelta(hours=2))

    read = desk.get(path).get_json()["sla"]
    assert read["resolution"]["paused"] is True
    assert read["resolution"]["used_seconds"] == 3600


@pytest.mark.parametrize(
    ("path", "field", "stored"),
    [
        ("/api/v1/calendars/{desk.calendar}", "name", "Always"),
        ("/api/v1/slas/{desk.standard}", "name", "Standard"),
        ("/api/v1/services/{desk.service}", "name", "Printing"),
        ("/api/v1/teams/{desk.team}", "name", "Service Desk"),
    ],
)
def test_renaming_to_ones_own_name_padded_with_spaces_keeps_it(desk, path, field, stored):
    """Names are stored trimmed: the padded name is the same name, not a clash with itself."""
    target = path.format(desk=desk)
    response = desk.patch(target, {field: f"  {stored} "})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert desk.get(target).get_json()[field] == stored
