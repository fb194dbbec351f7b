"""The visibility API: the MSP works the customer's requests live, nothing copied."""

from __future__ import annotations

from tests.federation.flows import ok


def test_the_msp_specialist_sees_the_customers_request_live(served):
    with served.msp.client(served.msp_account.specialist) as msp:
        page = ok(msp.get(f"/api/v1/trusts/{served.trust}/requests"))
    [item] = page["items"]
    assert (item["id"], item["subject"], item["offering"]) == (
        served.request["id"],
        "Printer jams",
        served.offering["id"],
    )
    assert item["sla"]["name"] == "Gold"
    assert item["requester"]  # the customer's person, by name


def test_a_specialists_note_is_attributed_on_both_sides(served):
    path = f"/api/v1/trusts/{served.trust}/requests/{served.request['id']}"
    with served.msp.client(served.msp_account.specialist) as msp:
        note = ok(msp.post(f"{path}/notes", json={"body": "Swapping the fuser today."}), 201)
        detail = ok(msp.get(path))
    with served.msp.client(served.msp_account.specialist) as msp:
        specialist = ok(msp.get("/api/v1/me"))["name"]
    assert note["actor"].startswith(specialist) and served.msp_account.id in note["actor"]
    assert note["vouched_by"] == served.msp_account.id
    [shown] = [e for e in detail["timeline"] if e["kind"] == "note"]
    assert (shown["body"], shown["vouched_by"]) == (
        "Swapping the fuser today.",
        served.msp_account.id,
    )

    with served.customer.client(served.customer_account.end_user) as customer:
        timeline = ok(customer.get(f"/api/v1/requests/{served.request['id']}/timeline"))
    [theirs] = [e for e in timeline if e["kind"] == "note"]
    assert theirs["body"] == "Swapping the fuser today."
    assert specialist in theirs["actor"]["name"]
    with served.customer.client(served.customer_account.auditor) as customer:
        audit = ok(customer.get("/api/v1/audit", params={"action": "request.note"}))["items"]
    assert audit[0]["actor"]["vouched_by"] == served.msp_account.id
    assert audit[0]["actor"]["id"] == served.msp_account.specialist.id


def test_the_specialist_moves_the_request_through_its_status_machine(served):
    path = f"/api/v1/trusts/{served.trust}/requests/{served.request['id']}"
    with served.msp.client(served.msp_account.specialist) as msp:
        moved = ok(msp.patch(path, json={"status": "in_progress"}))
        assert moved["status"] == "in_progress"
        illegal = msp.patch(path, json={"status": "new"})
    assert illegal.status_code == 409
    assert illegal.json()["code"] == "peer_refused_change"


def test_the_msp_closes_a_request_of_an_expired_offering_and_then_reaches_it_no_more(served):
    """Existing requests stay workable until closed (DESIGN section 5): closing is the
    last move the ended offering allows. The answer was built by reading the request
    back through the check that refuses closed requests of ended offerings, so the
    close was refused and rolled back."""
    path = f"/api/v1/trusts/{served.trust}/requests/{served.request['id']}"
    with served.msp.client(served.msp_account.specialist) as msp:
        ok(msp.patch(path, json={"status": "resolved"}))
    with served.msp.client(served.msp_account.admin) as admin:
        ok(admin.post(f"/api/v1/offerings/{served.offering['id']}/expire"))
    with served.msp.client(served.msp_account.specialist) as msp:
        closed = ok(msp.patch(path, json={"status": "closed"}))
        assert closed["status"] == "closed"
        assert msp.get(path).status_code == 502  # refused by the customer: ended and closed
    with served.customer.client(served.customer_account.end_user) as customer:
        assert ok(customer.get(f"/api/v1/requests/{served.request['id']}"))["status"] == "closed"


def test_deactivating_the_trust_cuts_access_at_once_even_if_the_notice_is_lost(served, monkeypatch):
    from trust.client import PeerClient
    from trust.errors import PeerUnavailable

    def lost(*args, **kwargs):
        raise PeerUnavailable("the notice is lost on the way")

    with monkeypatch.context() as patch:  # the customer's notice never reaches the MSP
        patch.setattr(PeerClient, "post_signed", lost)
        with served.customer.client(served.customer_account.admin) as customer:
            ok(customer.post(f"/api/v1/trusts/{served.trust}/deactivate"))

    # The MSP still holds the trust as active and asks: the customer's own record refuses.
    with served.msp.client(served.msp_account.specialist) as msp:
        response = msp.get(f"/api/v1/trusts/{served.trust}/requests")
    assert response.status_code == 502
    assert response.json()["code"] == "peer_declined"
    assert "trust" not in response.json()["detail"]  # the peer's own words stay there
    with served.customer.client(served.customer_account.auditor) as customer:
        refused = ok(customer.get("/api/v1/audit", params={"action": "federation.refused"}))
    assert refused["items"][0]["after"] == {"reason": "trust_inactive"}


def test_the_msps_end_users_reach_no_customer_requests(served):
    with served.msp.client(served.msp_account.end_user) as msp:
        assert msp.get(f"/api/v1/trusts/{served.trust}/requests").status_code == 403


