"""A peer's keyring receiving rotation notices: in a chain, and again after the first time.

The sender retries a notice until it hears success, so the same notice may come twice;
and a peer away during several rotations gets them together, oldest first.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from account_node.db import db
from tests.factories.accounts import make_account
from tests.factories.keys import account_keys, keyring
from trust.crypto.documents import countersign, sign_document
from trust.crypto.errors import SignatureError
from trust.crypto.keys import KeyRef, SigningKey
from trust.keystore import ROTATION

NODE = "http://msp.example"


@pytest.fixture
def pinned(app):
    """An MSP account and a customer that pinned the MSP's first key (as a handshake does)."""
    msp, customer = make_account(app, kind="msp"), make_account(app)
    with app.app_context():
        first = account_keys(app, msp.id).current()
        keyring(app, customer.id).pin(first.ref, first.signing.verify_key, NODE, "handshake")
        db.session.commit()
    return msp, customer


def test_a_notice_received_again_is_accepted_and_changes_nothing(app, clock, pinned):
    msp, customer = pinned
    with app.app_context():
        notice = account_keys(app, msp.id).rotate()
        first = keyring(app, customer.id).accept_rotation(notice)
        retired_at = keyring(app, customer.id).store.by_ref(_ref(notice, "old")).valid_until
        clock.advance(timedelta(seconds=30))

        again = keyring(app, customer.id).accept_rotation(notice)

        assert first.fresh and not again.fresh
        assert again.pinned.id == first.pinned.id and again.ref == notice["document"]["new"]
        old_row = keyring(app, customer.id).store.by_ref(_ref(notice, "old"))
        assert old_row.valid_until == retired_at  # not moved by the repeat
        db.session.rollback()


def test_a_repeat_is_verified_as_fully_as_the_first_notice(app, pinned):
    msp, customer = pinned
    with app.app_context():
        notice = account_keys(app, msp.id).rotate()
        keyring(app, customer.id).accept_rotation(notice)
        forged = {**notice, "signatures": [dict(s) for s in notice["signatures"]]}
        forged["signatures"][0]["sig"] = notice["signatures"][1]["sig"]  # old's, swapped

        with pytest.raises(SignatureError) as caught:
            keyring(app, customer.id).accept_rotation(forged)

        assert caught.value.code == "signature_invalid"
        db.session.rollback()


def test_a_repeat_naming_the_pinned_key_id_with_another_key_is_a_conflict(app, pinned):
    msp, customer = pinned
    with app.app_context():
        old = account_keys(app, msp.id).current()
        notice = account_keys(app, msp.id).rotate()
        keyring(app, customer.id).accept_rotation(notice)
        other = SigningKey.generate()
        document = {**notice["document"], "new_public_key": other.verify_key.to_b64url()}
        signed = sign_document(document, old.signing, str(old.ref), ROTATION)
        impostor = countersign(signed, other, document["new"], ROTATION)

        with pytest.raises(SignatureError) as caught:
            keyring(app, customer.id).accept_rotation(impostor)

        assert caught.value.code == "key_conflict"
        db.session.rollback()


def test_a_fork_from_a_rotated_out_key_is_refused(app, pinned):
    """The old key signed one rotation; a second one from it (to a key never pinned) is
    not a repeat, and the old key is no longer valid to start one."""
    msp, customer = pinned
    with app.app_context():
        old = account_keys(app, msp.id).current()
        notice = account_keys(app, msp.id).rotate()
        keyring(app, customer.id).accept_rotation(notice)
        elsewhere = SigningKey.generate()
        document = {
            "account": msp.id,
            "old": str(old.ref),
            "new": f"{msp.id}#k-fork",
            "new_public_key": elsewhere.verify_key.to_b64url(),
            "at": "2026-12-03T00:00:00+00:00",
        }
        signed = sign_document(document, old.signing, str(old.ref), ROTATION)
        fork = countersign(signed, elsewhere, document["new"], ROTATION)

        with pytest.raises(SignatureError) as caught:
            keyring(app, customer.id).accept_rotation(fork)

        assert caught.value.code == "key_unknown"
        db.session.rollback()


def test_a_chain_of_notices_accepted_in_order_ends_with_the_newest_key(app, pinned):
    msp, customer = pinned
    with app.app_context():
        chain = [account_keys(app, msp.id).rotate(), account_keys(app, msp.id).rotate()]
        ring = keyring(app, customer.id)

        accepted = [ring.accept_rotation(notice) for notice in chain]

        assert [a.fresh for a in accepted] == [True, True]
        assert ring.resolve(chain[1]["document"]["new"]) is not None
        assert ring.resolve(chain[0]["document"]["new"]) is None
        assert ring.resolve(chain[0]["document"]["old"]) is None
        db.session.rollback()


def _ref(notice, which: str) -> KeyRef:
    return KeyRef.parse(notice["document"][which])
