"""The `alpr` command. Each subcommand lives beside the code it drives and is imported lazily,
so `alpr services up` never imports OpenCV and `alpr db migrate` never imports the broker client."""

from __future__ import annotations

import importlib
import sys

import click

# name -> "module:attribute" of a click command or group.
SUBCOMMANDS: dict[str, str] = {
    "demo": "alpr.demo:demo",
    "init": "alpr.init:init",
    "services": "services.cli:services",
    "db": "db.cli:db",
    "eval": "evaluate.cli:eval_",
    "edge": "edge.cli:edge",
    "api": "api.cli:api",
    "watchlist": "api.cli:watchlist",
    "events": "api.cli:events",
    "erase": "api.cli:erase",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            # A missing optional extra (e.g. `edge` without OpenCV) must not break the other commands.
            return _unavailable(cmd_name, exc)
        return getattr(module, attr)


def _unavailable(name: str, exc: ImportError) -> click.Command:
    reason = f"`alpr {name}` is unavailable: {exc}. Install the extras: pip install -e '.[all]'"

    def fail() -> None:
        raise click.ClickException(reason)

    return click.Command(name, callback=fail, help=f"(unavailable: {exc})", add_help_option=False)


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Open licence-plate recognition: edge, dataflow, storage, alerts, search."""
    from telemetry import logs

    # Tools log warnings; long-running commands (edge, api serve) switch to settings `log` once read.
    logs.set_verbosity(verbose)
    logs.configure()


def main() -> None:
    """Console entry point."""
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
