"""Typed errors of the catalog slice."""

from __future__ import annotations

from account_node.errors import NotFound


class ServiceNotFound(NotFound):
    code = "service_not_found"
