"""The root ``trustdesk`` group: it loads the settings every command reads.

Command modules import ``main`` from here and register on it; this module imports none of
them, so the package's ``__init__`` can import them after it without a cycle.
"""

from __future__ import annotations

import click

from account_node.settings import SettingsError, load_settings


@click.group()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    """TrustDesk account node."""
    try:
        ctx.obj = load_settings(config_file)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
