"""The account's signing key: rotating it, whether each peer holds it, confirming a peer's.

What the CLI (``trustdesk key ...``, ``trustdesk trust confirm-key``) and the API
(``/api/v1/keys``, ``/api/v1/trusts/<id>/peer-key``) do, for an admin in a browser:

- the current key's fingerprint (what a peer's admin compares) and the keys before it;
- per peer of an active trust, whether it holds the key (trust.key_status), and, where
  its admin must confirm the key, the fingerprint to hand over out of band;
- a routine rotation (announced to every peer) or one after a suspected compromise,
  which announces nothing and cuts every peer off until its admin confirms: the form
  asks the admin to say they understand that first;
- confirming a peer's new key by the fingerprint its admin handed over, checked against
  the peer's descriptor before anything is pinned (trust.reconfirm).

A peer's failure is said in our own words: its text is never shown.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for

from account_node.db import db
from account_node.errors import NotFound, ValidationFailed
from account_node.http import commit_now
from portal.views.forms import FORM, Form
from portal.views.web import portal_blueprint, portal_work, signed_in
from trust.api import handshake_for
from trust.errors import PeerDeclined, PeerNotAllowed, PeerUnavailable, TrustConflict
from trust.handshake import Handshake
from trust.key_status import peer_key_states
from trust.keystore import key_listing
from trust.outbox import active_trusts
from trust.reconfirm import confirm_peer_key
from trust.rotation import RotationReport, rotate

UNDERSTOOD = "Every peer refuses this account until its admin confirms the new key's fingerprint."


def _keys_page(
    handshake: Handshake,
    rotation: Form | None = None,
    confirmation: Form | None = None,
    status: int = 200,
) -> Any:
    work = handshake.work
    current = handshake.keys.current()
    listed = [
        {**key_listing(row), "created_at": row.created_at, "retired_at": row.retired_at}
        for row in handshake.keys.listed()
    ]
    active = active_trusts(work.session)
    return render_template(
        "admin/keys.html",
        fingerprint=current.signing.verify_key.fingerprint,
        current=next(k for k in listed if k["status"] == "current"),
        previous=[k for k in listed if k["status"] != "current"],
        peers=peer_key_states(work.session, work.scope),
        trusts=sorted(active, key=lambda t: (t.peer_name.lower(), t.id)),
        rotation=rotation or Form(),
        confirmation=confirmation or Form(),
        understood=UNDERSTOOD,
    ), status


@portal_blueprint.get("/admin/keys")
@signed_in("admin")
def keys() -> Any:
    return _keys_page(handshake_for(portal_work()))


@portal_blueprint.post("/admin/keys/rotate")
@signed_in("admin")
def keys_rotate() -> Any:
    """A routine rotation commits before it tries the peers (a peer that took the notice
    must find the key kept here); one after a compromise commits with the response."""
    form = Form.posted("compromised", "understood")
    compromised = form.get("compromised") == "yes"
    if compromised and form.get("understood") != "yes":
        form.add("understood", "Tick this to rotate after a suspected compromise.")
        db.session.rollback()
        return _keys_page(handshake_for(portal_work()), rotation=form, status=422)
    report = rotate(handshake_for(portal_work()), commit_now, compromised=compromised)
    flash(_rotated(report))
    return redirect(url_for("portal.keys"), 303)


def _rotated(report: RotationReport) -> str:
    said = [f"The account's key is now {report.fingerprint}."]
    if report.compromised:
        said.append(
            "The old key is revoked and nothing was announced: hand the new fingerprint to "
            "the admin of each peer listed below, by a channel you trust."
        )
    else:
        if report.delivered:
            said.append(f"{_count(report.delivered)} took the new key at once.")
        if report.pending:
            said.append(f"{_count(report.pending)} will be told when they answer again.")
        if report.confirm_with:
            said.append(
                f"{_count(report.confirm_with)} refused it: their admins must confirm the "
                "fingerprint."
            )
    return " ".join(said)


def _count(peers: list[str]) -> str:
    return "1 peer" if len(peers) == 1 else f"{len(peers)} peers"


@portal_blueprint.post("/admin/keys/peer-key")
@signed_in("admin")
def keys_confirm_peer() -> Any:
    handshake = handshake_for(portal_work())
    form = Form.posted("trust_id", "fingerprint")
    form.require("trust_id", "fingerprint")
    if form.get("fingerprint") and not 10 <= len(form.get("fingerprint")) <= 80:
        form.add("fingerprint", "Between 10 and 80 characters, as the peer's admin gives it.")
    if form.ok:
        try:
            confirmed = confirm_peer_key(handshake, form.get("trust_id"), form.get("fingerprint"))
        except NotFound:
            form.add("trust_id", "Choose one of this account's active trusts.")
        except ValidationFailed as exc:
            form.take(exc)
        except TrustConflict as exc:
            form.add(FORM, exc.detail)
        except (PeerUnavailable, PeerDeclined, PeerNotAllowed):
            form.add(
                FORM,
                "The peer's node did not answer with its keys, so nothing was confirmed. "
                "Try again in a minute.",
            )
        else:
            revoked = len(confirmed["revoked"])
            flash(
                f"The key {confirmed['fingerprint']} of {confirmed['peer_account']} is "
                "confirmed" + (f"; {revoked} older key(s) of theirs revoked." if revoked else ".")
            )
            return redirect(url_for("portal.keys"), 303)
    db.session.rollback()
    return _keys_page(handshake, confirmation=form, status=422)
