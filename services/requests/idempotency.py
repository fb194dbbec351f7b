"""An ``Idempotency-Key`` on raising a request (draft-ietf-httpapi-idempotency-key-header).

A key names one create by one requester: the unique index ``ix_requests_idempotency`` on
(account, requester, key) holds at most one request per key. A create that finds its key
taken answers with that request if it asks for the same request (a retry: section 2.6,
the result of the first operation), and is refused with a 422 if it asks for another
(section 2.7); either way it writes nothing. Two creates racing with one key meet at the
index: the one that loses waits there until the other has committed, then answers as if
it had come second (``RequestStore.write_new_once``). So no create is ever answered while
the first with its key is outstanding, the case for which the draft has a 409.

What is compared is what the first create stored on the request, not a fingerprint of
its body: the row keeps every field that identifies a request as it was asked for, after
the create's only normalisations (the subject stripped, the service taken from the
offering when only the offering was named), and ``Asked`` applies the same ones. So an
exact retry always matches, and any other difference in subject, description, service,
offering, configuration item, priority or requester is found, as long as the request is
as it was raised. Once anyone changed it (``updated_at`` moved on: every edit, status
change and assignment sets it), its subject, description, priority and item may have
been edited, and no longer tell what was first asked for: then only what no change
touches (requester, service, offering) is compared, so that a genuine retry is never
refused because someone already worked on the request. Retries come within moments of
the first attempt, before that usually; refusing a reused key on a request already
changed would need a fingerprint stored at create (a column of its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.requests.models import Request

# Fields that no change after the create touches (``Requests.update`` and ``assign``).
_FIXED = ("requester_id", "service_id", "offering_id")


@dataclass(frozen=True)
class Asked:
    """What a create asks for, normalised as the create stores it (module docstring)."""

    requester_id: str
    subject: str
    description: str
    service_id: str | None
    offering_id: str | None
    ci_id: str | None
    priority: str

    @classmethod
    def of(
        cls,
        *,
        requester_id: str,
        subject: str,
        description: str,
        service_id: str | None,
        offering_id: str | None,
        ci_id: str | None,
        priority: str,
    ) -> Asked:
        return cls(
            requester_id, subject.strip(), description, service_id, offering_id, ci_id, priority
        )

    def differences(self, first: Request) -> list[str]:
        """The fields in which this differs from ``first``, the request its key raised;
        empty for a retry. A service left out is the offering's (the create takes it from
        there), so it differs only if named, or if no offering is named either."""
        unchanged = first.updated_at == first.created_at
        differing = []
        for name in ("requester_id", "subject", "description", "service_id", "offering_id",
                     "ci_id", "priority"):  # fmt: skip
            if not unchanged and name not in _FIXED:
                continue
            if name == "service_id" and self.service_id is None and self.offering_id:
                continue
            if getattr(self, name) != getattr(first, name):
                differing.append(name)
        return differing
