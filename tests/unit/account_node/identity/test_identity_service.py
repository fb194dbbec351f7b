"""People and teams: domain validation naming each field, e-mails unique per account, an
account never left without an admin, and an audit event for every change."""

from __future__ import annotations

import pytest

from account_node.context import Work
from account_node.db import db, new_id
from account_node.errors import Conflict, ValidationFailed
from account_node.identity.authentication import principal_of
from account_node.identity.models import Team, TeamMember
from account_node.identity.service import People, Teams
from account_node.identity.store import PeopleStore, PersonNotFound, TeamNotFound
from account_node.tenancy import AccountScope
from tests.factories.accounts import make_account


@pytest.fixture
def node(app):
    return app.extensions["trustdesk"]


def work_as(node, account, role: str = "admin") -> Work:
    person = PeopleStore(db.session, AccountScope(account.id)).get(account.members[role].id)
    who = principal_of(person, "test")
    return Work(db.session, who.scope, who.actor, node.clock, node.jobs, node.settings, who.roles)


def events_after(work: Work, seq: int) -> list[tuple[str, str]]:
    """(action, target id) of the events recorded after ``seq``, oldest first."""
    return [(e.action, e.target_id) for e in reversed(work.audit.page(limit=100)) if e.seq > seq]


def head_seq(work: Work) -> int:
    return work.audit.store.head().seq


# People


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", "two@@example.test"),
        ("email", "no-domain@localhost"),
        ("name", "   "),
        ("roles", ["wizard"]),
        ("roles", []),
        ("time_zone", "Mars/Olympus_Mons"),
        ("password", "short"),
    ],
)
def test_creating_a_person_with_one_bad_field_names_that_field(app, node, field, value):
    account = make_account(app)
    good = {"email": "new@example.test", "name": "New", "roles": ["end_user"]}
    with app.app_context():
        people = People(work_as(node, account), node.passwords)
        with pytest.raises(ValidationFailed) as caught:
            people.create(**{**good, field: value})
        assert list(caught.value.errors) == [field]
        db.session.rollback()


def test_every_bad_field_is_named_at_once(app, node):
    account = make_account(app)
    with app.app_context():
        people = People(work_as(node, account), node.passwords)
        with pytest.raises(ValidationFailed) as caught:
            people.create("x", "", ["admin", "king"], password="123", time_zone="Nowhere/City")
        assert set(caught.value.errors) == {"email", "name", "roles", "password", "time_zone"}
        assert caught.value.errors["roles"] == [
            "unknown roles king; roles are admin, specialist, end_user, auditor"
        ]
        db.session.rollback()


def test_a_new_person_is_normalised_and_audited_without_their_password(app, node):
    account = make_account(app)
    with app.app_context():
        work = work_as(node, account)
        before = head_seq(work)
        person = People(work, node.passwords).create(
            "Grace@Example.TEST",
            "  Grace Hopper ",
            ["specialist", "auditor", "specialist"],
            password="a-long-enough-password",
            time_zone="Europe/Amsterdam",
        )
        assert (person.email, person.name, person.roles) == (
            "grace@example.test",
            "Grace Hopper",
            ["auditor", "specialist"],
        )
        assert person.password_hash.startswith("$argon2id$")
        assert events_after(work, before) == [("person.create", person.id)]
        event = work.audit.page(limit=1)[0]
        assert event.after == {
            "email": "grace@example.test",
            "name": "Grace Hopper",
            "roles": ["auditor", "specialist"],
            "active": True,
            "time_zone": "Europe/Amsterdam",
        }
        assert event.actor_id == account.admin.id
        db.session.rollback()


def test_an_email_taken_in_the_account_is_refused_whatever_its_case(app, node):
    account = make_account(app)
    with app.app_context():
        people = People(work_as(node, account), node.passwords)
        with pytest.raises(ValidationFailed) as caught:
            people.create(account.specialist.email.upper(), "Twin", ["end_user"])
        assert caught.value.errors == {
            "email": ["a person with this e-mail already exists in this account"]
        }
        db.session.rollback()