def test_a_request_id_outside_the_offering_is_refused_and_audited(served):
    path = f"/api/v1/trusts/{served.trust}/requests/not-a-request-of-the-trust"
    with served.msp.client(served.msp_account.specialist) as msp:
        response = msp.get(path)
    assert response.status_code == 404
    with served.customer.client(served.customer_account.auditor) as customer:
        refused = ok(customer.get("/api/v1/audit", params={"action": "federation.refused"}))
    assert refused["items"][0]["after"] == {"reason": "request_outside_offering"}


def test_all_of_the_trusts_requests_page_newest_first_by_cursor(served):
    with served.customer.client(served.customer_account.end_user) as customer:
        [held] = ok(customer.get("/api/v1/offerings"))["items"]
        body = {"subject": "Toner", "offering_id": held["id"]}
        later = ok(customer.post("/api/v1/requests", json=body), 201)
    path = f"/api/v1/trusts/{served.trust}/requests"
    with served.msp.client(served.msp_account.specialist) as msp:
        first = ok(msp.get(path, params={"sort": "newest", "limit": 1}))
        second = ok(msp.get(path, params={"sort": "newest", "limit": 1,
                                          "cursor": first["next_cursor"]}))  # fmt: skip
    assert [i["id"] for i in first["items"] + second["items"]] == [
        later["id"],
        served.request["id"],
    ]


def test_the_open_requests_page_most_urgent_first_by_cursor(served):
    with served.customer.client(served.customer_account.end_user) as customer:
        [held] = ok(customer.get("/api/v1/offerings"))["items"]
        raised = [
            ok(customer.post("/api/v1/requests", json={"subject": f"Toner {p}",
                                                       "offering_id": held["id"], "priority": p}),
               201)
            for p in ("p4", "p1")
        ]  # fmt: skip
    path = f"/api/v1/trusts/{served.trust}/requests"
    with served.msp.client(served.msp_account.specialist) as msp:
        pages = [ok(msp.get(path, params={"limit": 2}))]
        pages.append(ok(msp.get(path, params={"limit": 2, "cursor": pages[0]["next_cursor"]})))
        bad = msp.get(path, params={"cursor": "not-a-cursor"})
    assert pages[1]["next_cursor"] is None
    seen = [i for page in pages for i in page["items"]]
    assert sorted(i["id"] for i in seen) == sorted(
        [served.request["id"]] + [r["id"] for r in raised]
    )
    assert [i["urgency_at"] for i in seen] == sorted(i["urgency_at"] for i in seen)
    assert bad.status_code == 422  # the customer's node refused a cursor it never issued


def test_the_urgency_page_narrows_by_status_sla_state_text_and_offering(served):
    """Each filter the trusted node may send, alone and together; ``q`` matches its
    text literally (``_`` and ``%`` are not wildcards)."""
    with served.customer.client(served.customer_account.end_user) as customer:
        [held] = ok(customer.get("/api/v1/offerings"))["items"]
        for subject in ("Toner 50% low", "Scanner_2 offline"):
            body = {"subject": subject, "offering_id": held["id"]}
            ok(customer.post("/api/v1/requests", json=body), 201)
    path = f"/api/v1/trusts/{served.trust}/requests"

    def subjects(**params):
        return sorted(i["subject"] for i in ok(msp.get(path, params=params))["items"])

    with served.msp.client(served.msp_account.specialist) as msp:
        ok(msp.patch(f"{path}/{served.request['id']}", json={"status": "in_progress"}))
        assert subjects() == ["Printer jams", "Scanner_2 offline", "Toner 50% low"]
        assert subjects(status=["in_progress"]) == ["Printer jams"]
        assert subjects(status=["new", "assigned"]) == ["Scanner_2 offline", "Toner 50% low"]
        assert subjects(q="_") == ["Scanner_2 offline"]
        assert subjects(q="50%") == ["Toner 50% low"]
        assert subjects(q="TONER", status=["in_progress"]) == []
        assert subjects(sla_state="on_track") == subjects()
        assert subjects(sla_state="breached") == []
        assert subjects(offering=[served.offering["id"]], limit=1) == ["Printer jams"]
        assert subjects(offering=["not-an-offering-of-this-trust"]) == []


def test_a_paused_request_shows_its_stopped_clock_in_the_list_and_in_the_inbox(served):
    path = f"/api/v1/trusts/{served.trust}/requests"
    with served.msp.client(served.msp_account.specialist) as msp:
        before = ok(msp.get(path))["items"][0]["sla"]["resolution"]
        body = {"status": "waiting_for_customer", "status_reason": "Which printer?"}
        ok(msp.patch(f"{path}/{served.request['id']}", json=body))
        [item] = ok(msp.get(path))["items"]
        [shown] = ok(msp.get("/api/v1/inbox"))["items"]
    assert not before["paused"]
    assert (item["status"], item["sla"]["resolution"]["paused"]) == ("waiting_for_customer", True)
    assert item["sla"]["response"]["paused"] is True
    assert (shown["id"], shown["sla"]["resolution"]["paused"]) == (served.request["id"], True)
