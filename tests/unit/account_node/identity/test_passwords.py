"""Passwords are hashed with argon2id; a login for nobody costs what a wrong password costs."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from account_node.identity.passwords import MIN_LENGTH, Passwords, password_problems

PASSWORDS = Passwords(time_cost=1, memory_kib=1024)
SECRET = "correct horse battery staple"


@pytest.fixture
def verifications(monkeypatch) -> list[str]:
    """Every argon2 verification made, by the hash it was made against."""
    made: list[str] = []
    real_verify = PasswordHasher.verify

    def counting(self, hash, password):
        made.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return made


def test_a_hash_is_argon2id_with_the_configured_cost():
    assert PASSWORDS.hash(SECRET).startswith("$argon2id$v=19$m=1024,t=1,p=1$")


def test_the_same_password_hashes_differently_each_time_and_both_verify():
    first, second = PASSWORDS.hash(SECRET), PASSWORDS.hash(SECRET)
    assert first != second
    assert PASSWORDS.verify(first, SECRET) and PASSWORDS.verify(second, SECRET)


@pytest.mark.parametrize(
    "attempt", ["Correct horse battery staple", "correct horse battery", "", SECRET + " "]
)
def test_a_wrong_password_does_not_verify(attempt):
    assert PASSWORDS.verify(PASSWORDS.hash(SECRET), attempt) is False


def test_an_unknown_person_still_costs_one_verification_and_is_refused(verifications):
    assert PASSWORDS.verify(None, SECRET) is False
    assert len(verifications) == 1
    assert verifications[0].startswith("$argon2id$")


def test_a_wrong_password_costs_exactly_one_verification_too(verifications):
    stored = PASSWORDS.hash(SECRET)
    assert PASSWORDS.verify(stored, "wrong password") is False
    assert verifications == [stored]


def test_the_dummy_behind_unknown_people_opens_no_account():
    # Whatever password happens to match the internal dummy hash, nobody is logged in.
    assert PASSWORDS.verify(None, "not-a-real-password-0") is False
    assert PASSWORDS.verify("", "not-a-real-password-0") is False


@pytest.mark.parametrize("stored", ["not-a-hash", "$argon2id$v=19$broken", "$2b$12$bcrypt"])
def test_a_stored_value_that_is_not_a_hash_is_refused_not_raised(stored):
    assert PASSWORDS.verify(stored, SECRET) is False


def test_only_a_hash_made_with_weaker_settings_needs_rehashing():
    stored = PASSWORDS.hash(SECRET)
    assert not PASSWORDS.needs_rehash(stored)
    assert Passwords(time_cost=2, memory_kib=2048).needs_rehash(stored)


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("", [f"must be at least {MIN_LENGTH} characters"]),
        ("x" * (MIN_LENGTH - 1), ["must be at least 10 characters"]),
        ("x" * MIN_LENGTH, []),
        ("x" * 256, []),
        ("x" * 257, ["must be at most 256 characters"]),
        ("pässwörd-ünïcode", []),
    ],
)
def test_password_problems_names_each_broken_rule(password, problems):
    assert password_problems(password) == problems
