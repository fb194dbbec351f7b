"""REST endpoints for the caller, people, teams and personal tokens."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from account_node.db import db
from account_node.errors import ValidationFailed
from account_node.http import NodeBlueprint as Blueprint
from account_node.http import PageArgs, node, page_body, require, work
from account_node.identity import schemas
from account_node.identity.accounts import Accounts
from account_node.identity.service import People, Teams, Tokens

READ_PEOPLE = ("admin", "specialist", "auditor")

me_api = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The caller")
users_api = Blueprint("users", __name__, url_prefix="/api/v1/users", description="People")
teams_api = Blueprint("teams", __name__, url_prefix="/api/v1/teams", description="Teams")


def _people() -> People:
    return People(work(), node().passwords)


# Named once: building the schema on every call to list them cost /me about 7 % of its CPU.
_PERSON_FIELDS = tuple(schemas.PersonOut().fields)


def _me_body(person: Any) -> dict[str, Any]:
    who = require()
    services = node()
    account = Accounts(
        db.session, services.clock, services.jobs, services.settings, services.passwords
    ).get(who.account_id)
    return {
        **{name: getattr(person, name) for name in _PERSON_FIELDS},
        "account": account,
        "via": who.via,
    }


@me_api.route("")
class Me(MethodView):
    @me_api.response(200, schemas.MeOut)
    def get(self) -> dict[str, Any]:
        """The authenticated person, their roles, teams and account."""
        return _me_body(_people().get(require().person_id))

    @me_api.arguments(schemas.MeUpdate)
    @me_api.response(200, schemas.MeOut)
    def patch(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change one's own name, time zone or password (the current one is required)."""
        people = _people()
        me = people.get(require().person_id)
        if "password" in changes:
            current = changes.pop("current_password", None) or ""
            if not node().passwords.verify(me.password_hash, current):
                raise ValidationFailed(errors={"current_password": ["does not match"]})
        changes.pop("current_password", None)
        return _me_body(people.update(me.id, **changes))


@me_api.route("/tokens")
class MyTokens(MethodView):
    @me_api.response(200, schemas.TokenOut(many=True))
    def get(self) -> list[Any]:
        """The caller's personal API tokens (never their secrets)."""
        return Tokens(work()).for_person(require().person_id)

    @me_api.arguments(schemas.TokenCreate)
    @me_api.response(201, schemas.TokenIssued)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Issue a personal token; the response is the only time its secret is shown."""
        token, secret = Tokens(work()).issue(require().person_id, body["name"], body.get("days"))
        return {
            **{name: getattr(token, name) for name in schemas.TokenOut().fields},
            "token": secret,
        }


@me_api.route("/tokens/<token_id>")
class MyToken(MethodView):
    @me_api.response(204)
    def delete(self, token_id: str) -> None:
        """Revoke one of the caller's tokens at once."""
        Tokens(work()).revoke(token_id, owner_id=require().person_id)


@users_api.route("")
class UserList(MethodView):
    @users_api.arguments(schemas.UserFilter, location="query")
    @users_api.response(200, schemas.PersonPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """People of the caller's account, oldest first, by cursor."""
        require(*READ_PEOPLE)
        page = _people().page(args.get("cursor"), args["limit"], args.get("role"))
        return page_body(page.items, page.next_cursor)

    @users_api.arguments(schemas.PersonCreate)
    @users_api.response(201, schemas.PersonOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Add a person to the caller's account (admins)."""
        require("admin")
        return _people().create(**body)


@users_api.route("/<person_id>")
class UserItem(MethodView):
    @users_api.response(200, schemas.PersonOut)
    def get(self, person_id: str) -> Any:
        require(*READ_PEOPLE)
        return _people().get(person_id)

    @users_api.arguments(schemas.PersonUpdate)
    @users_api.response(200, schemas.PersonOut)
    def patch(self, changes: dict[str, Any], person_id: str) -> Any:
        """Change a person's name, roles, time zone, password or deactivate them (admins)."""
        require("admin")
        return _people().update(person_id, **changes)


@teams_api.route("")
class TeamList(MethodView):
    @teams_api.arguments(PageArgs, location="query")
    @teams_api.response(200, schemas.TeamPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        require(*READ_PEOPLE)
        page = Teams(work()).page(args.get("cursor"), args["limit"])
        return page_body(page.items, page.next_cursor)

    @teams_api.arguments(schemas.TeamCreate)
    @teams_api.response(201, schemas.TeamOut)
    def post(self, body: dict[str, Any]) -> Any:
        require("admin")
        return Teams(work()).create(**body)


@teams_api.route("/<team_id>")
class TeamItem(MethodView):
    @teams_api.response(200, schemas.TeamOut)
    def get(self, team_id: str) -> Any:
        require(*READ_PEOPLE)
        return Teams(work()).get(team_id)

    @teams_api.arguments(schemas.TeamUpdate)
    @teams_api.response(200, schemas.TeamOut)
    def patch(self, changes: dict[str, Any], team_id: str) -> Any:
        require("admin")
        return Teams(work()).update(team_id, **changes)

    @teams_api.response(204)
    def delete(self, team_id: str) -> None:
        require("admin")
        Teams(work()).delete(team_id)


@teams_api.route("/<team_id>/members")
class TeamMembers(MethodView):
    @teams_api.arguments(schemas.MemberAdd)
    @teams_api.response(200, schemas.TeamOut)
    def post(self, body: dict[str, Any], team_id: str) -> Any:
        require("admin")
        return Teams(work()).add_member(team_id, body["person_id"])


@teams_api.route("/<team_id>/members/<person_id>")
class TeamMember(MethodView):
    @teams_api.response(200, schemas.TeamOut)
    def delete(self, team_id: str, person_id: str) -> Any:
        require("admin")
        return Teams(work()).remove_member(team_id, person_id)
