"""SLA jobs flag at-risk and breached requests when the moment comes; stale jobs do nothing."""

from __future__ import annotations

from datetime import timedelta

from services.requests.jobs import sweep_clocks


def _states(desk, body):
    sla = desk.get(f"/api/v1/requests/{body['id']}").get_json()["sla"]
    return sla["response"]["state"], sla["resolution"]["state"]


def test_the_response_clock_goes_at_risk_then_breached_and_says_so(app, desk, clock):
    jobs = app.extensions["trustdesk"].jobs
    body = desk.raise_request()  # response 2 h, resolution 8 h on a 24x7 calendar
    clock.advance(timedelta(minutes=91))  # 75 % of 2 h is 90 min
    jobs.drain()
    listed = desk.get("/api/v1/requests", sla_state="on_track").get_json()["items"]
    assert body["id"] in {r["id"] for r in listed}
    assert _states(desk, body) == ("at_risk", "on_track")
    clock.advance(timedelta(minutes=30))
    jobs.drain()
    assert _states(desk, body) == ("breached", "on_track")
    breached = desk.get("/api/v1/requests", breached="true").get_json()["items"]
    assert body["id"] in {r["id"] for r in breached}
    events = [
        e
        for e in desk.get(f"/api/v1/requests/{body['id']}/timeline").get_json()
        if e["kind"] == "sla"
    ]
    assert [(e["data"]["clock"], e["data"]["to"]) for e in events] == [
        ("response", "at_risk"),
        ("response", "breached"),
    ]
    assert events[0]["actor"]["id"] == "node:sla-monitor"


def test_only_the_next_moment_is_scheduled_and_each_check_schedules_the_one_after(app, desk, clock):
    jobs = app.extensions["trustdesk"].jobs
    jobs.drain()
    jobs.discard_pending()
    body = desk.raise_request()  # response 2 h, resolution 8 h on a 24x7 calendar
    assert jobs.pending() == 1  # at risk of the response, at 90 min; not all four moments
    clock.advance(timedelta(minutes=91))
    jobs.drain()
    assert jobs.pending() == 1  # now the response's due moment
    clock.advance(timedelta(hours=8))
    jobs.drain()  # due, then the resolution's at-risk and due, each scheduling the next
    assert _states(desk, body) == ("breached", "breached")
    assert jobs.pending() == 0


def test_a_job_for_an_older_clock_version_does_nothing(app, desk, clock):
    from services.requests.jobs import check_clocks

    body = desk.raise_request()
    desk.post(f"/api/v1/requests/{body['id']}/notes", {"body": "Hi"}, "specialist")  # bumps it
    node = app.extensions["trustdesk"]
    node.jobs.drain()
    node.jobs.discard_pending()  # the current checks must not run when the clock moves
    clock.advance(timedelta(hours=9))
    with app.app_context():
        from account_node.db import db

        check_clocks(node, desk.account.id, body["id"], 0)
        db.session.commit()
    timeline = desk.get(f"/api/v1/requests/{body['id']}/timeline").get_json()
    assert [e for e in timeline if e["kind"] == "sla" and e["data"]["to"] == "breached"] == []


def test_the_sweep_repairs_states_whose_jobs_were_lost(app, desk, clock):
    body = desk.raise_request()
    node = app.extensions["trustdesk"]
    node.jobs.drain()
    node.jobs.discard_pending()  # the checks are lost, as in a crash
    clock.advance(timedelta(hours=9))
    with app.app_context():
        from account_node.db import db

        assert sweep_clocks(node, reschedule=False) >= 1
        db.session.commit()
    assert _states(desk, body) == ("breached", "breached")
