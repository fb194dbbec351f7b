"""Reading an invited peer from its node's descriptor: the invitation's fingerprint must be
the fingerprint of the very key that signs the descriptor, and the descriptor must be the
one of the node at the invitation's URL (spelling aside)."""

from __future__ import annotations

from typing import Any

import pytest

from account_node.errors import ValidationFailed
from trust.crypto.documents import sign_document
from trust.crypto.keys import SigningKey
from trust.descriptor import DESCRIPTOR, invited_peer, same_node

NODE = "https://msp.example"
ACCOUNT = "msp-1"
KEY = SigningKey.generate()


def _descriptor(
    node: Any = NODE,
    signer: SigningKey = KEY,
    listed: SigningKey = KEY,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """A descriptor listing ``listed`` as the account's current key (under the listed
    ``fingerprint``, its own by default), signed by ``signer``."""
    entry = {
        "id": ACCOUNT,
        "name": "MSP One",
        "keys": [
            {
                "key_id": "k1",
                "status": "current",
                "public_key": listed.verify_key.to_b64url(),
                "fingerprint": fingerprint or listed.verify_key.fingerprint,
            }
        ],
    }
    document = {"node": node, "issued_at": "2026-12-01T00:00:00+00:00", "accounts": [entry]}
    return dict(sign_document(document, signer, DESCRIPTOR, keyid=f"{ACCOUNT}#k1"))


def _refused_field(signed: Any, url: str = NODE, fingerprint: str | None = None) -> list[str]:
    with pytest.raises(ValidationFailed) as refused:
        invited_peer(signed, url, ACCOUNT, fingerprint or KEY.verify_key.fingerprint)
    return list(refused.value.errors)


def test_the_invited_account_is_read_with_its_key_its_name_and_its_node():
    peer = invited_peer(_descriptor(), NODE, ACCOUNT, KEY.verify_key.fingerprint)
    assert str(peer.ref) == f"{ACCOUNT}#k1"
    assert peer.key == KEY.verify_key
    assert (peer.name, peer.node) == ("MSP One", NODE)


def test_a_key_listed_under_the_invitations_fingerprint_but_not_having_it_is_refused():
    """An impostor copies the real key's fingerprint (it is public) next to its own key
    and signs the descriptor with that key: the fingerprint is computed, not read."""
    impostor = SigningKey.generate()
    forged = _descriptor(signer=impostor, listed=impostor, fingerprint=KEY.verify_key.fingerprint)
    assert _refused_field(forged) == ["fingerprint"]


def test_a_descriptor_not_signed_by_the_invited_key_is_refused():
    forged = _descriptor(signer=SigningKey.generate())
    assert _refused_field(forged) == ["node_url"]


@pytest.mark.parametrize(
    "claimed",
    [
        "https://other.example",  # another host
        "https://msp.example:8443",  # another port
        "http://msp.example",  # another scheme
        "https://msp.example/tenant",  # another path
        "https://msp.example?node=1",  # not a base URL
        "",
        None,
        42,
    ],
)
def test_a_descriptor_naming_another_node_than_the_invitations_url_is_refused(claimed):
    assert _refused_field(_descriptor(node=claimed)) == ["node_url"]


@pytest.mark.parametrize(
    "url",
    [
        "https://msp.example/",
        "https://MSP.Example",
        "HTTPS://msp.example",
        "https://msp.example:443",
        "https://msp.example:443/",
    ],
)
def test_an_invitation_url_spelled_otherwise_names_the_same_node(url):
    peer = invited_peer(_descriptor(), url, ACCOUNT, KEY.verify_key.fingerprint)
    assert peer.node == NODE  # the node's own spelling: its signed calls are checked so


def test_the_node_keeps_its_own_spelling_without_a_trailing_slash():
    peer = invited_peer(
        _descriptor(node="https://MSP.example:443/"),
        NODE,
        ACCOUNT,
        KEY.verify_key.fingerprint,
    )
    assert peer.node == "https://MSP.example:443"


@pytest.mark.parametrize(
    ("url", "other", "same"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/", True),
        ("http://node.example", "http://node.example:80", True),
        ("https://node.example/td/", "https://NODE.example:443/td", True),
        ("https://node.example/td", "https://node.example/TD", False),
        ("https://node.example", "https://user@node.example", False),
        ("https://node.example", "https://node.example#frag", False),
        ("ftp://node.example", "ftp://node.example", False),
        ("https://node.example:99999", "https://node.example:99999", False),
    ],
)
def test_same_node_compares_base_urls_spelling_aside(url, other, same):
    assert same_node(url, other) is same
    assert same_node(other, url) is same


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [],
        "descriptor",
        {"document": []},
        {"document": {"accounts": 3}},
        {"document": {"accounts": [{"id": ACCOUNT, "keys": "k1"}]}},
        {"document": {"accounts": [{"id": ACCOUNT, "keys": [{"status": "current"}]}]}},
        {"document": {"accounts": [{"id": ACCOUNT, "keys": [
            {"status": "current", "key_id": "K 1", "public_key": "x", "fingerprint": "y"}]}]}},
    ],
)  # fmt: skip
def test_a_malformed_descriptor_is_refused_naming_a_field_not_a_crash(garbage):
    assert _refused_field(garbage) in (["node_url"], ["fingerprint"])


def test_a_descriptor_without_the_invited_account_says_so():
    with pytest.raises(ValidationFailed) as refused:
        invited_peer(_descriptor(), NODE, "msp-2", KEY.verify_key.fingerprint)
    assert list(refused.value.errors) == ["account"]
