"""The peer client: guarded, signed, bounded calls to other nodes (httpx).

Every call checks the URL against the outbound policy, has a per-phase timeout and a
total deadline, reads at most ``MAX_BODY`` bytes, and turns anything unexpected into
``PeerUnavailable`` or ``PeerDeclined`` without the peer's own words. httpx's timeouts
apply to each read and write, so a peer that drips its status line and headers a byte at
a time would hold a call, a job or a page's thread for as long as it liked: the deadline
bounds every connect, read and write on the socket itself (``_DeadlineStream``).
An answer holding text no database can store (``account_node.unstorable``) is as
unexpected as one that is not JSON: refused whole here, it reaches no caller.

Every connection opens to an address the guard checked when it opened (``PinnedBackend``):
the host name is resolved once, there, and never again by the HTTP library, so a DNS
answer that changes after the URL check (DNS rebinding) cannot reach an internal service.
Only the socket is pinned: URLs, the Host header, SNI and certificate checks keep the name.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import ssl
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as LookupTimeout
from typing import Any

import httpcore
import httpx

from account_node.unstorable import holds_unstorable
from trust.crypto.httpsig import HttpRequestParts, sign_request
from trust.errors import PeerDeclined, PeerNotAllowed, PeerOutcomeUnknown, PeerUnavailable
from trust.guard import Address, OutboundPolicy, PeerRefused, check_origin, check_url, resolve
from trust.keystore import OwnKey

MAX_BODY = 1_048_576
KEEPALIVE = 4.0  # seconds an idle connection to a peer is kept: under the nodes' 10
PER_PEER = 32  # connections open to one peer at most
PER_PEER_KEPT = 8  # of which kept idle
# The peer closed the connection before any answer (not a timeout: that is final).
_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
# Failures before a byte of the call left this node: the peer cannot have acted on it.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Statuses that say the peer, or a proxy before it, could not serve the call now: the
# node is unavailable, not refusing; the same call may succeed later.
_UNAVAILABLE = frozenset({408, 429, 500, 502, 503, 504})
# We ask for answers as they are (``Accept-Encoding: identity``) and refuse any other: a
# few hundred bytes of stacked gzip decode to gigabytes in one read, before any size
# check could look at them.
_AS_IS = {"Accept-Encoding": "identity"}
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def shared_client(registry: dict[str, Any], policy: OutboundPolicy, timeout: float) -> PeerClient:
    """The node's one peer client, kept in ``registry`` (the app's extensions), so every
    request and job of the node shares its connections."""
    found = registry.get("trustdesk.peers")
    if found is None:
        found = registry.setdefault("trustdesk.peers", PeerClient(policy, timeout))
    return found  # type: ignore[no-any-return]


# The deadline of the call this thread is making (``PeerClient._send``): httpcore's sync
# pool does all of a call's I/O in the calling thread.
_call = threading.local()


def _left(timeout: float | None, late: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of this thread's call, or ``late`` raised if
    nothing is."""
    deadline: float | None = getattr(_call, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise late("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the call's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class PinnedBackend(httpcore.SyncBackend):
    """httpcore's network, except that a connection opens only to an address the guard
    checked as it opened: the host is resolved once (``trust.guard.resolve``), an internal
    address refused per the policy (``PeerRefused``, ``peer_address_private``), and the
    socket connects to a checked IP itself, each in the resolver's order until one answers.

    httpcore starts TLS over the returned stream with the URL's host name, so SNI and the
    certificate check are unchanged. A name that does not resolve is a network failure
    (``httpcore.ConnectError``, so ``PeerUnavailable``): the URL's form passed its check
    (``PeerClient._check``), and a resolver may fail for a moment."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _lookup(host, port, self.policy, _left(timeout, httpcore.ConnectTimeout))
        except PeerRefused as exc:  # see PeerClient._send
            if exc.code != "peer_unresolvable":
                raise
            raise httpcore.ConnectError(exc.detail) from exc
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                # An IP literal: the resolver is not asked again.
                stream = super().connect_tcp(
                    str(address),
                    port,
                    _left(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
                return _DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure


# The lookups under way in this process, one per name: (pid, its answer to come).
_lookups: dict[tuple[str, int, OutboundPolicy], tuple[int, Future[list[Address]]]] = {}
_lookups_lock = threading.Lock()


def _lookup(host: str, port: int, policy: OutboundPolicy, timeout: float | None) -> list[Address]:
    """``trust.guard.resolve`` within ``timeout``: ``getaddrinfo`` blocks for as long as
    the system's resolver likes (a peer's slow DNS would hold a page's thread past any
    deadline), so a name is looked up in a thread of its own and waited for only as long
    as the call has left. One lookup per name at a time, however many calls wait for it:
    a name whose DNS is dead holds one thread until the resolver gives up, and never
    makes other peers' lookups wait (a shared pool of threads filled with it did, and
    healthy customers showed as unreachable). An IP literal needs no lookup."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return resolve(host, port, policy)
    key = (host, port, policy)
    with _lookups_lock:
        found = _lookups.get(key)
        if found is None or found[0] != os.getpid():  # none, or a forked parent's
            answer: Future[list[Address]] = Future()
            _lookups[key] = (os.getpid(), answer)
            threading.Thread(
                target=_resolve_into, args=(answer, key), name="lookup", daemon=True
            ).start()
        else:
            answer = found[1]
    try:
        return answer.result(timeout)
    except LookupTimeout:
        raise httpcore.ConnectTimeout(f"looking up {host} took too long") from None


