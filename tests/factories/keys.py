"""An account's own keys and its keyring of peer keys, inside an app context."""

from __future__ import annotations

from flask import Flask

from account_node.db import db
from account_node.tenancy import AccountScope
from trust.keyring import Keyring
from trust.keystore import AccountKeys


def account_keys(app: Flask, account_id: str) -> AccountKeys:
    node = app.extensions["trustdesk"]
    return AccountKeys(db.session(), AccountScope(account_id), node.clock, app.config["SECRET_KEY"])


def keyring(app: Flask, account_id: str) -> Keyring:
    return Keyring(db.session(), AccountScope(account_id), app.extensions["trustdesk"].clock)
