"""SLA jobs flag at-risk and breached requests when the moment comes; stale jobs do nothing."""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import Flask
from sqlalchemy import create_engine, text

from account_node.db import db
from account_node.identity.models import Account
from account_node.tenancy import AccountScope, bind_scope, clear_scope
from services.requests.jobs import monitor_work, sweep_clocks
from services.requests.schedule import CHECK
from services.requests.service import Requests
from tests.integration.services.requests.conftest import build_desk
from tests.statements import statements


def _states(desk, body):
    sla = desk.get(f"/api/v1/requests/{body['id']}").get_json()["sla"]
    return sla["response"]["state"], sla["resolution"]["state"]


def test_the_response_clock_goes_at_risk_then_breached_and_says_so(app, desk, clock):
    jobs = app.extensions["trustdesk"].jobs
    body = desk.raise_request()  # response 2 h, resolution 8 h on a 24x7 calendar
    clock.advance(timedelta(minutes=91))  # 75 % of 2 h is 90 min
    jobs.drain()
    assert _states(desk, body) == ("at_risk", "on_track")
    # Listed by the worse of its two clocks.
    listed = desk.get("/api/v1/requests", sla_state="at_risk").get_json()["items"]
    assert body["id"] in {r["id"] for r in listed}
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


def test_a_request_the_sweep_cannot_refresh_does_not_keep_it_from_the_others(
    app, desk, clock, monkeypatch, caplog
):
    """One stale request fails to refresh (a poison row, a lock timeout): it is logged
    and left for the next run, and the account's other stale requests are still
    repaired in this one, whichever order the sweep takes them in."""
    from services.requests.service import Requests

    poisoned, healthy = desk.raise_request(), desk.raise_request()
    node = app.extensions["trustdesk"]
    node.jobs.drain()
    node.jobs.discard_pending()  # the checks are lost, as in a crash
    clock.advance(timedelta(hours=9))
    real = Requests.refresh_clocks

    def refresh(self, request_id):
        if request_id == poisoned["id"]:
            raise RuntimeError("a poison row")
        return real(self, request_id)

    monkeypatch.setattr(Requests, "refresh_clocks", refresh)
    _sweep(app)
    stored = desk.get("/api/v1/requests", breached="true").get_json()["items"]  # as stored
    assert [r["id"] for r in stored] == [healthy["id"]]
    assert f"the SLA sweep failed for request {poisoned['id']}" in caplog.text


def _sweep(app) -> int:
    node = app.extensions["trustdesk"]
    with app.app_context():
        from account_node.db import db

        try:
            return sweep_clocks(node, reschedule=False)
        finally:
            db.session.commit()
            db.session.remove()


def test_open_requests_whose_clocks_hold_cost_the_sweep_no_query_of_their_own(app, desk):
    """The sweep reads a batch of open requests and their pauses in two queries, and
    only a request with something to write costs it more."""
    desk.raise_request(subject="On track")
    _sweep(app)  # whatever other tests left stale is repaired here
    with statements(app) as before:
        _sweep(app)
    for n in range(5):
        desk.raise_request(subject=f"On track {n}")
    with statements(app) as after:
        assert _sweep(app) == 0
    assert len(after) == len(before), "\n\n".join(after)


def test_a_person_holding_a_request_does_not_stall_the_sweep(postgres_app, postgres_urls):
    """The sweep locks only the requests it changes, so a request a person has locked
    (an edit in progress) does not hold up the sweep of all the others."""
    desk = build_desk(postgres_app, postgres_app.test_client())
    body = desk.raise_request()
    assert _sweep_while_held(postgres_app, postgres_urls[1], desk.account.id, body["id"]) == 0


def _sweep_while_held(app: Flask, runtime_url: str, account_id: str, request_id: str) -> int:
    """One sweep, run while another connection holds the request's row (a person's edit
    in progress, a stuck transaction); it must end without waiting for the row."""
    engine = create_engine(runtime_url, pool_size=1, max_overflow=0)
    holder = engine.connect()
    holder.begin()
    account = {"a": account_id, "id": request_id}
    holder.execute(text("SELECT set_config('app.account_id', :a, true)"), account)
    holder.execute(text("SELECT id FROM requests WHERE id = :id FOR UPDATE"), account)
    swept: list[int] = []
    sweeping = threading.Thread(target=lambda: swept.append(_sweep(app)))
    sweeping.start()
    try:
        sweeping.join(timeout=20)
        assert not sweeping.is_alive(), "the sweep waited for the locked request"
    finally:
        holder.rollback()
        holder.close()
        sweeping.join(timeout=30)
        engine.dispose()
    [count] = swept
    return count


