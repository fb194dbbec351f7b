"""The catalog: the services a person can raise requests on, and the offerings of each.

A service with open offerings is raised through an offering (it names the team the
request is routed to and the customer's SLA); one of the account's own services without
one is raised directly and lands with no team until staff assign it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import render_template

from account_node.context import Work
from portal.views.web import portal_blueprint, portal_work, signed_in
from services.catalog.models import Service
from services.catalog.service import Catalog
from services.offerings.models import Offering
from services.offerings.service import Offerings

LISTED = 200  # a catalog longer than this needs search, not a longer page


@dataclass
class Entry:
    service: Service
    offerings: list[Offering] = field(default_factory=list)


def catalog_entries(work: Work) -> list[Entry]:
    """Active services, each with its open offerings, by name. A service held for a
    trust is raised through its offerings only: without an open one it is not listed."""
    entries = {s.id: Entry(s) for s in Catalog(work).page(None, LISTED, active_only=True).items}
    for offering in Offerings(work).page(None, LISTED, open_only=True).items:
        if offering.service_id in entries:
            entries[offering.service_id].offerings.append(offering)
    listed = [e for e in entries.values() if e.offerings or not e.service.provided_by]
    return sorted(listed, key=lambda e: e.service.name.lower())


@portal_blueprint.get("/catalog")
@signed_in()
def catalog() -> Any:
    return render_template("catalog/index.html", entries=catalog_entries(portal_work()))
