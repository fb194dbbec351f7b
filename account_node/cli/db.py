"""``trustdesk db``: the database schema."""

from __future__ import annotations

import click

from account_node.cli.common import settings_of
from account_node.cli.group import main


@main.group()
def db_group() -> None:
    """Database schema."""


main.add_command(db_group, "db")


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply migrations (and on PostgreSQL, RLS policies and the runtime role's grants)."""
    from account_node.migrations import upgrade

    settings = settings_of(ctx)
    if not settings.is_postgresql:
        from pathlib import Path

        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    upgrade(
        settings.effective_migration_url,
        settings.database_app_role,
        app_password=settings.database_app_password,
    )
    click.echo("database is up to date")