def test_the_same_email_may_be_used_in_another_account(app, node):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        person = People(work_as(node, theirs), node.passwords).create(
            mine.specialist.email, "Namesake", ["end_user"]
        )
        assert (person.account_id, person.email) == (theirs.id, mine.specialist.email)
        db.session.rollback()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"roles": ["specialist"]}, id="demoted"),
        pytest.param({"active": False}, id="deactivated"),
        pytest.param({"roles": ["auditor"], "active": False}, id="both"),
    ],
)
def test_the_last_admin_cannot_be_demoted_or_deactivated(app, node, change):
    account = make_account(app)
    with app.app_context():
        work = work_as(node, account)
        before = head_seq(work)
        with pytest.raises(Conflict, match="at least one active admin"):
            People(work, node.passwords).update(account.admin.id, **change)
        assert events_after(work, before) == []
        db.session.rollback()


def test_an_admin_may_step_down_once_another_admin_exists(app, node):
    account = make_account(app)
    with app.app_context():
        work = work_as(node, account)
        people = People(work, node.passwords)
        people.update(account.specialist.id, roles=["specialist", "admin"])
        before = head_seq(work)
        person = people.update(account.admin.id, roles=["auditor"])
        assert person.roles == ["auditor"]
        assert events_after(work, before) == [("person.update", account.admin.id)]
        event = work.audit.page(limit=1)[0]
        assert (event.before["roles"], event.after["roles"]) == (["admin"], ["auditor"])
        with pytest.raises(Conflict):
            people.update(account.specialist.id, active=False)
        db.session.rollback()


def test_an_inactive_admin_does_not_count_as_the_remaining_admin(app, node):
    account = make_account(app)
    with app.app_context():
        people = People(work_as(node, account), node.passwords)
        people.update(account.specialist.id, roles=["admin"])
        people.update(account.specialist.id, active=False)
        with pytest.raises(Conflict):
            people.update(account.admin.id, roles=["end_user"])
        db.session.rollback()


def test_updating_a_person_of_another_account_is_not_found(app, node):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        with pytest.raises(PersonNotFound):
            People(work_as(node, mine), node.passwords).update(theirs.admin.id, name="Mallory")
        db.session.rollback()


# Teams


def test_creating_a_team_is_audited_with_its_snapshot(app, node):
    account = make_account(app)
    with app.app_context():
        work = work_as(node, account)
        before = head_seq(work)
        team = Teams(work).create("  Service Desk ", "First line", shares_requests=True)
        assert (team.name, team.account_id, team.members) == ("Service Desk", account.id, [])
        assert events_after(work, before) == [("team.create", team.id)]
        assert work.audit.page(limit=1)[0].after == {
            "name": "Service Desk",
            "description": "First line",
            "shares_requests": True,
        }
        db.session.rollback()


@pytest.mark.parametrize("name", ["", "   "])
def test_a_team_needs_a_name(app, node, name):
    account = make_account(app)
    with app.app_context():
        with pytest.raises(ValidationFailed) as caught:
            Teams(work_as(node, account)).create(name)
        assert caught.value.errors == {"name": ["must not be empty"]}
        db.session.rollback()


def test_team_names_are_unique_in_an_account_but_not_across_accounts(app, node):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        Teams(work_as(node, mine)).create("NOC")
        with pytest.raises(ValidationFailed) as caught:
            Teams(work_as(node, mine)).create(" NOC ")
        assert caught.value.errors == {"name": ["a team with this name already exists"]}
        assert Teams(work_as(node, theirs)).create("NOC").account_id == theirs.id
        db.session.rollback()


def test_renaming_a_team_is_audited_and_refuses_a_taken_name(app, node):
    account = make_account(app)
    with app.app_context():
        work = work_as(node, account)
        teams = Teams(work)
        noc, _ = teams.create("NOC"), teams.create("Desk")
        before = head_seq(work)
        renamed = teams.update(noc.id, name="Network Operations", description="24/7")
        assert (renamed.name, renamed.description) == ("Network Operations", "24/7")
        assert events_after(work, before) == [("team.update", noc.id)]
        event = work.audit.page(limit=1)[0]
        assert (event.before["name"], event.after["name"]) == ("NOC", "Network Operations")

        with pytest.raises(ValidationFailed) as caught:
            teams.update(noc.id, name="Desk")
        assert "name" in caught.value.errors
        db.session.rollback()


