"""A customer's request reached over a trust: read and worked live on the customer's node.

The MSP keeps no copy (DESIGN section 5): every page reads the request from the trusting
node through the visibility API (``TrustedRequests``), signed by this account's key and
naming the person; notes and status changes are written and audited there. Only the
offerings routed to the person's teams are reachable (admins: all of the trust's); any
other request, a trust of another account, or an inactive one is a 404 page.

A peer that is down, slow or answers badly is a page that says so in our own words,
never in the peer's: its text is untrusted and may be anything.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for

from account_node.context import Work
from account_node.db import db
from account_node.errors import Conflict, NodeError, NotFound, ValidationFailed
from portal.views.forms import FORM, Form
from portal.views.requests import PRIORITY_LABELS
from portal.views.web import portal_blueprint, portal_work, signed_in
from services.requests.models import STATUSES
from services.visibility.remote import TrustedRequests
from trust.api import handshake_for
from trust.errors import PeerDeclined, PeerNotAllowed, PeerOutcomeUnknown, PeerUnavailable

WORKERS = ("specialist", "admin")
PEER_ERRORS = (PeerUnavailable, PeerDeclined, PeerNotAllowed)


class CustomerNodeUnavailable(NodeError):
    """The customer's node did not answer, or refused: said in our words, not the peer's."""

    status = 502
    code = "peer_unavailable"
    title = "The customer's node did not answer"


def _unavailable(error: Exception, what: str) -> CustomerNodeUnavailable:
    if isinstance(error, PeerOutcomeUnknown):
        return CustomerNodeUnavailable(
            f"The customer's node was asked to {what}, but its answer was lost: it may "
            "have done it. Reload the request and check before you try again."
        )
    if isinstance(error, PeerDeclined):
        return CustomerNodeUnavailable(
            f"The customer's node refused to {what}. The trust may have ended on their "
            "side; nothing was changed here."
        )
    return CustomerNodeUnavailable(
        f"The customer's node could not be reached to {what}. Nothing was changed; "
        "try again in a minute."
    )


def _remote(work: Work) -> TrustedRequests:
    return TrustedRequests(work, handshake_for(work))


def _checked(trust_id: str, request_id: str) -> None:
    if len(trust_id) > 40 or len(request_id) > 64:
        raise NotFound("no such request on this trust")


def shared_page(
    trust_id: str, request_id: str, forms: dict[str, Form] | None = None, status: int = 200
) -> Any:
    work = portal_work()
    remote = _remote(work)
    try:
        detail = remote.read(trust_id, request_id)
    except PEER_ERRORS as exc:
        raise _unavailable(exc, "show this request") from exc
    reach = remote.reach(trust_id)
    transitions = sorted(
        (t for t in detail["allowed_transitions"] if t in STATUSES), key=STATUSES.index
    )
    return render_template(
        "requests/shared.html",
        r=detail,
        trust=reach.trust,
        transitions=transitions,
        forms=forms or {},
        priorities=PRIORITY_LABELS,
    ), status


@portal_blueprint.get("/trusts/<trust_id>/requests/<request_id>")
@signed_in(*WORKERS)
def shared_request(trust_id: str, request_id: str) -> Any:
    _checked(trust_id, request_id)
    return shared_page(trust_id, request_id)


def _back(trust_id: str, request_id: str, message: str) -> Any:
    flash(message)
    target = url_for("portal.shared_request", trust_id=trust_id, request_id=request_id)
    return redirect(target + "#timeline", 303)


def _again(trust_id: str, request_id: str, name: str, form: Form, status: int = 422) -> Any:
    db.session.rollback()
    return shared_page(trust_id, request_id, {name: form}, status)


@portal_blueprint.post("/trusts/<trust_id>/requests/<request_id>/notes")
@signed_in(*WORKERS)
def shared_note(trust_id: str, request_id: str) -> Any:
    _checked(trust_id, request_id)
    form = Form.posted("body", "visibility")
    form.require("body")
    form.longest("body", 20_000)
    public = form.get("visibility", "public") != "internal"
    if form.ok:
        try:
            _remote(portal_work()).add_note(trust_id, request_id, form.get("body"), public)
        except ValidationFailed as exc:
            form.add("body", exc.detail[:1].upper() + exc.detail[1:] + ".")
        except Conflict as exc:
            form.add(FORM, exc.detail[:1].upper() + exc.detail[1:] + ".")
            return _again(trust_id, request_id, "note", form, 409)
        except PEER_ERRORS as exc:
            raise _unavailable(exc, "take the note") from exc
        else:
            done = "Public note added: the requester sees it." if public else "Internal note added."
            return _back(trust_id, request_id, done)
    return _again(trust_id, request_id, "note", form)


@portal_blueprint.post("/trusts/<trust_id>/requests/<request_id>/status")
@signed_in(*WORKERS)
def shared_status(trust_id: str, request_id: str) -> Any:
    _checked(trust_id, request_id)
    form = Form.posted("status", "reason")
    form.require("status")
    form.longest("reason", 2000)
    if form.get("status") and form.get("status") not in STATUSES:
        form.add("status", "Choose one of the statuses offered.")
    if form.ok:
        try:
            _remote(portal_work()).change_status(
                trust_id, request_id, form.get("status"), form.get("reason")
            )
        except (ValidationFailed, Conflict) as exc:
            form.add("status", exc.detail[:1].upper() + exc.detail[1:] + ".")
            return _again(trust_id, request_id, "status", form, 409)
        except PEER_ERRORS as exc:
            raise _unavailable(exc, "change the status") from exc
        else:
            label = form.get("status").replace("_", " ")
            return _back(trust_id, request_id, f"Status changed to {label}.")
    return _again(trust_id, request_id, "status", form)
