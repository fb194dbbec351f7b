"""Confirming a peer's new key after its suspected compromise (DESIGN section 5).

A peer that suspects its key was stolen rotates without a notice (trust.rotation): a
notice signed by the stolen key would prove nothing. Its admin hands the new key's
fingerprint to ours out of band, and ours enters it here. The fingerprint is the trust
anchor, as an invitation's is in the handshake: the peer's descriptor, fetched from the
node the trust names and untrusted until checked (``invited_peer``), must list a current
key of the peer account with exactly that fingerprint and be signed by it. That key is
pinned and every other key of the peer account revoked (``Keyring.confirm``), so the stolen
key stops verifying at once. Nothing changes unless all of that holds; the descriptor is
fetched before anything is written.
"""

from __future__ import annotations

from typing import Any

from account_node.errors import ValidationFailed
from trust.crypto.errors import SignatureError
from trust.descriptor import invited_peer
from trust.errors import TrustConflict
from trust.handshake import Handshake

NO_SUCH_KEY = "The peer's node offers no current key of the account with this fingerprint"


def confirm_peer_key(handshake: Handshake, trust_id: str, fingerprint: str) -> dict[str, Any]:
    """Pin the key of ``trust_id``'s peer with ``fingerprint`` and revoke its others.

    ``TrustNotFound`` (404) for a trust this account does not have, ``TrustConflict``
    (409) for one that is not active,
    ``ValidationFailed`` (422, naming ``fingerprint``) if the peer's descriptor does not
    bear the fingerprint out, the peer client's ``PeerUnavailable`` and kin if the peer
    cannot be asked. Audited (``key.peer_confirmed``) when it changes anything."""
    trust = handshake.trusts.get(trust_id)
    if trust.status != "active":
        raise TrustConflict(f"trust {trust_id} is {trust.status}")
    descriptor = handshake.peers.get_json(f"{trust.peer_node}/.well-known/trustdesk-node")
    try:
        peer = invited_peer(descriptor, trust.peer_node, trust.peer_account, fingerprint)
    except ValidationFailed as exc:
        reasons = [reason for listed in exc.errors.values() for reason in listed]
        raise ValidationFailed(NO_SUCH_KEY, errors={"fingerprint": reasons}) from exc
    try:
        confirmed = handshake.keyring.confirm(peer.ref, peer.key, trust.peer_node)
    except SignatureError as exc:  # this very key was revoked here: never valid again
        raise ValidationFailed(NO_SUCH_KEY, errors={"fingerprint": [exc.detail]}) from exc
    if confirmed.changed:
        handshake.work.record(
            "key.peer_confirmed",
            "pinned_key",
            str(peer.ref),
            after={
                "peer": trust.peer_account,
                "trust": trust.id,
                "fingerprint": fingerprint,
                "revoked": confirmed.revoked,
                "replaced_another_key": confirmed.replaced,
            },
        )
    return {
        "trust_id": trust.id,
        "peer_account": trust.peer_account,
        "key": str(peer.ref),
        "fingerprint": fingerprint,
        "revoked": confirmed.revoked,
    }
