"""Refusals of the visibility API, each with its own stable reason."""

from __future__ import annotations

from trust.errors import FederationForbidden


class RequestOutsideOffering(FederationForbidden):
    """The request exists nowhere the trust reaches (or not at all: the same answer)."""

    status = 404
    code = "request_outside_offering"
    title = "No such request on the offerings of this trust"


class OfferingExpired(FederationForbidden):
    code = "offering_expired"
    title = "The offering has ended and this request is closed"
