"""Subcommands installed packages add to ``floe`` through the ``floe.commands`` entry points."""

from __future__ import annotations

import importlib.metadata

import click

from floe_core._cli_output import fail
from floe_core.errors import ErrorCode, PluginError

__all__ = ["COMMANDS_GROUP", "InstalledCommands"]

COMMANDS_GROUP = "floe.commands"
"""Entry-point group of subcommands other packages add to ``floe`` (a ``click.Command`` each;
floe-iceberg adds ``maintain``). A name ``floe`` itself defines is never replaced."""


class InstalledCommands(click.Group):
    """floe's own commands plus those installed packages register in :data:`COMMANDS_GROUP`.

    An installed command is imported only when it is run (or ``--help`` lists it).
    """

    def _installed(self) -> dict[str, importlib.metadata.EntryPoint]:
        found = importlib.metadata.entry_points(group=COMMANDS_GROUP)
        return {ep.name: ep for ep in found if ep.name not in self.commands}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._installed()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        entry = self._installed().get(cmd_name) if command is None else None
        if entry is None:
            return command
        distribution = entry.dist.name if entry.dist is not None else "?"
        try:
            loaded = entry.load()
        except Exception as exc:
            error = PluginError(
                f"the command {cmd_name!r} ({entry.value}, from {distribution}) does not load: "
                f"{type(exc).__name__}: {exc}; reinstall {distribution}",
                code=ErrorCode.PLUGIN_LOAD_FAILED,
            )
            fail(error)
        if not isinstance(loaded, click.Command):
            fail(
                PluginError(
                    f"the command {cmd_name!r} ({entry.value}, from {distribution}) is a "
                    f"{type(loaded).__name__}, not a click command",
                    code=ErrorCode.PLUGIN_INCOMPATIBLE,
                )
            )
        return loaded
