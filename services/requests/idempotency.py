"""An ``Idempotency-Key`` on raising a request (draft-ietf-httpapi-idempotency-key-header).

A key names one create by one caller (the authenticated person who sent it) for one
requester: the unique index ``ix_requests_idempotency`` on (account, requester, key)
holds at most one request per key as stored (``stored_key``). A create that finds its
key taken answers with that request if it asks for the same request (a retry: section
2.6, the result of the first operation), and is refused with a 422 if it asks for
another (section 2.7); either way it writes nothing. Two creates racing with one key
meet at the index: the one that loses waits there until the other has committed, then
answers as if it had come second (``RequestStore.write_new_once``). So no create is ever
answered while the first with its key is outstanding, the case for which the draft has
a 409.

Why the caller, not only the requester: a key shared by everyone raising for one person
answered an admin's create on their behalf with that person's own earlier request of the
key, and let a specialist probe a request they may not see (a 404): its key with another
body named the fields that differ. So the key is stored as sent when the caller raises
for themselves, and as the caller's id with a digest of the key when they raise on
someone's behalf: a lookup only ever finds a request the caller raised, with fields they
sent. The index and its columns stay as they were (no migration). A request raised on
someone's behalf before kept its key as sent: a retry of that create after the upgrade
raises a new request, and the requester's own create with that key finds it (a request
raised for them, which they see).

What is compared is what the first create asked for, after the create's only
normalisations (the subject stripped, the service taken from the offering when only the
offering was named), which ``Asked`` applies too; so an exact retry always matches, and
any other difference in subject, description, service, offering, configuration item,
priority or requester is found and named. What no change touches (requester, service,
offering) is compared with the request itself. The rest may have been edited since
(``updated_at`` moved on: every edit, status change and assignment sets it): then the
request no longer tells what was asked for, and the digests its create stored
(``idempotency_digests``, per field: a reused key names the fields that differ) do.
A request raised before digests were kept, and since edited, is compared on what no
change touches only, so that a genuine retry is never refused because someone already
worked on the request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from services.requests.models import Request

# Fields that no change after the create touches (``Requests.update`` and ``assign``).
_FIXED = ("requester_id", "service_id", "offering_id")
# Fields an edit may change, kept as digests at create.
_EDITABLE = ("subject", "description", "ci_id", "priority")


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

    def digests(self) -> dict[str, str]:
        """What this asks for in the fields an edit may change, as the create keeps it."""
        return {name: _digest(getattr(self, name)) for name in _EDITABLE}

    def differences(self, first: Request) -> list[str]:
        """The fields in which this differs from ``first``, the request its key raised;
        empty for a retry. A service left out is the offering's (the create takes it from
        there), so it differs only if named, or if no offering is named either."""
        unchanged = first.updated_at == first.created_at
        kept = None if unchanged else first.idempotency_digests
        differing = []
        for name in ("requester_id", "subject", "description", "service_id", "offering_id",
                     "ci_id", "priority"):  # fmt: skip
            if name == "service_id" and self.service_id is None and self.offering_id:
                continue
            if unchanged or name in _FIXED:
                if getattr(self, name) != getattr(first, name):
                    differing.append(name)
            elif kept is not None and kept.get(name) != _digest(getattr(self, name)):
                differing.append(name)
        return differing


def stored_key(key: str, requester_id: str, caller_id: str) -> str:
    """``key`` as stored and looked up for a create by ``caller_id`` for ``requester_id``
    (module docstring): as sent when they are one person, else the caller's id and a
    digest of the key (at most 81 characters: the column holds 100, a key 100 itself)."""
    if caller_id == requester_id:
        return key
    return f"{caller_id}:{hashlib.sha256(key.encode()).hexdigest()[:48]}"


def _digest(value: str | None) -> str:
    """A value's SHA-256, shortened: a digest, not the text (a description may be long)."""
    return hashlib.sha256(json.dumps(value).encode()).hexdigest()[:32]
