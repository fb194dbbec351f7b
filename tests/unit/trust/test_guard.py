"""Outbound calls go to public https peers unless settings allow otherwise."""

from __future__ import annotations

import pytest

from trust.guard import OutboundPolicy, PeerRefused, check_url

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
        ("https://localhost", "peer_address_private"),
        ("https://no-such-host.invalid", "peer_unresolvable"),
    ],
)
def test_unsafe_urls_are_refused_with_a_code(url, code):
    with pytest.raises(PeerRefused) as caught:
        check_url(url, STRICT)
    assert caught.value.code == code


def test_a_public_https_peer_is_allowed_and_normalized():
    assert check_url("https://8.8.8.8/some/path?x=1", STRICT) == "https://8.8.8.8"


def test_development_settings_allow_loopback_over_http():
    assert check_url("http://127.0.0.1:5001/", DEVELOPMENT) == "http://127.0.0.1:5001"
