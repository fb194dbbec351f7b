"""Account keys, the keyring of pinned peer keys, and the signed node descriptor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from account_node.db import db
from tests.factories.accounts import make_account
from tests.factories.keys import account_keys, keyring
from trust.crypto.documents import sign_document
from trust.crypto.errors import SignatureError
from trust.crypto.keys import KeyRef, SigningKey
from trust.descriptor import account_in_descriptor
from trust.keystore import ROTATION
from trust.models import AccountKey


def test_an_account_key_is_made_once_and_stored_encrypted(app):
    account = make_account(app)
    with app.app_context():
        first = account_keys(app, account.id).current()
        again = account_keys(app, account.id).current()
        assert first.ref == again.ref and first.ref.account == account.id
        assert first.signing.verify_key == again.signing.verify_key
        [row] = db.session.scalars(select(AccountKey)).all()
        assert "PRIVATE KEY" not in row.private_key
        db.session.commit()


def test_a_rotation_notice_is_signed_by_old_and_new_and_peers_accept_it(app, clock):
    msp, customer = make_account(app, kind="msp"), make_account(app)
    with app.app_context():
        old = account_keys(app, msp.id).current()
        ring = keyring(app, customer.id)
        ring.pin(old.ref, old.signing.verify_key, "http://msp.example", "handshake")
        signed_before = clock.now()
        clock.advance(timedelta(seconds=5))
        notice = account_keys(app, msp.id).rotate()
        new = account_keys(app, msp.id).current()
        assert new.ref != old.ref
        ring = keyring(app, customer.id)
        ring.accept_rotation(notice)
        assert ring.resolve(str(new.ref)) == new.signing.verify_key
        assert ring.resolve(str(old.ref)) is None  # rotated out: nothing new verifies
        assert ring.resolve(str(old.ref), at=signed_before) == old.signing.verify_key
        statuses = {row.key_id: row.status for row in account_keys(app, msp.id).listed()}
        assert statuses == {old.ref.key_id: "previous", new.ref.key_id: "current"}
        db.session.commit()


def test_a_rotation_not_signed_by_a_pinned_key_is_refused(app):
    msp, customer = make_account(app, kind="msp"), make_account(app)
    with app.app_context():
        intruder = SigningKey.generate()
        notice = sign_document(
            {"account": msp.id, "old": f"{msp.id}#k1", "new": f"{msp.id}#k2",
             "new_public_key": intruder.verify_key.to_b64url(), "at": "2026-01-01T00:00:00"},
            intruder, f"{msp.id}#k2", ROTATION,
        )  # fmt: skip
        with pytest.raises(SignatureError) as caught:
            keyring(app, customer.id).accept_rotation(notice)
        assert caught.value.code == "key_unknown"
        db.session.rollback()


def test_there_is_no_trust_on_first_use_and_revocation_is_immediate(app):
    customer = make_account(app)
    peer = SigningKey.generate()
    ref = KeyRef("peer-msp", "k1")
    with app.app_context():
        ring = keyring(app, customer.id)
        assert ring.resolve(str(ref)) is None
        ring.pin(ref, peer.verify_key, "http://peer.example", "handshake")
        assert ring.resolve(str(ref)) == peer.verify_key
        with pytest.raises(SignatureError) as caught:
            ring.pin(ref, SigningKey.generate().verify_key, "http://peer.example", "handshake")
        assert caught.value.code == "key_conflict"
        ring.revoke(str(ref))
        assert ring.resolve(str(ref)) is None
        db.session.rollback()


def test_pins_belong_to_the_account_that_made_them(app):
    first, second = make_account(app), make_account(app)
    peer = SigningKey.generate()
    with app.app_context():
        keyring(app, first.id).pin(KeyRef("peer", "k1"), peer.verify_key, "http://p", "handshake")
        assert keyring(app, second.id).resolve("peer#k1") is None
        db.session.rollback()


def test_the_node_descriptor_lists_each_account_signed_by_its_key(app, client):
    msp, customer = make_account(app, kind="msp"), make_account(app)
    with app.app_context():
        msp_key = account_keys(app, msp.id).current()
        db.session.commit()
    response = client.get("/.well-known/trustdesk-node")
    assert response.status_code == 200
    signed = response.get_json()
    assert signed["document"]["node"] == app.extensions["trustdesk"].settings.public_url
    entry = account_in_descriptor(signed, msp.id, str(msp_key.ref), msp_key.signing.verify_key)
    assert entry["keys"][0]["fingerprint"] == msp_key.signing.verify_key.fingerprint
    assert customer.id in {a["id"] for a in signed["document"]["accounts"]}
    signed["document"]["node"] = "https://evil.example"
    with pytest.raises(SignatureError):
        account_in_descriptor(signed, msp.id, str(msp_key.ref), msp_key.signing.verify_key)
