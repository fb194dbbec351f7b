"""Which URLs the node may call: configured peers only, https, public addresses.

A typed URL must never let someone make the node reach its own internal services
(SSRF): the scheme must be https (http only where settings allow it, e.g. loopback in
development) and every address the host resolves to must be public unless private
addresses are allowed. Resolution happens here and the connection should use the
checked address, so DNS cannot change its answer in between.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


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
    """Return the normalized base URL (scheme://host[:port]) or raise ``PeerRefused``."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PeerRefused("peer_url_invalid", f"{url!r} is not an http(s) URL")
    if parts.scheme == "http" and not policy.allow_http:
        raise PeerRefused("peer_url_insecure", "peers are reached over https only")
    if parts.username or parts.password:
        raise PeerRefused("peer_url_invalid", "peer URLs carry no credentials")
    for address in _addresses(
        parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    ):
        if not policy.allow_private and _internal(address):
            raise PeerRefused(
                "peer_address_private", f"{parts.hostname} resolves to an internal address"
            )
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _addresses(host: str, port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise PeerRefused("peer_unresolvable", f"{host} does not resolve") from exc
    return {ipaddress.ip_address(info[4][0]) for info in infos}


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
