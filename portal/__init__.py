"""The server-rendered portal: self-service, the specialists' inbox, administration.

Importing the view modules registers their routes on the one portal blueprint.
"""

from __future__ import annotations

from portal.views import (
    admin_catalog,
    admin_people,
    admin_sla,
    audit,
    auth,
    catalog,
    inbox,
    keys,
    request_actions,
    shared_requests,
    trusts,
)
from portal.views import requests as request_pages
from portal.views.web import portal_blueprint

__all__ = ["portal_blueprint"]
_VIEWS = (
    admin_catalog,
    admin_people,
    admin_sla,
    audit,
    auth,
    catalog,
    inbox,
    keys,
    request_actions,
    request_pages,
    shared_requests,
    trusts,
)
