"""Outbound calls go to public https peers unless settings allow otherwise."""

from __future__ import annotations

import ipaddress

import pytest

from trust.guard import OutboundPolicy, PeerRefused, check_url, resolve

STRICT = OutboundPolicy()
DEVELOPMENT = OutboundPolicy(allow_http=True, allow_private=True)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://peer.example", "peer_url_invalid"),
        ("https://", "peer_url_invalid"),
        ("https://user:pw@8.8.8.8", "peer_url_invalid"),
        ("http://8.8.8.8", "peer_url_insecure"),
        ("https://127.0.0.1:5000", "peer_address_private"),
        ("https://10.1.2.3", "peer_address_private"),
        ("https://169.254.169.254", "peer_address_private"),
        ("https://[::1]", "peer_address_private"),
        ("https://[::ffff:127.0.0.1]", "peer_address_private"),
        ("https://100.100.100.200", "peer_address_private"),  # shared space, not public
        ("https://[64:ff9b::7f00:1]", "peer_address_private"),  # NAT64 of 127.0.0.1
        ("https://[64:ff9b::a9fe:a9fe]", "peer_address_private"),  # of 169.254.169.254
        ("https://[2002:a00:1::1]", "peer_address_private"),  # 6to4 of 10.0.0.1
        ("https://[::10.0.0.1]", "peer_address_private"),  # IPv4-compatible
        ("https://[64:ff9b:1::808:808]", "peer_address_private"),  # NAT64 prefixes: reserved
        ("https://localhost", "peer_address_private"),
        ("https://no-such-host.invalid", "peer_unresolvable"),
        # not global to IANA, though Python 3.11 calls them so
        ("https://192.0.0.192", "peer_address_private"),  # a cloud's metadata service
        ("https://3221225664", "peer_address_private"),  # the same, as one number
        ("https://192.88.99.1", "peer_address_private"),  # 6to4 relay anycast
        ("https://[fec0::1]", "peer_address_private"),  # site-local
        # forms the HTTP library would refuse to build a call from: a 422, never a 500
        ("https://peer.example:99999", "peer_url_invalid"),
        ("https://[::1", "peer_url_invalid"),
        ("https://peer.example:abc", "peer_url_invalid"),
        ("https://0177.0.0.1", "peer_url_invalid"),
        ("https://xn--localhost-", "peer_url_invalid"),
    ],
)
def test_unsafe_urls_are_refused_with_a_code(url, code):
    with pytest.raises(PeerRefused) as caught:
        check_url(url, STRICT)
    assert caught.value.code == code


def test_a_public_https_peer_is_allowed_and_normalized():
    assert check_url("https://8.8.8.8/some/path?x=1", STRICT) == "https://8.8.8.8"


@pytest.mark.parametrize("host", ["[2002:808:808::1]", "[2606:4700::1111]"])
def test_public_ipv6_peers_are_allowed_with_their_literal_bracketed(host):
    assert check_url(f"https://{host}", STRICT) == f"https://{host}"


def test_development_settings_allow_loopback_over_http():
    assert check_url("http://127.0.0.1:5001/", DEVELOPMENT) == "http://127.0.0.1:5001"


def test_resolve_gives_every_address_in_the_resolvers_order(dns):
    """A connection opens to one of these: the list is what was checked."""
    dns.answer("peer.test", ("8.8.8.8", "1.1.1.1", "8.8.8.8"))
    assert resolve("peer.test", 443, STRICT) == [
        ipaddress.ip_address("8.8.8.8"),
        ipaddress.ip_address("1.1.1.1"),
    ]


def test_a_name_with_any_internal_address_is_refused(dns):
    dns.answer("peer.test", ("8.8.8.8", "10.0.0.7"))
    with pytest.raises(PeerRefused) as caught:
        resolve("peer.test", 443, STRICT)
    assert caught.value.code == "peer_address_private"
    assert resolve("peer.test", 443, DEVELOPMENT) == [
        ipaddress.ip_address("8.8.8.8"),
        ipaddress.ip_address("10.0.0.7"),
    ]
