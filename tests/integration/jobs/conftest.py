"""A Redis database of these tests' own, for the tests that flush it or run rq workers."""

from __future__ import annotations

import os

import pytest
from redis import Redis

from tests.conftest import REDIS_URL

OWN_REDIS_URL = os.environ.get("TRUSTDESK_TEST_OWN_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
def own_redis_url(redis_url: str) -> str:
    """Emptied before each test: a test here flushes it (Redis losing its data) or runs a
    worker that takes every job of its queues, which on the shared database could be
    another test's, or another run's."""
    assert OWN_REDIS_URL != REDIS_URL, "the flushed database must not be the shared one"
    connection = Redis.from_url(OWN_REDIS_URL, socket_connect_timeout=2)
    connection.flushdb()
    connection.close()
    return OWN_REDIS_URL
