"""A suspected key compromise: on the account's own side the key is revoked, neither
listed nor used to sign, and pending notices are set aside; on a peer's side the key
confirmed out of band is pinned and every other key of that account stops verifying."""

from __future__ import annotations

from datetime import timedelta

import pytest

from account_node.audit.service import Actor
from account_node.context import Work
from account_node.db import db
from account_node.identity.models import Account
from account_node.tenancy import AccountScope
from tests.factories.accounts import make_account
from tests.factories.keys import account_keys, keyring
from trust.crypto.errors import SignatureError
from trust.crypto.keys import KeyRef, SigningKey
from trust.descriptor import account_in_descriptor, build_descriptor
from trust.handshake import Handshake, TrustStore
from trust.models import KEY_NOTICE, OutboxMessage, Trust
from trust.outbox import Outbox, OutboxStore
from trust.rotation import queue_notices, rotate_compromised

NODE = "http://msp.example"


def test_a_compromised_key_is_revoked_not_listed_and_never_signs_again(app):
    msp = make_account(app, kind="msp")
    with app.app_context():
        old = account_keys(app, msp.id).current()
        revoked, new = account_keys(app, msp.id).replace_compromised()

        keys = account_keys(app, msp.id)
        assert revoked == str(old.ref) and keys.current().ref == new.ref
        assert [(row.key_id, row.status) for row in keys.listed()] == [(new.ref.key_id, "current")]
        with pytest.raises(LookupError):
            keys.own(old.ref.key_id)  # not even for a notice still queued
        node = app.extensions["trustdesk"]
        account = db.session.get(Account, msp.id)
        signed = build_descriptor(
            db.session(), node.clock, NODE, app.config["SECRET_KEY"], [account]
        )
        entry = account_in_descriptor(signed, msp.id, str(new.ref), new.signing.verify_key)
        assert [k["key_id"] for k in entry["keys"]] == [new.ref.key_id]
        assert [s["keyid"] for s in signed["signatures"]] == [str(new.ref)]
        db.session.rollback()


def test_a_compromise_rotation_sets_pending_key_notices_aside_and_announces_nothing(app):
    customer = make_account(app)
    node = app.extensions["trustdesk"]
    with app.app_context():
        actor = Actor(customer.admin.id, customer.id, "Ada Admin")
        work = Work(
            db.session(), AccountScope(customer.id), actor, node.clock, node.jobs, node.settings
        )
        handshake = Handshake(work, "http://customer.example", app.config["SECRET_KEY"], None)  # type: ignore[arg-type]
        TrustStore(work.session, work.scope).add(_trust(customer.id, work))
        [pending] = queue_notices(Outbox(work), handshake.keys.rotate())

        report = rotate_compromised(handshake)

        assert report.compromised and report.confirm_with == ["msp"]
        assert report.fingerprint == handshake.keys.current().signing.verify_key.fingerprint
        messages = OutboxStore(work.session, work.scope).pending_key_notices(NODE, "msp")
        assert messages == []  # superseded, and no notice of the new key
        set_aside = work.session.get(OutboxMessage, pending.id)
        assert set_aside.abandoned_at is not None and set_aside.precedence == KEY_NOTICE
        assert "superseded" in set_aside.last_error
        db.session.rollback()


def _trust(account_id: str, work: Work) -> Trust:
    return Trust(
        id=f"trust-{account_id}"[:32],
        role="trusting",
        peer_account="msp",
        peer_node=NODE,
        status="active",
        agreement={"document": {}, "signatures": []},
        created_at=work.clock.now(),
    )


def test_a_confirmed_key_is_pinned_and_every_other_key_of_the_peer_is_revoked(app, clock):
    customer = make_account(app)
    old, rotated, new = (SigningKey.generate() for _ in range(3))
    with app.app_context():
        ring = keyring(app, customer.id)
        ring.pin(KeyRef("msp", "k1"), old.verify_key, NODE, "handshake")
        ring.pin(KeyRef("msp", "k2"), rotated.verify_key, NODE, "rotation")
        signed_while_valid = clock.now()
        clock.advance(timedelta(seconds=5))

        confirmed = ring.confirm(KeyRef("msp", "k3"), new.verify_key, NODE)

        assert confirmed.fresh and confirmed.revoked == ["msp#k1", "msp#k2"]
        assert confirmed.pinned.source == "confirmed"
        ring = keyring(app, customer.id)
        assert ring.resolve("msp#k3") == new.verify_key
        assert ring.resolve("msp#k2") is None
        assert ring.resolve("msp#k1", at=signed_while_valid) is None  # even inside its window
        again = ring.confirm(KeyRef("msp", "k3"), new.verify_key, NODE)
        assert not again.changed
        with pytest.raises(SignatureError) as caught:
            ring.confirm(KeyRef("msp", "k1"), old.verify_key, NODE)
        assert caught.value.code == "key_revoked"  # a revoked key is never valid again
        with pytest.raises(SignatureError) as caught:
            ring.confirm(KeyRef("msp", "k4"), old.verify_key, NODE)
        assert caught.value.code == "key_revoked"  # under another id neither
        db.session.rollback()


def test_a_confirmed_key_takes_its_id_back_from_a_key_pinned_under_it(app):
    """The thief's squat: a rotation signed with a stolen key pinned a key of the
    thief's own under the id the peer's real new key has. The confirmation wins."""
    customer = make_account(app)
    stolen, thief, real = (SigningKey.generate() for _ in range(3))
    with app.app_context():
        ring = keyring(app, customer.id)
        ring.pin(KeyRef("msp", "k1"), stolen.verify_key, NODE, "handshake")
        ring.pin(KeyRef("msp", "k2"), thief.verify_key, NODE, "rotation")

        confirmed = ring.confirm(KeyRef("msp", "k2"), real.verify_key, NODE)

        assert confirmed.replaced and confirmed.changed and confirmed.revoked == ["msp#k1"]
        ring = keyring(app, customer.id)
        assert ring.resolve("msp#k2") == real.verify_key
        assert ring.resolve("msp#k1") is None
        db.session.rollback()


def test_once_a_new_key_is_confirmed_a_notice_signed_by_the_old_one_is_refused(app):
    """A thief holding the old key could sign a routine notice introducing a key of its
    own; once the peer confirmed the real new key, the old one is revoked and accepts
    nothing."""
    msp, customer = make_account(app, kind="msp"), make_account(app)
    confirmed = SigningKey.generate()
    with app.app_context():
        stolen = account_keys(app, msp.id).current()
        notice = account_keys(app, msp.id).rotate()  # signed by the stolen key and the thief's
        ring = keyring(app, customer.id)  # (a store acts for the account last bound)
        ring.pin(stolen.ref, stolen.signing.verify_key, NODE, "handshake")
        ring.confirm(KeyRef(msp.id, "k-confirmed"), confirmed.verify_key, NODE)

        with pytest.raises(SignatureError) as caught:
            keyring(app, customer.id).accept_rotation(notice)
        assert caught.value.code == "key_unknown"
        assert keyring(app, customer.id).resolve(notice["document"]["new"]) is None
        db.session.rollback()