def test_keeping_a_teams_name_while_changing_the_rest_is_allowed(app, node):
    account = make_account(app)
    with app.app_context():
        teams = Teams(work_as(node, account))
        team = teams.create("NOC")
        assert teams.update(team.id, name="NOC", shares_requests=True).shares_requests is True
        db.session.rollback()


def test_adding_and_removing_a_member_are_audited(app, node):
    account = make_account(app)
    with app.app_context():
        work = work_as(node, account)
        teams = Teams(work)
        team = teams.create("NOC")
        before = head_seq(work)

        team = teams.add_member(team.id, account.specialist.id)
        assert [p.id for p in team.members] == [account.specialist.id]
        teams.add_member(team.id, account.specialist.id)  # again: nothing changes
        team = teams.remove_member(team.id, account.specialist.id)
        assert team.members == []

        assert events_after(work, before) == [
            ("team.member_add", team.id),
            ("team.member_remove", team.id),
        ]
        add, remove = reversed(work.audit.page(limit=2))
        assert add.after == {"person_id": account.specialist.id}
        assert remove.before == {"person_id": account.specialist.id}
        db.session.rollback()


def test_removing_someone_who_is_not_a_member_is_not_found(app, node):
    account = make_account(app)
    with app.app_context():
        teams = Teams(work_as(node, account))
        team = teams.create("NOC")
        with pytest.raises(PersonNotFound):
            teams.remove_member(team.id, account.specialist.id)
        db.session.rollback()


def test_a_person_of_another_account_cannot_join_a_team(app, node):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        teams = Teams(work_as(node, mine))
        team = teams.create("NOC")
        with pytest.raises(ValidationFailed) as caught:
            teams.add_member(team.id, theirs.specialist.id)
        assert caught.value.errors == {"person_id": ["no such person in this account"]}
        db.session.rollback()


def test_a_team_is_not_created_with_someone_of_another_account_among_its_members(app, node):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        work = work_as(node, mine)
        before = head_seq(work)
        with pytest.raises(ValidationFailed) as caught:
            Teams(work).create("NOC", member_ids=[mine.specialist.id, theirs.specialist.id])
        assert caught.value.errors == {"member_ids.1": ["no such person in this account"]}
        assert events_after(work, before) == []
        db.session.rollback()


def test_a_team_created_with_members_audits_each_of_them(app, node):
    account = make_account(app)
    with app.app_context():
        work = work_as(node, account)
        before = head_seq(work)
        members = [account.specialist.id, account.end_user.id]
        team = Teams(work).create("Desk", member_ids=members)
        assert sorted(p.id for p in team.members) == sorted(members)
        assert events_after(work, before) == [
            ("team.create", team.id),
            ("team.member_add", team.id),
            ("team.member_add", team.id),
        ]
        db.session.rollback()


def test_deleting_a_team_removes_its_memberships_and_is_audited(app, node):
    account = make_account(app)
    with app.app_context():
        work = work_as(node, account)
        teams = Teams(work)
        team = teams.create("NOC", description="net", member_ids=[account.specialist.id])
        team_id = team.id
        before = head_seq(work)
        teams.delete(team_id)
        assert events_after(work, before) == [("team.delete", team_id)]
        assert work.audit.page(limit=1)[0].before == {
            "name": "NOC",
            "description": "net",
            "shares_requests": False,
        }
        assert db.session.get(Team, team_id) is None
        assert db.session.get(TeamMember, (team_id, account.specialist.id)) is None
        with pytest.raises(TeamNotFound):
            teams.get(team_id)
        db.session.rollback()


def test_a_team_of_another_account_is_not_found(app, node):
    mine, theirs = make_account(app), make_account(app)
    with app.app_context():
        their_team = Teams(work_as(node, theirs)).create("Theirs")
        mine_teams = Teams(work_as(node, mine))
        for action in (
            lambda: mine_teams.get(their_team.id),
            lambda: mine_teams.update(their_team.id, name="Mine now"),
            lambda: mine_teams.delete(their_team.id),
            lambda: mine_teams.add_member(their_team.id, mine.specialist.id),
            lambda: mine_teams.get(new_id()),
        ):
            with pytest.raises(TeamNotFound):
                action()
        db.session.rollback()
