"""Live streams take at most so many of a server process's threads, and give each back
however the stream ends."""

from __future__ import annotations

import pytest

from services.inbox.slots import StreamsFull, StreamSlots


def _events():
    yield "retry: 3000\n\n"
    yield ": keep-alive\n\n"


def test_one_stream_past_the_limit_is_refused_with_a_time_to_come_back():
    slots = StreamSlots(2)
    served = [slots.hold(_events()), slots.hold(_events())]
    with pytest.raises(StreamsFull) as refused:
        slots.hold(_events())
    assert (refused.value.status, refused.value.code) == (503, "live_streams_full")
    assert refused.value.retry_after == 30
    for body in served:
        body.close()


def test_a_stream_closed_by_the_server_gives_its_slot_back_even_unstarted():
    """A generator that never ran skips its ``finally`` on close: the slot cannot hang on
    one (a client that went away before the first byte)."""
    slots = StreamSlots(1)
    body = slots.hold(_events())
    body.close()
    slots.hold(_events()).close()


def test_a_stream_that_runs_out_gives_its_slot_back_before_the_server_closes_it():
    slots = StreamSlots(1)
    body = slots.hold(_events())
    assert list(body) == ["retry: 3000\n\n", ": keep-alive\n\n"]
    slots.hold(_events())


def test_closing_twice_gives_back_one_slot():
    slots = StreamSlots(1)
    body = slots.hold(_events())
    body.close()
    body.close()  # a BoundedSemaphore would raise on a second release
    served = slots.hold(_events())
    with pytest.raises(StreamsFull):
        slots.hold(_events())
    served.close()


def test_closing_a_stream_closes_what_it_streams():
    closed = []

    def events():
        try:
            yield "retry: 3000\n\n"
            yield ": keep-alive\n\n"
        finally:
            closed.append(True)

    body = StreamSlots(1).hold(events())
    next(body)
    body.close()
    assert closed == [True]


def test_a_stream_whose_response_never_went_out_gives_its_slot_back_once_collected():
    """Something failed after the view (Flask then answers with a response of its own)
    and the stream's body was dropped without being closed: its slot was lost for the
    life of the process, and once every slot was, every stream was refused."""
    import gc

    slots = StreamSlots(1)
    dropped = slots.hold(_events())
    del dropped
    gc.collect()

    served = slots.hold(_events())
    with pytest.raises(StreamsFull):
        slots.hold(_events())
    served.close()
