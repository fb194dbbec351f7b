"""Thin HTTP endpoints of the trust layer: the signed node descriptor."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from account_node.db import db
from account_node.http import json_response, node
from account_node.identity.accounts import Accounts
from trust.descriptor import build_descriptor

well_known = Blueprint("well_known", __name__)


@well_known.get("/.well-known/trustdesk-node")
def descriptor() -> Any:
    """Public: the node, its accounts and their keys, signed by those accounts."""
    services = node()
    accounts = Accounts(
        db.session(), services.clock, services.jobs, services.settings, services.passwords
    ).all()
    signed = build_descriptor(
        db.session(),
        services.clock,
        services.settings.public_url,
        current_app.config["SECRET_KEY"],
        [a for a in accounts if a.active],
    )
    response = json_response(signed)
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
