"""Authenticating incoming federation calls (DESIGN section 5).

Order of checks: a pinned key of the named account, the signature, the time window, the
nonce never seen before, the digest; the caller then checks the trust and offering in its
own records. The target URI is rebuilt from the configured public base URL and the raw
request target, because a decoded URL (``%2F`` → ``/``) would not match what was signed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from account_node.unit_of_work import keep_on_rollback
from trust.crypto.errors import SignatureError
from trust.crypto.httpsig import HttpRequestParts, VerifiedSignature, verify_request
from trust.crypto.keys import VerifyKey
from trust.errors import FederationRefused
from trust.models import SeenNonce

NONCE_GRACE_SECONDS = 300  # kept past expiry: covers the clock skew a verifier allows


def incoming_parts(
    public_url: str, method: str, raw_target: str, headers: Any, body: bytes
) -> HttpRequestParts:
    return HttpRequestParts(method, public_url.rstrip("/") + raw_target, dict(headers), body)


def authenticate(
    session: Any,
    parts: HttpRequestParts,
    resolve_key: Callable[[str], VerifyKey | None],
    now: datetime,
    redis_url: str = "",
) -> VerifiedSignature:
    """Verify the call's signature and refuse a nonce seen before: in Redis when the node
    has one (every worker of every node behind one load balancer shares it), else in the
    database (the embedded default)."""
    try:
        verified = verify_request(parts, resolve_key, now=int(now.timestamp()))
    except SignatureError as exc:
        raise FederationRefused(exc.detail, reason=exc.code) from exc
    if redis_url:
        remember_nonce_in_redis(_redis(redis_url), verified, now)
    else:
        remember_nonce(session, verified, now)
    return verified


_clients: dict[str, Any] = {}


def _redis(url: str) -> Any:
    """One client (one connection pool) per Redis URL for the process."""
    client = _clients.get(url)
    if client is None:
        import redis

        client = _clients.setdefault(url, redis.Redis.from_url(url))
    return client


def remember_nonce_in_redis(client: Any, verified: VerifiedSignature, now: datetime) -> None:
    """``SET NX`` with the signature's remaining life (plus skew): atomic across workers,
    and the key expires exactly when the signature could no longer verify anyway."""
    ttl = max(1, verified.expires - int(now.timestamp())) + NONCE_GRACE_SECONDS
    key = f"trustdesk:nonce:{verified.keyid}:{verified.nonce}"
    if not client.set(key, b"1", nx=True, ex=ttl):
        raise FederationRefused("this signed call was already received", reason="nonce_replayed")


def remember_nonce(session: Any, verified: VerifiedSignature, now: datetime) -> None:
    """Refuse a nonce seen before (one ``INSERT ... ON CONFLICT DO NOTHING``); now and then
    forget nonces whose signatures can no longer verify."""
    expires = datetime.fromtimestamp(verified.expires, UTC) + timedelta(seconds=NONCE_GRACE_SECONDS)
    insert = _remember(session.get_bind().dialect.name)
    params = {"keyid": verified.keyid, "nonce": verified.nonce, "expires_at": expires}
    inserted = session.execute(insert, params).first()
    if inserted is None:
        raise FederationRefused("this signed call was already received", reason="nonce_replayed")
    # Seen even if the call is then refused or fails (its unit of work rolls back):
    # else it could be replayed while its signature lasts, once the refusal's cause
    # (an illegal transition, say) has gone. ON CONFLICT DO NOTHING: idempotent.
    keep_on_rollback(session, lambda kept: kept.execute(insert, params))
    global _last_sweep
    if now.timestamp() - _last_sweep > SWEEP_EVERY_SECONDS:
        _last_sweep = now.timestamp()
        session.execute(delete(SeenNonce).where(SeenNonce.expires_at < now))


SWEEP_EVERY_SECONDS = 60
_last_sweep = 0.0


@lru_cache(maxsize=4)
def _remember(dialect: str) -> Any:
    """The nonce insert, built once per dialect: every signed call runs it. RETURNING,
    not rowcount: the ORM's insert path does not report a row count on every driver,
    and a replay must never pass for want of one. On the table, not the entity: the
    ORM's bulk-insert machinery around one row costs more than the insert itself."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(SeenNonce.__table__)  # type: ignore[arg-type]
        .values(
            keyid=bindparam("keyid"),
            nonce=bindparam("nonce"),
            expires_at=bindparam("expires_at"),
        )
        .on_conflict_do_nothing(index_elements=["keyid", "nonce"])
        .returning(SeenNonce.__table__.c.nonce)
    )
