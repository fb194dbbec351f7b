"""Queries for offerings inside one account scope."""

from __future__ import annotations

from account_node.tenancy import ScopedStore
from services.offerings.errors import OfferingNotFound
from services.offerings.models import Offering


class OfferingStore(ScopedStore[Offering]):
    model = Offering
    not_found = OfferingNotFound