def test_the_sweep_picks_every_request_whose_stored_clocks_a_reading_finds_stale(app, desk, clock):
    """The database picks what the sweep looks at by stored moments alone; at no moment
    (before, at or past any at-risk or due moment; paused, resumed or answered) may it
    leave out a request whose stored states or moments a reading finds out of date."""
    from account_node.db import db
    from services.requests.clocks import read_clocks
    from services.requests.jobs import monitor_work
    from services.requests.service import Requests, _agrees

    node = app.extensions["trustdesk"]
    for priority in ("p1", "p2", "p3", "p4"):
        desk.raise_request(priority=priority)
    paused = desk.raise_request()
    desk.patch(f"/api/v1/requests/{paused['id']}", {"status": "waiting_for_customer"})
    resumed = desk.raise_request()
    desk.patch(f"/api/v1/requests/{resumed['id']}", {"status": "waiting_for_customer"})
    answered = desk.raise_request()
    desk.post(f"/api/v1/requests/{answered['id']}/notes", {"body": "On it"}, "specialist")
    node.jobs.drain()
    node.jobs.discard_pending()  # no job repairs anything: all is left to the sweep
    seen_stale = 0
    for step in range(40):
        clock.advance(timedelta(minutes=7))
        if step == 3:
            desk.patch(f"/api/v1/requests/{resumed['id']}", {"status": "in_progress"})
            node.jobs.discard_pending()
        with app.app_context():
            requests = Requests(monitor_work(node, desk.account.id))
            now = clock.now()
            everything = requests.store.open_requests(None, 1000)
            pauses = requests.store.pauses_of(r.id for r in everything)
            stale = {
                r.id
                for r in everything
                if not _agrees(
                    r, read_clocks(r, [(p.began_at, p.ended_at) for p in pauses[r.id]], now)
                )
            }
            picked = {r.id for r in requests.store.open_requests(None, 1000, stale_at=now)}
            assert stale <= picked, f"at step {step}"
            seen_stale += len(stale - {paused["id"]})
            db.session.rollback()
            db.session.remove()
    assert seen_stale > 0  # the walk did pass moments the jobs would have marked


def _stored_breaches(desk) -> set[str]:
    """The desk's requests listed as breached: by their stored states, not live readings."""
    return {r["id"] for r in desk.get("/api/v1/requests", breached="true").get_json()["items"]}


def test_a_request_the_sweep_repaired_has_its_next_moment_checked_on_time(app, desk, clock):
    """The sweep repairs a request whose checks were lost (Redis lost them, a worker
    died). Its later moments must come by their own check, on time: after the repair
    they used to wait for the next sweep, up to an interval late."""
    body = desk.raise_request()  # response 2 h: at risk at 90 min, due at 120 min
    node = app.extensions["trustdesk"]
    node.jobs.drain()
    node.jobs.discard_pending()  # the checks are lost, as in a crash
    clock.advance(timedelta(minutes=91))
    _sweep(app)
    assert body["id"] in [args[1] for func, args in node.jobs.pending_calls() if func == CHECK]
    clock.advance(timedelta(minutes=30))
    node.jobs.drain()  # its check, no sweep
    assert body["id"] in _stored_breaches(desk)


def _deactivate(app, account_id: str) -> None:
    """Under the account's own scope: with none, the runtime role may change no account."""
    with app.app_context():
        session = db.session()
        bind_scope(session, AccountScope(account_id))
        session.get(Account, account_id).active = False
        session.commit()
        clear_scope(session)
        db.session.remove()


def test_the_sweep_leaves_a_deactivated_accounts_requests_as_they_were(app, client, clock):
    """A deactivated account is frozen: the node's other sweeps pass it by, and the SLA
    sweep wrote breaches, timeline entries and audit events into it."""
    gone, kept = build_desk(app, client), build_desk(app, client)
    frozen, live = gone.raise_request(), kept.raise_request()
    node = app.extensions["trustdesk"]
    node.jobs.drain()
    node.jobs.discard_pending()  # all is left to the sweep
    _deactivate(app, gone.account.id)
    clock.advance(timedelta(hours=9))
    _sweep(app)
    assert live["id"] in _stored_breaches(kept)  # the sweep did run
    with app.app_context():
        requests = Requests(monitor_work(node, gone.account.id))
        request = requests.get(frozen["id"])
        assert (request.response_state, request.resolution_state) == ("on_track", "on_track")
        timeline = requests.store.timeline(frozen["id"], include_internal=True)
        assert [e for e in timeline if e.kind == "sla"] == []
        db.session.remove()


def test_a_request_locked_elsewhere_gives_way_and_the_sweep_goes_on_with_the_others(
    postgres_app, postgres_urls, clock, caplog
):
    """A stale request whose row someone holds (a stuck transaction) used to stall the
    sweep on its lock, and with it every account after this one. Its refresh now waits
    briefly, gives way and is left to the next run; the others are repaired now."""
    client = postgres_app.test_client()
    first, second = build_desk(postgres_app, client), build_desk(postgres_app, client)
    held, beside = first.raise_request(), first.raise_request()
    elsewhere = second.raise_request()
    node = postgres_app.extensions["trustdesk"]
    node.jobs.drain()
    node.jobs.discard_pending()  # all is left to the sweep
    clock.advance(timedelta(hours=9))
    _sweep_while_held(postgres_app, postgres_urls[1], first.account.id, held["id"])
    assert _stored_breaches(first) == {beside["id"]}
    assert _stored_breaches(second) == {elsewhere["id"]}
    assert f"the SLA sweep failed for request {held['id']}" in caplog.text
    _sweep(postgres_app)  # the next run, the row free again
    assert _stored_breaches(first) == {held["id"], beside["id"]}
