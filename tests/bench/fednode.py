"""One account node for the federation benchmarks, in a process of its own.

``python -m tests.bench.fednode DIR PORT NAME KIND`` migrates an SQLite database in DIR,
creates account NAME (an admin, a specialist in a team, an end user), writes their tokens
to DIR/tokens.json and serves the node under gunicorn (one gthread worker) on PORT.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(directory: str, port: int, name: str, kind: str) -> None:
    from account_node.app import create_app
    from account_node.context import Work
    from account_node.db import db
    from account_node.identity.accounts import Accounts
    from account_node.identity.authentication import principal_of
    from account_node.identity.service import People, Teams, Tokens
    from account_node.migrations import upgrade
    from account_node.server import serve_forever
    from account_node.settings import load_settings

    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    settings = load_settings().replace(
        data_dir=str(root),
        database_url="",
        public_url=f"http://127.0.0.1:{port}",
        node_name=name,
        federation_allow_http=True,
        federation_allow_private=True,
        password_time_cost=1,
        password_memory_kib=1024,
        sla_sweep_seconds=0,
        log_level="WARNING",
        secret_key=f"bench-secret-{name}-0123456789abcdef",
    )
    upgrade(settings.effective_migration_url)
    app = create_app(settings)
    node = app.extensions["trustdesk"]
    with app.app_context():
        accounts = Accounts(db.session, node.clock, node.jobs, settings, node.passwords)
        _, admin = accounts.create(
            name, name.title(), f"admin@{name}.test", "Admin", "bench-password-1", kind=kind
        )
        who = principal_of(admin, "bench")
        work = Work(db.session, who.scope, who.actor, node.clock, node.jobs, settings, who.roles)
        people = {
            "admin": admin,
            "specialist": People(work, node.passwords).create(
                f"spec@{name}.test", "Spec", ["specialist"], "bench-password-1"
            ),
            "end_user": People(work, node.passwords).create(
                f"user@{name}.test", "User", ["end_user"], "bench-password-1"
            ),
        }
        Teams(work).create("Service Desk", member_ids=[people["specialist"].id])
        tokens = {role: Tokens(work).issue(p.id, "bench", 1)[1] for role, p in people.items()}
        db.session.commit()
    node.close()
    (root / "tokens.json").write_text(json.dumps(tokens))
    serve_forever(settings, "127.0.0.1", port, 1)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
