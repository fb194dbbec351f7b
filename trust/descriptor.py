"""The node descriptor at ``/.well-known/trustdesk-node`` (DESIGN section 5).

It names the node's base URL and, for each hosted account, its current keys and its
previous keys with the time they stopped being valid. It is one document signed by every
listed account's current key, so a peer that pinned any one of those accounts can check
that the node speaks for it, without trusting the transport.
"""

from __future__ import annotations

from typing import Any

from account_node.clock import Clock
from account_node.tenancy import AccountScope
from trust.crypto.documents import countersign, sign_document, verify_document
from trust.crypto.errors import SignatureError
from trust.crypto.keys import VerifyKey
from trust.keystore import AccountKeys, key_listing

DESCRIPTOR = "node-descriptor"


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