def _resolve_into(answer: Future[list[Address]], key: tuple[str, int, OutboundPolicy]) -> None:
    try:
        answer.set_result(resolve(*key))
    except BaseException as exc:  # PeerRefused, or anything the resolver raised
        answer.set_exception(exc)
    finally:
        with _lookups_lock:
            if _lookups.get(key, (None, None))[1] is answer:
                del _lookups[key]


class PinnedTransport(httpx.HTTPTransport):
    """httpx's own transport over httpcore's pool, with ``PinnedBackend`` as its network.

    httpx 0.28 cannot pass a network backend to the pool it builds (encode/httpx#3749
    would add that), and ``HTTPTransport.__init__`` does nothing but build ``self._pool``,
    which its other methods use; so this builds that pool itself, as httpx would for a
    client without a proxy, and does not call ``super().__init__``. No proxy: a proxy
    would resolve the peer's name itself, past the check."""

    def __init__(
        self, policy: OutboundPolicy, limits: httpx.Limits, ssl_context: ssl.SSLContext
    ) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(policy),
        )


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: a peer is another node, not a browser session.

    httpx keeps every cookie a server sets and sends it back on later calls; a peer
    could thus make this node repeat, on each signed call, whatever header it liked (the
    signature does not cover ``Cookie``). Keeping none also spares httpx's cookie
    parsing on every answer (about 16 microseconds a call)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _PeerPool(httpx.Client):
    """httpx's client without its cookie jar (``_NoCookies``)."""

    _none = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._none

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        """Nothing to set: this client keeps no cookies, given or received."""


