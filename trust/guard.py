"""Which URLs the node may call: configured peers only, https, public addresses.

A typed URL must never let someone make the node reach its own internal services
(SSRF): the scheme must be https (http only where settings allow it, e.g. loopback in
development) and every address the host resolves to must be public unless private
addresses are allowed.

Checking a name and then letting the HTTP library resolve it again to connect would let a
DNS answer that changes in between (DNS rebinding) reach an internal service. So the
addresses are checked where the connection opens (``trust.client.PinnedBackend`` calls
``resolve`` and connects to one of the addresses it returned: what was checked is what
is reached), and each call checks only the URL's form (``check_origin``). ``check_url``
checks both at once, for a client without that network (a test's transport).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class PeerRefused(ValueError):
    """The URL is not one the node may call; ``code`` is stable."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class OutboundPolicy:
    allow_http: bool = False
    allow_private: bool = False


def check_url(url: str, policy: OutboundPolicy) -> str:
    """Return the normalized base URL (scheme://host[:port]) or raise ``PeerRefused``:
    the URL's form, and every address its host resolves to now."""
    origin, host, port = _origin(url, policy)
    resolve(host, port, policy)
    return origin


def check_origin(url: str, policy: OutboundPolicy) -> str:
    """``check_url`` without the lookup, for a client whose connections resolve and
    check the host as they open (``trust.client.PinnedBackend``): a call on a kept-alive
    connection then asks no resolver, and one that opens asks it once."""
    return _origin(url, policy)[0]


def _origin(url: str, policy: OutboundPolicy) -> tuple[str, str, int]:
    """(normalized base URL, host, port) of a URL the node may call, as far as its form
    says; ``PeerRefused`` otherwise."""
    try:
        parts = urlsplit(url)
        hostname, given_port = parts.hostname, parts.port  # the port: ValueError if bad
    except ValueError as exc:  # "[::1", a port of letters or past 65535
        raise PeerRefused("peer_url_invalid", f"{url!r} is not a URL") from exc
    if parts.scheme not in ("https", "http") or not hostname:
        raise PeerRefused("peer_url_invalid", f"{url!r} is not an http(s) URL")
    if parts.scheme == "http" and not policy.allow_http:
        raise PeerRefused("peer_url_insecure", "peers are reached over https only")
    if parts.username or parts.password:
        raise PeerRefused("peer_url_invalid", "peer URLs carry no credentials")
    if not _buildable(f"{parts.scheme}://{parts.netloc}"):
        raise PeerRefused("peer_url_invalid", f"{url!r} is not a URL the node can call")
    host = f"[{hostname}]" if ":" in hostname else hostname  # IPv6
    port = f":{given_port}" if given_port else ""
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}{port}", hostname, given_port or default


@lru_cache(maxsize=1024)
def _buildable(origin: str) -> bool:
    """Whether httpx, which builds the call, takes ``origin`` and its host (IDNA-decoded):
    stricter than ``urlsplit`` ("0177.0.0.1", a bad IDNA label). Kept per origin: every
    call of an inbox page checks its node's."""
    try:
        return bool(httpx.URL(origin).host)
    except (httpx.InvalidURL, UnicodeError):
        return False


def resolve(host: str, port: int, policy: OutboundPolicy) -> list[Address]:
    """The addresses ``host`` resolves to, in the resolver's order, or ``PeerRefused``
    (``peer_address_private``) if any is internal and the policy does not allow those.
    One lookup: a connection must open to one of these, never to a name looked up anew."""
    addresses = _addresses(host, port)
    if not policy.allow_private and any(_internal(address) for address in addresses):
        raise PeerRefused("peer_address_private", f"{host} resolves to an internal address")
    return addresses


def _addresses(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise PeerRefused("peer_unresolvable", f"{host} does not resolve") from exc
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def _carried_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one wraps and a host or relay would reach: mapped
    (``::ffff:a.b.c.d``) or 6to4 (``2002:aabb:ccdd::``). NAT64 and IPv4-compatible forms
    need no unwrapping: they lie in ``::/8``, reserved, so internal whatever they wrap."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    return address.ipv4_mapped or address.sixtofour


# Not globally reachable (IANA's special-purpose registries), yet global to Python 3.11's
# ``ipaddress``: the IETF protocol assignments (192.0.0.192 is a cloud's metadata service),
# the deprecated 6to4 relay anycast, and IPv6 site-local addresses.
NOT_GLOBAL = tuple(
    ipaddress.ip_network(block) for block in ("192.0.0.0/24", "192.88.99.0/24", "fec0::/10")
)


def _internal(address: Address) -> bool:
    """Not a public address. ``is_global`` adds what ``is_private`` leaves out, such as the
    shared address space 100.64.0.0/10 (carrier NAT, and some clouds' metadata service);
    ``NOT_GLOBAL`` what this Python's tables miss. An IPv6 address that wraps an IPv4 one
    is judged by the address it wraps too: ``2002:a00:1::1`` reaches 10.0.0.1 through a
    6to4 relay, yet Python calls it global."""
    carried = _carried_ipv4(address)
    if carried is not None and _internal(carried):
        return True
    return (
        any(address in block for block in NOT_GLOBAL if block.version == address.version)
        or not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
