"""Administration of what the account offers: services, offerings and configuration items.

Lists with a create form beside them. Offerings are offered here (service, team that
receives the requests, the customer's default SLA, start and optional end), to this
account's own people or over an active trust to a customer (``OfferingExchange``: the
signed offering reaches the customer's node first, so it exists on both sides or on
neither), and expired here: expiring stops new requests at once, requests already raised
stay workable; a customer is told of the end.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for

from account_node.errors import ValidationFailed
from account_node.http import node
from account_node.identity.service import People, Teams
from portal.views.forms import Form
from portal.views.web import portal_blueprint, portal_work, signed_in, viewer
from services.catalog.service import Catalog
from services.cmdb.models import CI_STATUSES
from services.cmdb.service import Cmdb
from services.offerings.federation import OfferingExchange
from services.offerings.service import Offerings
from services.sla.service import Slas
from trust.api import handshake_for
from trust.errors import PeerDeclined, PeerNotAllowed, PeerUnavailable

LISTED = 200


def _slas() -> dict[str, Any]:
    return {s.id: s for s in Slas(portal_work()).page(None, LISTED).items}


# --- services ----------------------------------------------------------------------------


def _services_page(form: Form, status: int = 200) -> Any:
    services = Catalog(portal_work()).page(None, LISTED).items
    return render_template(
        "admin/services.html", services=services, slas=_slas(), form=form
    ), status


@portal_blueprint.get("/admin/services")
@signed_in("admin")
def services() -> Any:
    return _services_page(Form())


@portal_blueprint.post("/admin/services")
@signed_in("admin")
def create_service() -> Any:
    form = Form.posted("name", "description", "sla")
    form.require("name", "sla")
    form.longest("name", 120)
    form.longest("description", 2000)
    if form.ok:
        try:
            created = Catalog(portal_work()).create(
                form.get("name"), form.get("sla"), form.get("description")
            )
        except ValidationFailed as exc:
            form.take(exc, {"name": "name", "default_sla_id": "sla"})
        else:
            flash(f"Service {created.name} created.")
            return redirect(url_for("portal.services"), 303)
    return _services_page(form, 422)


# --- offerings ---------------------------------------------------------------------------


def _offerings_page(form: Form, status: int = 200) -> Any:
    work = portal_work()
    trusts = handshake_for(work).trusts.page(None, LISTED).items
    return render_template(
        "admin/offerings.html",
        offerings=Offerings(work).page(None, LISTED).items,
        ended_trusts={t.id for t in trusts if t.status != "active"},
        trust_options=[
            (t.id, f"{t.peer_account}, over trust {t.id}")
            for t in trusts
            if t.role == "trusted" and t.status == "active"
        ],
        services={s.id: s for s in Catalog(work).page(None, LISTED).items},
        teams={t.id: t for t in Teams(work).page(None, LISTED).items},
        slas=_slas(),
        form=form,
        now=work.clock.now(),
    ), status


@portal_blueprint.get("/admin/offerings")
@signed_in("admin")
def offerings() -> Any:
    return _offerings_page(Form())


OFFERING_FIELDS = {"service_id": "service", "name": "name", "team_id": "team",
                   "customer_sla_id": "sla", "starts_at": "starts_at", "ends_at": "ends_at",
                   "trust_id": "trust"}  # fmt: skip


@portal_blueprint.post("/admin/offerings")
@signed_in("admin")
def create_offering() -> Any:
    form = Form.posted("service", "name", "team", "sla", "starts_at", "ends_at", "trust")
    form.require("service", "name", "team")
    form.longest("name", 120)
    zone = viewer().zone
    starts, ends = form.moment("starts_at", zone), form.moment("ends_at", zone)
    if form.ok:
        work = portal_work()
        fields = {
            "service_id": form.get("service"),
            "name": form.get("name"),
            "team_id": form.get("team"),
            "customer_sla_id": form.get("sla") or None,
            "starts_at": starts,
            "ends_at": ends,
        }
        try:
            if form.get("trust"):
                exchange = OfferingExchange(work, handshake_for(work))
                created = exchange.offer(form.get("trust"), **fields)
            else:
                created = Offerings(work).create(**fields)
        except ValidationFailed as exc:
            form.take(exc, OFFERING_FIELDS)
        except (PeerUnavailable, PeerDeclined, PeerNotAllowed):
            form.add(
                "trust",
                "The customer's node did not take the offering; nothing was offered. "
                "Try again in a minute.",
            )
        else:
            to = f" to {created.peer_account}" if created.peer_account else ""
            flash(f"Offering {created.name} is offered{to}.")
            return redirect(url_for("portal.offerings"), 303)
    return _offerings_page(form, 422)


@portal_blueprint.post("/admin/offerings/<offering_id>/expire")
@signed_in("admin")
def expire_offering(offering_id: str) -> Any:
    """One offered over a trust: the customer is told now, or by the outbox later."""
    work = portal_work()
    expired = OfferingExchange(work, handshake_for(work)).expire(offering_id)
    flash(f"Offering {expired.name} expired: it takes no new requests from now on.")
    return redirect(url_for("portal.offerings"), 303)


# --- configuration items -----------------------------------------------------------------


def _cis_page(form: Form, status: int = 200) -> Any:
    work = portal_work()
    cis = Cmdb(work).page(None, LISTED).items
    return render_template(
        "admin/cis.html",
        cis=cis,
        by_id={c.id: c for c in cis},
        people={p.id: p for p in People(work, node().passwords).page(None, LISTED).items},
        slas=_slas(),
        statuses=CI_STATUSES,
        form=form,
    ), status


@portal_blueprint.get("/admin/cis")
@signed_in("admin")
def cis() -> Any:
    return _cis_page(Form({"status": "active"}))


@portal_blueprint.post("/admin/cis")
@signed_in("admin")
def create_ci() -> Any:
    form = Form.posted("type", "name", "owner", "status", "parent", "sla")
    form.require("type", "name")
    form.longest("type", 60)
    form.longest("name", 200)
    if form.ok:
        try:
            created = Cmdb(portal_work()).create(
                type=form.get("type"),
                name=form.get("name"),
                owner_id=form.get("owner") or None,
                status=form.get("status") or "active",
                parent_id=form.get("parent") or None,
                sla_id=form.get("sla") or None,
            )
        except ValidationFailed as exc:
            form.take(
                exc,
                {"type": "type", "name": "name", "owner_id": "owner", "status": "status",
                 "parent_id": "parent", "sla_id": "sla"},
            )  # fmt: skip
        else:
            flash(f"Configuration item {created.name} created.")
            return redirect(url_for("portal.cis"), 303)
    return _cis_page(form, 422)
