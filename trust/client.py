"""The peer client: guarded, signed, bounded calls to other nodes (httpx).

Every call checks the URL against the outbound policy, has a per-phase timeout and a
total deadline (httpx's read timeout applies per read, so a peer that drips bytes would
otherwise hold a page forever), reads at most ``MAX_BODY`` bytes, and turns anything
unexpected into ``PeerUnavailable`` or ``PeerDeclined`` without the peer's own words.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from trust.crypto.httpsig import HttpRequestParts, sign_request
from trust.errors import PeerDeclined, PeerNotAllowed, PeerUnavailable
from trust.guard import OutboundPolicy, PeerRefused, check_url
from trust.keystore import OwnKey

MAX_BODY = 1_048_576


class PeerClient:
    def __init__(self, policy: OutboundPolicy, timeout: float, transport: Any = None) -> None:
        self.policy = policy
        self.timeout = timeout
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def get_json(self, url: str) -> Any:
        self._check(url)
        return self._send(self.http.build_request("GET", url))

    def post_signed(
        self,
        url: str,
        body: Any,
        key: OwnKey,
        *,
        now: int,
        trust_id: str | None = None,
        actor: str | None = None,
    ) -> Any:
        self._check(url)
        headers = {"Content-Type": "application/json"}
        if trust_id:
            headers["TrustDesk-Trust"] = trust_id
        if actor:
            headers["TrustDesk-Actor"] = actor
        parts = HttpRequestParts("POST", url, headers, json.dumps(body).encode())
        sign_request(parts, key.signing, keyid=str(key.ref), created=now)
        request = self.http.build_request(
            "POST", url, headers=dict(parts.headers), content=parts.body
        )
        return self._send(request)

    def _check(self, url: str) -> None:
        try:
            check_url(url, self.policy)
        except PeerRefused as exc:
            raise PeerNotAllowed(exc.detail, reason=exc.code) from exc

    def _send(self, request: httpx.Request) -> Any:
        deadline = time.monotonic() + self.timeout
        try:
            response = self.http.send(request, stream=True)
            try:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY or time.monotonic() > deadline:
                        raise PeerUnavailable("the peer's answer was too large or too slow")
            finally:
                response.close()
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"the peer did not answer ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            raise PeerDeclined(
                f"the peer answered {response.status_code}", peer_status=response.status_code
            )
        try:
            return json.loads(bytes(body)) if body else None
        except ValueError as exc:
            raise PeerUnavailable("the peer's answer was not JSON") from exc
