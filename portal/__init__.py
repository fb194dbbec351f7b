"""The server-rendered portal: login and a home page for now (the portal issue grows it)."""

from __future__ import annotations

from portal.views.auth import portal_blueprint

__all__ = ["portal_blueprint"]
