"""Nonces in Redis: one shared memory of seen signatures for every worker of a node."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from redis import Redis

from trust.crypto.httpsig import VerifiedSignature
from trust.errors import FederationRefused
from trust.inbox import NONCE_GRACE_SECONDS, remember_nonce_in_redis


def _signature(nonce: str, expires: int) -> VerifiedSignature:
    return VerifiedSignature("msp#k1", expires - 60, expires, nonce, ("@method",), None, None)


def test_a_nonce_is_accepted_once_and_forgotten_after_its_signature_expires(redis_url):
    client = Redis.from_url(redis_url)
    now = datetime.now(UTC)
    signature = _signature(secrets.token_urlsafe(16), int(now.timestamp()) + 60)
    remember_nonce_in_redis(client, signature, now)
    with pytest.raises(FederationRefused) as refused:
        remember_nonce_in_redis(client, signature, now)
    assert refused.value.extensions["reason"] == "nonce_replayed"
    ttl = client.ttl(f"trustdesk:nonce:msp#k1:{signature.nonce}")
    assert 60 < ttl <= 60 + NONCE_GRACE_SECONDS


def test_the_same_nonce_under_another_key_is_another_call(redis_url):
    client = Redis.from_url(redis_url)
    now = datetime.now(UTC)
    nonce = secrets.token_urlsafe(16)
    remember_nonce_in_redis(client, _signature(nonce, int(now.timestamp()) + 60), now)
    other = VerifiedSignature("peer#k9", 0, int(now.timestamp()) + 60, nonce, (), None, None)
    remember_nonce_in_redis(client, other, now)
