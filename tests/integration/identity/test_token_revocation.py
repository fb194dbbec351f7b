"""A token revoked while it is in use: the revocation holds, and nobody gets a 500."""

from __future__ import annotations

import threading
from collections import Counter

from tests.factories.accounts import make_account

ROUNDS = 12


def test_revoking_a_token_that_is_being_used_never_deadlocks(postgres_app):
    """Each write made with a token notes the token's use at commit, after it took the
    audit chain's head; the revocation took the token's row, then the head. On
    PostgreSQL the two waited on each other until one was killed: a 500 for the revoker
    a second later, just when revoking mattered."""
    account = make_account(postgres_app)
    owner = account.admin
    answers: Counter[tuple[str, int]] = Counter()
    for n in range(ROUNDS):
        with postgres_app.test_client() as client:
            token = client.post("/api/v1/me/tokens", headers=owner.headers, json={"name": f"t{n}"})
        held = token.get_json()
        bearer = {"Authorization": f"Bearer {held['token']}"}
        start = threading.Barrier(4)

        def write(name: str, bearer: dict = bearer, start: threading.Barrier = start) -> None:
            with postgres_app.test_client() as client:
                start.wait()
                answer = client.post("/api/v1/teams", headers=bearer, json={"name": name})
                answers[("write", answer.status_code)] += 1

        def revoke(held: dict = held, start: threading.Barrier = start) -> None:
            with postgres_app.test_client() as client:
                start.wait()
                answer = client.delete(f"/api/v1/me/tokens/{held['id']}", headers=owner.headers)
                answers[("revoke", answer.status_code)] += 1

        threads = [threading.Thread(target=write, args=(f"t{n}-{i}",)) for i in range(3)]
        threads.append(threading.Thread(target=revoke))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert answers[("revoke", 204)] == ROUNDS, answers
    assert {status for (_, status) in answers} <= {201, 204, 401}, answers
