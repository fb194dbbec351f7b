"""Access rules for trusts and the federation endpoints.

Federation endpoints authenticate by HTTP message signature, not by bearer token: a
caller without a valid signature gets 401 whatever token it shows. Trust endpoints that
would call a peer are checked for access here (the test node may not call http peers, so
an admin's call stops at 422); the handshake itself is specified in tests/federation.
"""

from __future__ import annotations

from account_node.audit.service import Actor
from account_node.context import Work
from account_node.db import db
from account_node.tenancy import AccountScope
from tests.integration.security.matrix import (
    ADMIN,
    AUDIT,
    EVERYONE,
    READERS,
    STAFF,
    Ids,
    Rule,
    counter,
)
from trust.crypto.keys import SigningKey
from trust.handshake import TrustStore
from trust.models import Trust

INVITATION = {
    "node_url": "http://127.0.0.1:9",
    "account": "someone",
    "fingerprint": "SHA256:" + "A" * 43,
    "code": "a-one-time-code",
}


def trust_target(client, account, role, ids: Ids) -> Ids:
    """An active trust with an unreachable peer, this account its trusted side."""
    app = client.application
    node = app.extensions["trustdesk"]
    with app.app_context():
        actor = Actor(account.admin.id, account.id, "Ada Admin")
        work = Work(
            db.session(), AccountScope(account.id), actor, node.clock, node.jobs, node.settings
        )
        trust = Trust(
            id=f"trust-{next(counter)}-{account.id}",
            role="trusted",
            peer_account="peer",
            peer_node="http://127.0.0.1:9",
            status="active",
            agreement={"document": {"trusting": _party()}, "signatures": []},
            created_at=node.clock.now(),
        )
        TrustStore(work.session, work.scope).add(trust)
        db.session.commit()
        return {"trust_id": trust.id}


def _party() -> dict[str, str]:
    key = SigningKey.generate().verify_key
    return {
        "account": "peer",
        "node": "http://127.0.0.1:9",
        "keyid": "peer#k1",
        "public_key": key.to_b64url(),
        "fingerprint": key.fingerprint,
    }


def account_target(client, account, role, ids: Ids) -> Ids:
    return {"account_id": account.id}


TARGETS = {"trust_id": trust_target, "account_id": account_target}
SIGNED = {"public": True, "anonymous_status": 401}

RULES: dict[tuple[str, str], Rule] = {
    ("/api/v1/trusts", "GET"): Rule(AUDIT, 200),
    ("/api/v1/trusts", "POST"): Rule(ADMIN, 422, body=lambda _: INVITATION),
    ("/api/v1/trusts/invitations", "POST"): Rule(ADMIN, 201),
    ("/api/v1/trusts/<trust_id>", "GET"): Rule(AUDIT, 200, by_id=True),
    ("/api/v1/trusts/<trust_id>/accept", "POST"): Rule(ADMIN, 409, by_id=True),
    # Reaching the trusting account's requests: with no offering routed to the caller there
    # is nothing to ask for; a single request needs the peer, which the test node may not
    # call over http (422). The calls themselves are specified in tests/federation.
    ("/api/v1/trusts/<trust_id>/requests", "GET"): Rule(READERS, 200, by_id=True),
    ("/api/v1/trusts/<trust_id>/requests/<request_id>", "GET"): Rule(READERS, 422, by_id=True),
    ("/api/v1/trusts/<trust_id>/requests/<request_id>/notes", "POST"): Rule(
        STAFF, 422, by_id=True, body=lambda _: {"body": "On it."}
    ),
    ("/api/v1/trusts/<trust_id>/requests/<request_id>", "PATCH"): Rule(
        STAFF, 422, by_id=True, body=lambda _: {"status": "in_progress"}
    ),
    ("/api/v1/inbox", "GET"): Rule(READERS, 200),
    ("/api/v1/inbox/events", "GET"): Rule(READERS, 200),
    ("/federation/v1/<account_id>/trusts/<trust_id>/events", "POST"): Rule(EVERYONE, 401, **SIGNED),
    ("/federation/v1/<account_id>/trusts/<trust_id>/offerings", "POST"): Rule(
        EVERYONE, 401, **SIGNED
    ),
    ("/federation/v1/<account_id>/trusts/<trust_id>/requests", "GET"): Rule(
        EVERYONE, 401, **SIGNED
    ),
    ("/federation/v1/<account_id>/trusts/<trust_id>/requests/<request_id>", "GET"): Rule(
        EVERYONE, 401, **SIGNED
    ),
    ("/federation/v1/<account_id>/trusts/<trust_id>/requests/<request_id>/notes", "POST"): Rule(
        EVERYONE, 401, **SIGNED
    ),
    ("/federation/v1/<account_id>/trusts/<trust_id>/requests/<request_id>/status", "POST"): Rule(
        EVERYONE, 401, **SIGNED
    ),
    ("/api/v1/trusts/<trust_id>/audit-heads", "GET"): Rule(AUDIT, 200, by_id=True),
    ("/federation/v1/<account_id>/trusts/<trust_id>/audit-heads", "POST"): Rule(
        EVERYONE, 401, **SIGNED
    ),
    ("/api/v1/trusts/<trust_id>/deactivate", "POST"): Rule(ADMIN, 200, by_id=True),
    # Confirming a peer's new key asks the peer's node for its descriptor: 422 here too.
    ("/api/v1/trusts/<trust_id>/peer-key", "POST"): Rule(
        ADMIN, 422, by_id=True, body=lambda _: {"fingerprint": INVITATION["fingerprint"]}
    ),
    ("/api/v1/keys", "GET"): Rule(AUDIT, 200),
    ("/api/v1/keys/peers", "GET"): Rule(AUDIT, 200),
    ("/api/v1/outbox", "GET"): Rule(AUDIT, 200),
    ("/api/v1/keys/rotate", "POST"): Rule(ADMIN, 200),
    ("/federation/v1/<account_id>/keys/rotation", "POST"): Rule(EVERYONE, 401, **SIGNED),
    ("/federation/v1/<account_id>/trusts/proposals", "POST"): Rule(EVERYONE, 401, **SIGNED),
    ("/federation/v1/<account_id>/trusts/<trust_id>/countersignature", "POST"): Rule(
        EVERYONE, 401, **SIGNED
    ),
    ("/federation/v1/<account_id>/trusts/<trust_id>/deactivation", "POST"): Rule(
        EVERYONE, 401, **SIGNED
    ),
}
