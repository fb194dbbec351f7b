"""The Redis hub of a node's live streams, on a real Redis server shared by several nodes,
as docker-compose runs three nodes on the numbered databases of one Redis."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from services.inbox.events import RedisHub, hub_for
from tests.conftest import node_settings

ACCOUNT = "acme"  # an account id two nodes may well both host
EVENT = {"id": "r1:3:note:1", "type": "request.changed", "local": True, "request": "r1"}


def _on_database(redis_url: str, number: int) -> str:
    return f"{redis_url.rsplit('/', 1)[0]}/{number}"


def _heard(listener: RedisHub, publisher: RedisHub) -> list[dict[str, Any]]:
    """What ``listener``'s subscriber of ``ACCOUNT`` hears of an event ``publisher`` sends."""
    heard: list[dict[str, Any]] = []

    def listen() -> None:
        heard.extend(event for event in listener.listen(ACCOUNT, 1.0) if event is not None)

    thread = threading.Thread(target=listen)
    thread.start()
    time.sleep(0.3)  # subscribed
    publisher.publish(ACCOUNT, EVENT)
    thread.join()
    return heard


@pytest.fixture
def hubs(redis_url):
    made: list[RedisHub] = []

    def hub(database: int, node_url: str) -> RedisHub:
        made.append(RedisHub(_on_database(redis_url, database), node_url))
        return made[-1]

    yield hub
    for each in made:
        each.redis.close()


def test_a_node_on_another_database_of_the_server_does_not_hear_its_events(hubs):
    """Pub/sub ignores database numbers: node Y's admin stream was told of node X's
    requests whenever both hosted an account of the same id."""
    node_x, node_y = hubs(14, "http://127.0.0.1:5000"), hubs(15, "http://127.0.0.1:5000")
    assert _heard(node_y, node_x) == []


def test_a_node_of_another_url_on_the_same_database_does_not_hear_its_events(hubs):
    node_x, node_y = hubs(15, "https://x.example"), hubs(15, "https://y.example")
    assert _heard(node_y, node_x) == []


def test_every_process_of_one_node_hears_its_events(hubs):
    """The point of the Redis hub: a stream served by one worker hears what another did."""
    worker_1, worker_2 = hubs(15, "https://x.example"), hubs(15, "https://x.example")
    assert _heard(worker_2, worker_1) == [EVENT]


def test_a_nodes_hub_is_named_by_its_settings(redis_url):
    """Whichever module asks first, with the Redis URL alone."""

    class Node:
        settings = node_settings(public_url="https://x.example/", redis_url=redis_url)

    first = hub_for({"trustdesk": Node()}, redis_url)
    second = RedisHub(redis_url, "https://x.example")
    try:
        assert isinstance(first, RedisHub) and first.channel(ACCOUNT) == second.channel(ACCOUNT)
    finally:
        first.redis.close()
        second.redis.close()


def test_a_redis_that_stops_answering_does_not_hold_the_publisher():
    """Publishing runs after a commit on the request's own thread: a Redis that accepts
    and never answers must cost a bounded wait (the job queue's 5 s), not forever."""
    import socket
    import threading
    import time

    from services.inbox.events import RedisHub

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    held: list = []
    threading.Thread(target=lambda: held.append(silent.accept()), daemon=True).start()
    hub = RedisHub(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", "https://node.test")
    started = time.monotonic()
    try:
        with pytest.raises(Exception, match=r"[Tt]imeout"):
            hub.publish("acme", {"id": "x"})
        assert time.monotonic() - started < 7
    finally:
        hub.redis.close()
        for connection, _ in held:
            connection.close()
        silent.close()
