"""REST endpoints for requests: thin, one service call each, rendered by schemas."""

from __future__ import annotations

from typing import Any

from flask import request as http_request
from flask.views import MethodView
from sqlalchemy.orm.attributes import instance_dict

from account_node.errors import ValidationFailed
from account_node.http import NodeBlueprint, commit_now, json_response, page_body, work
from services.requests import lifecycle, schemas
from services.requests.service import UNSET, Requests, RequestView
from services.requests.store import RequestFilter

requests_api = NodeBlueprint(
    "requests", __name__, url_prefix="/api/v1/requests", description="Service requests"
)
RAISERS = ("admin", "specialist", "end_user")


def _requests(*roles: str) -> Requests:
    return Requests(work(*roles))


def render(view: RequestView, works: bool) -> dict[str, Any]:
    """``works``: whether the caller works the request (``Requests.works``), which decides
    the moves it is offered."""
    r = view.request
    # Loaded columns straight from the instance's dict: a page of 25 reads 425 of them,
    # and each read through the ORM's attribute descriptor costs several calls.
    loaded = instance_dict(r)
    return {
        **{name: loaded[name] if name in loaded else getattr(r, name) for name in _PLAIN},
        "reference": f"REQ-{r.number}",
        "allowed_transitions": lifecycle.allowed_transitions(
            r.status, staff=works, held=r.assignee_id is not None
        ),
        "sla": {
            "id": r.sla_id,
            "name": r.sla_name,
            "source": r.sla_source,
            "reason": r.sla_reason,
            "calendar": r.sla_terms.get("calendar"),
            "terms": {k: v for k, v in r.sla_terms.items() if k != "calendar"},
            "response": view.response.as_dict(),
            "resolution": view.resolution.as_dict(),
            "pauses": [
                {"began_at": p.began_at, "ended_at": p.ended_at, "status": p.status}
                for p in view.pauses
            ],
        },
    }


_PLAIN = (
    "id", "number", "subject", "description", "status", "priority", "service_id", "offering_id",
    "requester_id", "ci_id", "team_id", "assignee_id", "created_at", "updated_at",
    "first_response_at", "resolved_at", "closed_at",
)  # fmt: skip


@requests_api.route("")
class RequestList(MethodView):
    @requests_api.arguments(schemas.RequestListArgs, location="query")
    @requests_api.response(200, schemas.RequestPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Requests the caller may see, newest first, with filters and a cursor."""
        requests = _requests()
        assignee = args.get("assignee_id")
        filters = RequestFilter(
            statuses=tuple(args.get("status", ())),
            service_id=args.get("service_id"),
            offering_id=args.get("offering_id"),
            team_id=args.get("team_id"),
            assignee_id=requests.work.actor.person_id if assignee == "me" else assignee,
            requester_id=args.get("requester_id"),
            sla_state=args.get("sla_state"),
            breached=args.get("breached"),
            text=args.get("q"),
        )
        page = requests.page(filters, args.get("cursor"), args["limit"])
        items = [render(v, requests.works(v.request)) for v in page.items]
        return json_response(page_body(items, page.next_cursor))

    @requests_api.arguments(schemas.RequestCreate)
    @requests_api.response(201, schemas.RequestOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Raise a request. Send an ``Idempotency-Key`` header to make retries safe: a retry
        with the key and the same body answers the request the first raised, as the
        first did (201; its state now); the key with another body is refused (422,
        ``idempotency_key_reused``, naming the fields that differ)."""
        requests = _requests(*RAISERS)
        key = http_request.headers.get("Idempotency-Key")
        if key is not None and not 1 <= len(key) <= 100:
            raise ValidationFailed(errors={"Idempotency-Key": ["must be 1 to 100 characters"]})
        created, is_new = requests.create(**body, idempotency_key=key)
        if is_new:
            commit_now()  # the account's request number and audit head are locked till then
        view = requests.view_of(created) if is_new else requests.view(created.id)
        # A retry gets the first answer's status (the draft's section 2.6).
        return json_response(render(view, requests.works(created)), 201)


@requests_api.route("/<request_id>")
class RequestItem(MethodView):
    @requests_api.response(200, schemas.RequestOut)
    def get(self, request_id: str) -> Any:
        requests = _requests()
        view = requests.view(request_id)
        return json_response(render(view, requests.works(view.request)))

    @requests_api.arguments(schemas.RequestUpdate)
    @requests_api.response(200, schemas.RequestOut)
    def patch(self, changes: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Edit fields, (re)assign, and change status, in that order, all or nothing."""
        requests = _requests(*RAISERS)
        status, reason = changes.pop("status", None), changes.pop("status_reason", "")
        team_id, assignee_id = changes.pop("team_id", UNSET), changes.pop("assignee_id", UNSET)
        if changes:
            requests.update(request_id, **changes)
        if team_id is not UNSET or assignee_id is not UNSET:
            requests.assign(request_id, team_id=team_id, assignee_id=assignee_id)
        if status:
            requests.change_status(request_id, status, reason)
        view = requests.view_after_change(request_id)
        return render(view, requests.works(view.request))


@requests_api.route("/<request_id>/notes")
class RequestNotes(MethodView):
    @requests_api.response(200, schemas.EventOut(many=True))
    def get(self, request_id: str) -> list[Any]:
        """Notes on the request; internal ones only for specialists, admins and auditors."""
        return [e for e in _requests().timeline(request_id) if e.kind == "note"]

    @requests_api.arguments(schemas.NoteCreate)
    @requests_api.response(201, schemas.EventOut)
    def post(self, body: dict[str, Any], request_id: str) -> Any:
        return _requests(*RAISERS).add_note(request_id, body["body"], public=body["public"])


@requests_api.route("/<request_id>/timeline")
class RequestTimeline(MethodView):
    @requests_api.response(200, schemas.EventOut(many=True))
    def get(self, request_id: str) -> list[Any]:
        """Everything that happened to the request, oldest first."""
        return _requests().timeline(request_id)


@requests_api.route("/<request_id>/sla-override")
class RequestSlaOverride(MethodView):
    @requests_api.arguments(schemas.SlaOverride)
    @requests_api.response(200, schemas.RequestOut)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Put the request on another SLA, with a reason (hierarchy level 1, audited)."""
        requests = _requests("admin", "specialist")
        requests.override_sla(request_id, body["sla_id"], body["reason"])
        return render(requests.view(request_id), True)


@requests_api.route("/<request_id>/reevaluate")
class RequestReevaluate(MethodView):
    @requests_api.arguments(schemas.Reevaluate)
    @requests_api.response(200, schemas.RequestOut)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Apply the SLA hierarchy's current inputs to this request (explicit, audited)."""
        requests = _requests("admin", "specialist")
        requests.reevaluate(request_id, body["reason"])
        return render(requests.view(request_id), True)