class PeerClient:
    """Calls to peers, over one small connection pool per peer.

    One pool per peer, not one for all: httpcore's pool looks at every connection it
    holds for each request it places (twice per call), so a single pool kept open to
    twenty trusting nodes spends more CPU placing an inbox's twenty calls than signing
    them, and its one lock serialises the fan-out's threads.

    Each pool connects through ``PinnedTransport``. A ``transport`` given replaces the
    network for every pool (tests: ``httpx.MockTransport``), guard included."""

    def __init__(self, policy: OutboundPolicy, timeout: float, transport: Any = None) -> None:
        self.policy = policy
        self.timeout = timeout
        self._transport = transport
        self._pools: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None  # one for all pools, made at first need

    def _pool(self, origin: str) -> httpx.Client:
        """The pool for one peer (``origin``: scheme, host and port, as checked). There are
        as many as peers this node was told to call: trusts and invitations admins made."""
        found = self._pools.get(origin)
        if found is not None:
            return found
        with self._lock:
            found = self._pools.get(origin)
            if found is None:
                transport = self._transport
                if transport is None:
                    transport = self._pinned_transport()
                found = self._pools[origin] = _PeerPool(
                    headers=_AS_IS,
                    timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 2.0)),
                    transport=transport,
                    follow_redirects=False,
                )
            return found

    def _pinned_transport(self) -> PinnedTransport:
        """A new pool's network (under ``self._lock``). Enough kept connections for the
        inbox pages several people load at once; an idle one goes before the peer drops
        it (nodes keep theirs 10 s): reusing a connection the peer is closing loses the
        call."""
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        limits = httpx.Limits(
            max_connections=PER_PEER,
            max_keepalive_connections=PER_PEER_KEPT,
            keepalive_expiry=KEEPALIVE,
        )
        return PinnedTransport(self.policy, limits, self._ssl)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    def get_json(self, url: str) -> Any:
        pool = self._pool(self._check(url))
        return self._send(pool, pool.build_request("GET", url))

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
        return self.signed("POST", url, key, body=body, now=now, trust_id=trust_id, actor=actor)

    def signed(
        self,
        method: str,
        url: str,
        key: OwnKey,
        *,
        now: int,
        body: Any = None,
        trust_id: str | None = None,
        actor: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """One signed call (DESIGN section 5); ``body`` None sends none (and no digest).

        A read whose connection the peer closed before answering (a kept-alive one it
        was just closing, say) is sent once more on a new one, signed anew: its nonce
        may have been seen. An action is not: the peer may have done it."""
        pool = self._pool(self._check(url))
        headers: dict[str, str] = {}
        content = b""
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body).encode()
        if trust_id:
            headers["TrustDesk-Trust"] = trust_id
        if actor:
            headers["TrustDesk-Actor"] = actor

        def signed_request() -> httpx.Request:
            parts = HttpRequestParts(method, url, dict(headers), content)
            sign_request(parts, key.signing, keyid=str(key.ref), created=now)
            return pool.build_request(
                method, url, headers=dict(parts.headers), content=content or None
            )

        started = time.monotonic()
        try:
            return self._send(pool, signed_request(), timeout)
        except PeerUnavailable as exc:
            if method != "GET":
                if _may_have_acted(exc):
                    raise PeerOutcomeUnknown(
                        "the peer may have taken the call; its answer was lost or unusable"
                    ) from exc
                raise
            spent = time.monotonic() - started
            dropped = isinstance(exc.__cause__, _DROPPED)
            if not dropped or spent >= (timeout or self.timeout) / 2:
                raise
            return self._send(pool, signed_request(), (timeout or self.timeout) - spent)

    def _check(self, url: str) -> str:
        """The URL's scheme, host and port, if the node may call it. Its addresses are
        checked as a connection opens (``PinnedBackend``), not on every call; a transport
        given from outside (tests) has no such backend, so the URL check resolves."""
        check = check_url if self._transport is not None else check_origin
        try:
            return check(url, self.policy)
        except PeerRefused as exc:
            raise PeerNotAllowed(exc.detail, reason=exc.code) from exc

    def _send(
        self, pool: httpx.Client, request: httpx.Request, timeout: float | None = None
    ) -> Any:
        limit = min(timeout or self.timeout, self.timeout)
        deadline = time.monotonic() + limit
        if limit < self.timeout:
            request.extensions["timeout"] = httpx.Timeout(limit, connect=min(limit, 2.0)).as_dict()
        _call.deadline = deadline
        try:
            response = pool.send(request, stream=True)
            try:
                encoding = response.headers.get("Content-Encoding", "").strip().lower()
                if encoding not in ("", "identity"):  # before a byte is decoded (``_AS_IS``)
                    raise PeerUnavailable("the peer's answer was encoded, though asked not to be")
                body = bytearray()
                for chunk in response.iter_bytes():  # identity: decodes nothing
                    body += chunk
                    if len(body) > MAX_BODY or time.monotonic() > deadline:
                        raise PeerUnavailable("the peer's answer was too large or too slow")
            finally:
                response.close()
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"the peer did not answer ({type(exc).__name__})") from exc
        except PeerRefused as exc:  # from PinnedBackend, before anything was sent
            raise PeerNotAllowed(exc.detail, reason=exc.code) from exc
        finally:
            _call.deadline = None
        status = response.status_code
        if 200 <= status < 300:
            return _answer(bytes(body))
        if status in _UNAVAILABLE:  # down or busy, not refusing: unreachable, retried
            raise PeerUnavailable(f"the peer answered {status}", peer_status=status)
        if status < 400:  # no redirect is followed, and an interim answer is no answer
            raise PeerUnavailable(f"the peer answered {status}, not with its answer")
        raise PeerDeclined(
            f"the peer answered {status}",
            peer_status=status,
            peer_code=_problem_code(bytes(body)),
        )


def _may_have_acted(failure: PeerUnavailable) -> bool:
    """Whether the peer may have carried out a call that failed so: unless the call
    never left (no connection) or the peer said it could not serve it now, yes."""
    if isinstance(failure.__cause__, _UNSENT):
        return False
    return failure.extensions.get("peer_status") not in (408, 429, 503)


def _answer(body: bytes) -> Any:
    """A peer's answer parsed, or ``PeerUnavailable`` for one we could not use: not JSON
    (nested past the parser's limit included), or holding text no database can store (a
    NUL or a lone surrogate, in any string or key), which would fail later, wherever it
    is written, canonicalized or rendered."""
    if not body:
        return None
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise PeerUnavailable("the peer's answer was not JSON") from exc
    if holds_unstorable(body, answer):
        raise PeerUnavailable("the peer's answer held text that cannot be stored")
    return answer


def _problem_code(body: bytes) -> str | None:
    """The stable ``code`` (or ``reason``) of a peer's problem document, if it has a sane
    one: a token callers may branch on. The peer's prose is never passed on."""
    try:
        problem = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(problem, dict):
        return None
    for name in ("reason", "code"):
        value = problem.get(name)
        if isinstance(value, str) and _CODE.fullmatch(value):
            return value
    return None
