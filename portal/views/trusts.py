"""Trust administration: invite, propose, accept, deactivate (DESIGN section 5).

1. The trusted account's admin (the MSP) creates an invitation; the page shows the node
   URL, account, key fingerprint and one-time code once, to hand over out of band.
2. The trusting account's admin (the customer) pastes those four fields into the proposal
   form; the service fetches the inviting node's descriptor and refuses a key whose
   fingerprint differs (its field errors are shown next to the fields).
3. The MSP's admin accepts the proposal: the agreement is countersigned on both nodes.
Deactivation asks first, on a page of its own that says exactly what stops, then ends
the trust at once and for good on this side; the peer is told.

A peer's failure is said in our own words: its text is never shown.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for

from account_node.context import Work
from account_node.db import db
from account_node.errors import NotFound, ValidationFailed
from account_node.http import commit_now
from portal.views.forms import FORM, Form
from portal.views.web import portal_blueprint, portal_work, signed_in
from services.offerings.service import Offerings
from trust.api import handshake_for
from trust.ending import Deactivations
from trust.errors import PeerDeclined, PeerNotAllowed, PeerUnavailable, TrustConflict
from trust.handshake import Handshake
from trust.key_status import peer_key_states
from trust.models import Trust

LISTED = 200
INVITATION_FIELDS = ("node_url", "account", "fingerprint", "code")
LIMITS = {"node_url": (8, 300), "account": (2, 64), "fingerprint": (10, 80), "code": (10, 100)}


def _handshake() -> Handshake:
    return handshake_for(portal_work())


def _trust(handshake: Handshake, trust_id: str) -> Trust:
    if len(trust_id) > 40:
        raise NotFound(f"trust {trust_id[:40]} not found")
    return handshake.trusts.get(trust_id)


def _trusts_page(form: Form, status: int = 200, problem: str | None = None) -> Any:
    handshake = _handshake()
    trusts = handshake.trusts.page(None, LISTED).items
    order = {"proposed": 0, "active": 1, "deactivated": 2}
    trusts = sorted(trusts, key=lambda t: (order.get(t.status, 9), t.peer_account))
    work = handshake.work
    fingerprint = handshake.keys.current().signing.verify_key.fingerprint
    must_confirm = {
        trust_id
        for state in peer_key_states(work.session, work.scope)
        if state.must_confirm
        for trust_id in state.trust_ids
    }
    return render_template(
        "admin/trusts.html",
        trusts=trusts,
        form=form,
        problem=problem,
        fingerprint=fingerprint,
        must_confirm=must_confirm,
    ), status


@portal_blueprint.get("/admin/trusts")
@signed_in("admin")
def trusts() -> Any:
    return _trusts_page(Form())


@portal_blueprint.post("/admin/trusts/invitations")
@signed_in("admin")
def trusts_invite() -> Any:
    """The invitation is shown once, here: only a hash of its code is kept."""
    invitation = _handshake().invite()
    return render_template("admin/trust_invitation.html", invitation=invitation), 201


@portal_blueprint.post("/admin/trusts")
@signed_in("admin")
def trusts_propose() -> Any:
    form = Form.posted(*INVITATION_FIELDS)
    form.require(*INVITATION_FIELDS)
    for name, (low, high) in LIMITS.items():
        value = form.get(name)
        if value and not low <= len(value) <= high:
            form.add(name, f"Between {low} and {high} characters, as the invitation gives it.")
    if form.ok:
        try:
            trust = _handshake().propose({n: form.get(n) for n in INVITATION_FIELDS})
        except ValidationFailed as exc:
            form.take(exc)
        except PeerNotAllowed:
            form.add("node_url", "This node may not call that address (https only, public).")
        except PeerUnavailable:
            form.add("node_url", "The node at this URL did not answer as a TrustDesk node.")
        except PeerDeclined:
            form.add(
                "code",
                "The inviting node refused the proposal: the code may be wrong, used or "
                "expired. Ask for a new invitation.",
            )
        except TrustConflict as exc:
            form.add(FORM, exc.detail)
        else:
            flash(
                f"Trust {trust.id} proposed to {trust.peer_account}. It becomes active when "
                "their admin accepts it."
            )
            return redirect(url_for("portal.trusts"), 303)
    db.session.rollback()
    return _trusts_page(form, 422)


@portal_blueprint.post("/admin/trusts/<trust_id>/accept")
@signed_in("admin")
def trusts_accept(trust_id: str) -> Any:
    handshake = _handshake()
    _trust(handshake, trust_id)
    try:
        trust = handshake.accept(trust_id)
    except TrustConflict as conflict:
        problem = f"Trust {trust_id} cannot be accepted: {conflict.detail}."
    except (PeerUnavailable, PeerDeclined, PeerNotAllowed):
        problem = (
            f"The customer's node did not take the countersignature of trust {trust_id}; "
            "nothing changed. Try again in a minute."
        )
    else:
        flash(f"Trust {trust.id} with {trust.peer_account} is active.")
        return redirect(url_for("portal.trusts"), 303)
    db.session.rollback()
    return _trusts_page(Form(), 409, problem)


def what_stops(work: Work, trust: Trust) -> dict[str, Any]:
    """What ends with the trust, for the confirmation page."""
    offerings = Offerings(work).page(None, LISTED, trust_id=trust.id).items
    now = work.clock.now()
    return {
        "offerings": [o for o in offerings if o.ends_at is None or o.ends_at > now],
        "trusted": trust.role == "trusted",
    }


@portal_blueprint.get("/admin/trusts/<trust_id>/deactivate")
@signed_in("admin")
def trusts_confirm_deactivate(trust_id: str) -> Any:
    work = portal_work()
    trust = _trust(handshake_for(work), trust_id)
    if trust.status == "deactivated":
        flash(f"Trust {trust.id} is already deactivated.")
        return redirect(url_for("portal.trusts"), 303)
    return render_template("admin/trust_deactivate.html", trust=trust, **what_stops(work, trust))


@portal_blueprint.post("/admin/trusts/<trust_id>/deactivate")
@signed_in("admin")
def trusts_deactivate(trust_id: str) -> Any:
    handshake = _handshake()
    _trust(handshake, trust_id)
    trust = Deactivations(handshake).deactivate(trust_id, commit_now)
    flash(f"Trust {trust.id} with {trust.peer_account} is deactivated, for good.")
    return redirect(url_for("portal.trusts"), 303)
