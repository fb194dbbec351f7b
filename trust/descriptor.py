"""The node descriptor at ``/.well-known/trustdesk-node`` (DESIGN section 5).

It names the node's base URL and, for each hosted account, its current keys and its
previous keys with the time they stopped being valid. It is one document signed by every
listed account's current key, so a peer that pinned any one of those accounts can check
that the node speaks for it, without trusting the transport.

Read by a proposing node (``invited_peer``), it is untrusted input until checked against
the invitation its admin was handed out of band: the key is the one whose fingerprint,
computed from the key itself, is the invitation's (a fingerprint the descriptor merely
lists next to another key proves nothing); the descriptor is signed by that key; and the
node it names is the node at the invitation's URL. That last name is kept as the peer's
node: the peer checks every signed call's ``@target-uri`` against its own base URL, so
calls go to the URL it gives itself, which may differ from the invitation's only in
spelling (``same_node``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from account_node.clock import Clock
from account_node.errors import ValidationFailed
from account_node.tenancy import AccountScope
from trust.crypto.documents import countersign, sign_document, verify_document
from trust.crypto.errors import SignatureError
from trust.crypto.keys import KeyRef, VerifyKey
from trust.keystore import AccountKeys, key_listing

DESCRIPTOR = "node-descriptor"
DEFAULT_PORTS = {"http": 80, "https": 443}


def build_descriptor(
    session: Any, clock: Clock, node_url: str, node_secret: str, accounts: list[Any]
) -> dict[str, Any]:
    entries, signers = [], []
    for account in accounts:
        keys = AccountKeys(session, AccountScope(account.id), clock, node_secret)
        signers.append(keys.current())
        entries.append(
            {
                "id": account.id,
                "name": account.name,
                "keys": [key_listing(row) for row in keys.listed()],
            }
        )
    document = {"node": node_url, "issued_at": clock.now().isoformat(), "accounts": entries}
    if not signers:
        return {"document": document, "signatures": []}
    signed = sign_document(document, signers[0].signing, str(signers[0].ref), DESCRIPTOR)
    for signer in signers[1:]:
        signed = countersign(signed, signer.signing, str(signer.ref), DESCRIPTOR)
    return signed


def account_in_descriptor(
    signed: Any, account_id: str, keyid: str, key: VerifyKey
) -> dict[str, Any]:
    """The account's entry, if the descriptor is signed by the key we pinned for it."""
    document = verify_document(signed, DESCRIPTOR, {keyid: key})
    for entry in document.get("accounts", []):
        if isinstance(entry, dict) and entry.get("id") == account_id:
            return entry
    raise SignatureError("key_unknown", f"the node does not list account {account_id}")


@dataclass(frozen=True)
class InvitedPeer:
    """The invited account as its node's descriptor lists it, checked (``invited_peer``)."""

    ref: KeyRef
    key: VerifyKey
    name: str
    node: str  # the node's base URL as it names itself, without a trailing slash


def invited_peer(signed: Any, url: str, account: str, fingerprint: str) -> InvitedPeer:
    """The invitation's account in the descriptor fetched from ``url``: its current key
    with the invitation's ``fingerprint``, which must sign the descriptor, which must
    name the node at ``url``. ``ValidationFailed`` naming the invitation's field at fault
    otherwise (``node_url`` for a descriptor that is malformed, unsigned or another
    node's), never another error: the descriptor is the peer's word, untrusted."""
    keys = [
        (ref, key) for ref, key in _current_keys(signed, account) if key.fingerprint == fingerprint
    ]
    if not keys:
        raise ValidationFailed(
            "The peer's key does not match the invitation's fingerprint",
            errors={"fingerprint": ["no current key of that account has this fingerprint"]},
        )
    ref, key = keys[0]
    try:
        document = verify_document(signed, DESCRIPTOR, {str(ref): key})
    except SignatureError as exc:
        raise _not_the_node(f"the descriptor is not signed: {exc.code}") from exc
    node = document.get("node")
    if not isinstance(node, str) or not same_node(node, url):
        raise _not_the_node("the node at this URL names itself another node in its descriptor")
    name = _entry(document, account).get("name")
    shown = name if isinstance(name, str) and name.strip() else account
    return InvitedPeer(ref, key, shown, node.rstrip("/"))


def same_node(url: str, other: str) -> bool:
    """Whether two base URLs name one node, spelling aside: the scheme's and the host's
    case, a default port written out or left out, a trailing slash. Anything else (the
    host, the port, the scheme, the path) makes another node; so does a URL that is not
    a plain http(s) base URL at all (credentials, a query, a fragment)."""
    identity = _node_identity(url)
    return identity is not None and identity == _node_identity(other)


def is_node_url(url: str) -> bool:
    """Whether ``url`` is a plain http(s) base URL (``same_node`` can compare it)."""
    return _node_identity(url) is not None


def _node_identity(url: str) -> tuple[str, str, int, str] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except (ValueError, TypeError, AttributeError):
        return None
    scheme = parts.scheme.lower()
    if (
        scheme not in DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.query
        or parts.fragment
    ):
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme], parts.path.rstrip("/")


def _current_keys(signed: Any, account: str) -> list[tuple[KeyRef, VerifyKey]]:
    """The account's current keys as the (not yet verified) descriptor lists them; a
    listing that is not a well-formed key is skipped."""
    document = signed.get("document") if isinstance(signed, dict) else None
    if not isinstance(document, dict) or not isinstance(document.get("accounts"), list):
        raise _not_the_node("the node's descriptor is malformed")
    keys = _entry(document, account).get("keys")
    found = []
    for listed in keys if isinstance(keys, list) else []:
        if not isinstance(listed, dict) or listed.get("status") != "current":
            continue
        try:
            ref = KeyRef(account, listed["key_id"])
            found.append((ref, VerifyKey.from_b64url(listed["public_key"])))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def _entry(document: dict[str, Any], account: str) -> dict[str, Any]:
    accounts = document.get("accounts")
    for entry in accounts if isinstance(accounts, list) else []:
        if isinstance(entry, dict) and entry.get("id") == account:
            return entry
    raise ValidationFailed(errors={"account": ["the node does not host this account"]})


def _not_the_node(why: str) -> ValidationFailed:
    return ValidationFailed(errors={"node_url": [why]})
