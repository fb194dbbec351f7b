"""Lookups for rows an account holds for a trust: a provider's service, SLA or calendar.

Terms received over a trust are stored as local rows marked ``provided_by`` (the trust)
and ``remote_id`` (the provider's id), so requests can freeze them like any other.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import select


class HeldRows:
    """Mixed into a scoped store whose model has ``provided_by``, ``remote_id``, ``name``."""

    session: Any
    model: ClassVar[Any]

    def held(self, trust_id: str, remote_id: str) -> Any:
        """The row held for ``trust_id`` standing for the provider's ``remote_id``."""
        model = self.model
        query = select(model).where(model.provided_by == trust_id, model.remote_id == remote_id)
        return self.session.scalars(query).first()

    def free_name(self, name: str) -> str:
        """``name``, or ``name (2)``, ``(3)``...: a held row never takes a name in use."""
        candidate, n = name[:110], 1
        while self.session.scalars(
            select(self.model.id).where(self.model.name == candidate)
        ).first():
            n += 1
            candidate = f"{name[:104]} ({n})"
        return candidate
