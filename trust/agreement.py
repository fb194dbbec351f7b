"""The signed trust agreement (DESIGN section 5): building it and checking it.

The agreement is RFC 8785 canonical JSON signed as a ``trust-agreement`` document
(trust.crypto.documents): id, revision, both accounts with their nodes and keys, the
scopes granted, start, optional end. The trusting account signs it to propose; the
trusted account countersigns it to accept; both nodes keep it with both signatures.

Everything in an agreement that arrives from a peer is untrusted until checked here:
each party must name a well-formed key that is its own account's (``party_key``), and
the signatures must verify with the keys the reader holds for the parties, never with a
key the document merely brings along for a party the reader has not checked.

A countersignature may come from a newer key of the trusted account than the one the
agreement names: the trusted account rotated its key while the proposal waited. Its
proposer accepts it only from a key its keyring holds for that account at that node,
which is to say a key the named key vouched for by a rotation notice signed by both
(``verify_countersigned``); the agreement's terms, named keys included, do not change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from trust.crypto.documents import verify_document
from trust.crypto.errors import SignatureError
from trust.crypto.keys import KeyRef, VerifyKey
from trust.descriptor import is_node_url
from trust.errors import FederationRefused
from trust.keystore import OwnKey

AGREEMENT = "trust-agreement"
SCOPES = ["requests:read", "requests:act", "events:send"]
# What each side of an agreement must name, as text (``name`` is for people only).
PARTY_FIELDS = ("account", "node", "keyid", "public_key", "fingerprint")
# Fits trusts.id (40) and trust_invitations.trust_id (32); ours are trust-<16 hex>.
TRUST_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
NODE_URL_MAX = 300  # trusts.peer_node, pinned_keys.peer_node


def draft(
    trust_id: str,
    trusting: dict[str, str],
    trusted: dict[str, str],
    start: str,
    proposed_by: dict[str, str],
) -> dict[str, Any]:
    """A first revision, to be signed by the trusting side (``party`` makes each side)."""
    return {
        "id": trust_id,
        "revision": 1,
        "trusting": trusting,
        "trusted": trusted,
        "scopes": SCOPES,
        "start": start,
        "end": None,
        "proposed_by": proposed_by,
    }


def party(account: str, name: str, node: str, ref: KeyRef, key: VerifyKey) -> dict[str, str]:
    """One side of an agreement; ``name`` is for people (inbox, trust pages), never for
    checks, which go by account id and key."""
    return {
        "account": account,
        "name": name[:200],
        "node": node,
        "keyid": str(ref),
        "public_key": key.to_b64url(),
        "fingerprint": key.fingerprint,
    }


def party_key(side: Any) -> VerifyKey:
    """The key one side of an agreement names, checked: well formed, matching its
    fingerprint, and a key of that very side's account (``<account>#<key id>``). Without
    that check a proposer could have its own key pinned under another account's id and
    then sign calls as that account. The side's node must be an http(s) base URL that
    fits where it is kept (else a proposal would fail as it is stored)."""
    if not isinstance(side, dict) or not all(isinstance(side.get(f), str) for f in PARTY_FIELDS):
        raise FederationRefused("a party of the agreement is malformed", reason="agreement_invalid")
    try:
        key = VerifyKey.from_b64url(side["public_key"])
        ref = KeyRef.parse(side["keyid"])
    except (TypeError, ValueError) as exc:
        raise FederationRefused(
            "the agreement names no valid key", reason="agreement_invalid"
        ) from exc
    if ref.account != side["account"]:
        raise FederationRefused(
            "a party's key belongs to another account", reason="agreement_invalid"
        )
    if key.fingerprint != side["fingerprint"]:
        raise FederationRefused("a key does not match its fingerprint", reason="agreement_invalid")
    if len(side["node"]) > NODE_URL_MAX or not is_node_url(side["node"]):
        raise FederationRefused("a party's node is not a node URL", reason="agreement_invalid")
    return key


def check_proposal(
    signed: dict[str, Any], account: str, own: OwnKey
) -> tuple[str, dict[str, str], VerifyKey]:
    """A proposal's agreement as ``account`` (whose current key is ``own``) receives it:
    naming this account as the trusted side, a valid id, another account as the trusting
    side, and signed by the key that side names. Returns the trust id, the trusting side
    and its key, with which the caller then authenticates the call that brought it."""
    agreement = signed["document"]
    trusting = agreement.get("trusting")
    _check_names(agreement.get("trusted"), account, own)
    their_key = party_key(trusting)
    trust_id = agreement.get("id")
    if not isinstance(trust_id, str) or not TRUST_ID.fullmatch(trust_id):
        raise FederationRefused("the agreement has no valid id", reason="agreement_invalid")
    if trusting["account"] == account:
        raise FederationRefused("an account cannot trust itself", reason="agreement_invalid")
    verify_agreement(signed, {trusting["keyid"]: their_key})
    return trust_id, trusting, their_key


def _check_names(trusted: Any, account: str, own: OwnKey) -> None:
    """The agreement's trusted side must be ``account`` with its current key: the key
    itself, not only its id, since that account is to countersign the document and both
    sides keep it as the terms of the trust."""
    if (
        not isinstance(trusted, dict)
        or trusted.get("account") != account
        or trusted.get("keyid") != str(own.ref)
        or trusted.get("public_key") != own.signing.verify_key.to_b64url()
    ):
        raise FederationRefused(
            "the agreement does not name this account's key", reason="agreement_mismatch"
        )
    party_key(trusted)  # and is well formed throughout (its fingerprint, its node)


def signed_agreement(body: dict[str, Any]) -> dict[str, Any]:
    """The signed agreement a handshake call carries (``agreement``), in shape only."""
    signed = body.get("agreement")
    if not isinstance(signed, dict) or not isinstance(signed.get("document"), dict):
        raise FederationRefused("no signed agreement in the body", reason="agreement_invalid")
    return signed


def verify_agreement(signed: Any, required: dict[str, VerifyKey]) -> None:
    """Every party in ``required`` (key id to the key this reader holds for it) signed."""
    try:
        verify_document(signed, AGREEMENT, required)
    except SignatureError as exc:
        raise FederationRefused(exc.detail, reason=exc.code) from exc


def verify_countersigned(
    signed: dict[str, Any], vouched: Callable[[str], VerifyKey | None]
) -> None:
    """Check a countersigned agreement as its proposer: signed by the trusting side's
    named key, and by the trusted side's named key or, if that side rotated since, by
    the one key of the trusted account that ``vouched`` gives (the proposer's keyring:
    valid now, pinned from the trust's node through the rotation's notices)."""
    parties = signed["document"]
    trusting_key, trusted_key = (
        party_key(parties.get("trusting")),
        party_key(parties.get("trusted")),
    )
    trusting, trusted = parties["trusting"], parties["trusted"]
    required = {trusting["keyid"]: trusting_key}
    signers = _signers_of(signed, trusted["account"])
    if trusted["keyid"] in signers or not signers:
        required[trusted["keyid"]] = trusted_key
    elif len(signers) == 1 and (newer := vouched(signers[0])) is not None:
        required[signers[0]] = newer
    else:
        raise FederationRefused(
            "the agreement is countersigned by a key the trusted account never vouched for",
            reason="key_unknown",
        )
    verify_agreement(signed, required)


def _signers_of(signed: dict[str, Any], account: str) -> list[str]:
    """The key ids of ``account`` among the signatures, as given (verified later)."""
    entries = signed.get("signatures")
    found = []
    for entry in entries if isinstance(entries, list) else []:
        keyid = entry.get("keyid") if isinstance(entry, dict) else None
        if isinstance(keyid, str) and keyid.startswith(f"{account}#"):
            found.append(keyid)
    return found
