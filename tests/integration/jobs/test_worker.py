"""``trustdesk worker`` says in one line which Redis it could not reach, and never its password."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from account_node.cli import main as cli


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://:s3cret-pw@127.0.0.1:1/0", "cannot reach Redis at 127.0.0.1:1"),
        ("redis://:s3cret-pw@no-such-host.invalid:6379/0", "at no-such-host.invalid:6379"),
        ("http://:s3cret-pw@127.0.0.1:6379/0", "must specify one of the following schemes"),
    ],
)
def test_a_worker_that_cannot_reach_redis_says_where_in_one_line(tmp_path, url, says):
    """A refused port, an unknown host or a URL of another scheme ended in a traceback
    of seventy lines from inside rq, before a word on what was wrong."""
    env = {"TRUSTDESK_DATA_DIR": str(tmp_path), "TRUSTDESK_REDIS_URL": url}
    result = CliRunner().invoke(cli, ["worker"], env=env)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # an error said, not one raised
    assert says in result.output and "s3cret-pw" not in result.output
    assert len(result.output.strip().splitlines()) == 1
