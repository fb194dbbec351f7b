"""Typed errors of the CMDB slice."""

from __future__ import annotations

from account_node.errors import NotFound


class CiNotFound(NotFound):
    code = "ci_not_found"
