"""Requests in the portal: raise one, list one's own, read one.

Due times are shown in the viewer's own time zone (``Person.time_zone``), with the zone
named next to every time. The request page is one template for everybody: requesters see
the public timeline and a reply box, staff also see internal notes and the work panels
(see ``portal.views.request_actions`` for the forms those panels post to).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from account_node.context import Work
from account_node.errors import NotFound, ValidationFailed
from account_node.http import node
from account_node.identity.service import People, Teams
from portal.views.catalog import catalog_entries
from portal.views.forms import FORM, Form
from portal.views.web import portal_blueprint, portal_work, signed_in, viewer
from services.catalog.service import Catalog
from services.cmdb.service import Cmdb
from services.offerings.service import Offerings
from services.requests import lifecycle
from services.requests.errors import IdempotencyKeyReused
from services.requests.models import STATUSES
from services.requests.service import Requests, RequestView
from services.requests.store import RequestFilter
from services.sla.models import PRIORITIES
from services.sla.service import Slas

PRIORITY_LABELS = {"p1": "P1 · critical", "p2": "P2 · high", "p3": "P3 · normal", "p4": "P4 · low"}
RAISERS = ("admin", "specialist", "end_user")
PAGE = 25
STATUS_GROUPS = {
    "open": tuple(lifecycle.OPEN),
    "waiting": ("waiting_for_customer",),
    "resolved": ("resolved",),
    "done": tuple(lifecycle.FINAL),
    "all": (),
}
CREATE_FIELDS = {
    "offering_id": "what",
    "service_id": "what",
    "subject": "subject",
    "description": "description",
    "priority": "priority",
    "ci_id": "ci",
    "requester_id": "what",
}


def reference(number: int) -> str:
    return f"REQ-{number}"


class Names:
    """Display names for the ids a request carries, looked up through the services.

    Each id is looked up once per page, so a list of a hundred rows naming the same few
    people and teams costs a few queries, not hundreds; and the service is built only on
    a miss, so a hit costs a dictionary lookup, not a service and its scoped stores.
    """

    def __init__(self, work: Work) -> None:
        self.work = work
        self._seen: dict[tuple[str, str], str] = {}

    def _cached(self, kind: str, object_id: str, find: Callable[[], Any], missing: str) -> str:
        key = (kind, object_id)
        if key not in self._seen:
            try:
                self._seen[key] = find().name
            except NotFound:
                self._seen[key] = missing
        return self._seen[key]

    def person(self, person_id: str | None) -> str:
        if not person_id:
            return "—"
        return self._cached(
            "person",
            person_id,
            lambda: People(self.work, node().passwords).get(person_id),
            "someone no longer here",
        )

    def team(self, team_id: str | None) -> str:
        if not team_id:
            return "not routed"
        return self._cached(
            "team", team_id, lambda: Teams(self.work).get(team_id), "a removed team"
        )

    def service(self, service_id: str) -> str:
        return self._cached(
            "service", service_id, lambda: Catalog(self.work).get(service_id), "a removed service"
        )

    def offering(self, offering_id: str | None) -> str:
        if not offering_id:
            return ""
        return self._cached(
            "offering", offering_id, lambda: Offerings(self.work).get(offering_id), ""
        )

    def ci(self, ci_id: str | None) -> str:
        if not ci_id:
            return ""
        return self._cached("ci", ci_id, lambda: Cmdb(self.work).get(ci_id), "")


# --- my requests -------------------------------------------------------------------------


@portal_blueprint.get("/requests")
@signed_in()
def my_requests() -> Any:
    """The viewer's own requests, or (``scope=all``) every request they may see: the whole
    account for admins and auditors, their teams' for specialists, and for end users
    their own plus those of colleagues in a request-sharing team."""
    who = viewer()
    group = request.args.get("status", "open")
    if group not in STATUS_GROUPS:
        group = "open"
    everyone = request.args.get("scope") == "all"
    filters = RequestFilter(
        statuses=STATUS_GROUPS[group], requester_id=None if everyone else who.person.id
    )
    work = portal_work()
    page = Requests(work).page(filters, request.args.get("cursor") or None, PAGE)
    return render_template(
        "requests/mine.html",
        page=page,
        group=group,
        groups=list(STATUS_GROUPS),
        everyone=everyone,
        names=Names(work),
        reference=reference,
    )


# --- raising -----------------------------------------------------------------------------


def _own_cis(work: Work) -> list[Any]:
    """The picker's items: those the person owns (a request is about one's own things)."""
    return Cmdb(work).page(None, 200, owner_id=viewer().person.id).items


def _raise_form(work: Work, form: Form, status: int = 200) -> Any:
    return render_template(
        "requests/new.html",
        form=form,
        entries=catalog_entries(work),
        cis=_own_cis(work),
        priorities=PRIORITY_LABELS,
    ), status


@portal_blueprint.get("/requests/new")
@signed_in(*RAISERS)
def new_request() -> Any:
    chosen = request.args.get("offering") or ""
    what = f"offering:{chosen}" if chosen else ""
    if not chosen and request.args.get("service"):
        what = f"service:{request.args['service']}"
    form = Form({"what": what, "priority": "p3", "key": secrets.token_urlsafe(18)})
    return _raise_form(portal_work(), form)


@portal_blueprint.post("/requests/new")
@signed_in(*RAISERS)
def raise_request() -> Any:
    form = Form.posted("what", "subject", "description", "priority", "ci", "key")
    work = portal_work()
    target = _check_raise(form)
    if form.get("ci") and form.get("ci") not in {ci.id for ci in _own_cis(work)}:
        form.add("ci", "Choose one of your own items, or none.")
    if form.ok:
        try:
            created, is_new = Requests(work).create(
                subject=form.get("subject"),
                description=form.get("description"),
                priority=form.get("priority"),
                ci_id=form.get("ci") or None,
                idempotency_key=form.get("key") or None,
                **target,
            )
        except IdempotencyKeyReused as exc:
            _sent_before(form, exc)
        except ValidationFailed as exc:
            form.take(exc, CREATE_FIELDS)
        else:
            done = "raised" if is_new else "was already raised from this form"
            flash(f"{reference(created.number)} {done}. We will keep you posted here.")
            return redirect(url_for("portal.show_request", request_id=created.id), 303)
    return _raise_form(work, form, 422)


def _sent_before(form: Form, reused: IdempotencyKeyReused) -> None:
    """This form (its key) already raised a request, and now says something else (sent
    again after going back and changing it): say so, and give the form a new key, so
    that sending it once more raises it as a request of its own."""
    form.add(
        FORM,
        f"This form was already sent, and raised {reference(reused.first_number)}. "
        "Send it again to raise this as a new request.",
    )
    form.values["key"] = secrets.token_urlsafe(18)


def _check_raise(form: Form) -> dict[str, str]:
    """Checks the service leaves to the API schema, and the offering-or-service choice."""
    form.require("subject", "what")
    form.longest("subject", 200)
    form.longest("description", 20_000)
    if len(form.get("key")) > 100:  # the page's own hidden field: tampered with, or stale
        form.add(FORM, "This form is out of date: reload the page and fill it in again.")
    if form.get("priority") not in PRIORITIES:
        form.add("priority", "Choose a priority.")
    kind, _, object_id = form.get("what").partition(":")
    if form.get("what") and (kind not in ("offering", "service") or not object_id):
        form.add("what", "Choose a service from the list.")
    return {f"{kind}_id": object_id} if object_id else {}


# --- one request -------------------------------------------------------------------------


def request_page(request_id: str, forms: dict[str, Form] | None = None, status: int = 200) -> Any:
    work = portal_work()
    requests = Requests(work)
    view = requests.view(request_id)
    timeline = requests.timeline(request_id)
    who = viewer()
    staff = requests.works(view.request)  # a specialist is a requester on their own
    context: dict[str, Any] = {
        "view": view,
        "r": view.request,
        "timeline": timeline,
        "names": Names(work),
        "reference": reference(view.request.number),
        "staff": staff,
        "can_act": who.has(*RAISERS) and (staff or view.request.requester_id == who.person.id),
        "waiting_for_you": view.request.status == "waiting_for_customer"
        and view.request.requester_id == who.person.id,
        "transitions": _in_order(
            lifecycle.allowed_transitions(
                view.request.status, staff=staff, held=view.request.assignee_id is not None
            )
        ),
        "forms": forms or {},
        "priorities": PRIORITY_LABELS,
        "provider": _provider(work, view.request.offering_id),
    }
    if staff:
        context.update(_staff_context(work, view))
    return render_template("requests/show.html", **context), status


def _provider(work: Work, offering_id: str | None) -> str | None:
    """The account that works a request raised on an offering received over a trust."""
    if not offering_id:
        return None
    try:
        offering = Offerings(work).get(offering_id)
    except NotFound:
        return None
    return offering.peer_account if offering.kind == "received" else None


def _in_order(statuses: list[str]) -> list[str]:
    """Allowed moves in the order a request lives them, not alphabetically."""
    return sorted(statuses, key=STATUSES.index)


def _staff_context(work: Work, view: RequestView) -> dict[str, Any]:
    me = viewer().person.id
    team_ids = {t.id for t in viewer().person.teams}
    return {
        "teams": Teams(work).page(None, 200).items,
        "slas": Slas(work).page(None, 200).items,
        "me_in_team": view.request.team_id is None or view.request.team_id in team_ids,
        "assigned_to_me": view.request.assignee_id == me,
    }


@portal_blueprint.get("/requests/<request_id>")
@signed_in()
def show_request(request_id: str) -> Any:
    if len(request_id) > 64:
        raise NotFound(f"request {request_id[:64]} not found")
    return request_page(request_id)
