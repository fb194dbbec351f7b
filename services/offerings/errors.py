"""Typed errors of the offerings slice."""

from __future__ import annotations

from account_node.errors import NotFound, ValidationFailed


class OfferingNotFound(NotFound):
    code = "offering_not_found"


class OfferingClosed(ValidationFailed):
    """The offering has not started or has ended: it takes no new requests."""

    code = "offering_closed"
    title = "The offering takes no new requests"
