"""The ``compile`` command group in click: every command, its options and its --help.

``compile FILE`` is ``compile emit FILE``. Each command's module is imported when the command line
needs it; cluster commands import the kubernetes client lazily, inside :mod:`compiler.cluster`.
"""

from __future__ import annotations

import click

from .. import __version__
from .common import DefaultGroup
from .direct import may_name_a_command as _may_name_a_command

__all__ = ["cli", "run"]


# Each module defines its subcommands on `cli` when imported. One module per area of the product.
COMMAND_MODULES = (
    "commands",
    "explain",
    "review",
    "cluster",
    "build",
    "queues",
    "admission",
    "admit",
    "verify",
)
# Imported first: emit, check and schema are what pre-commit, CI and `compile FILE` run; the
# other modules are imported when their command is asked for, or for --help (start-up time).
FIRST_MODULES = ("commands",)


def _register(names=COMMAND_MODULES) -> None:
    import importlib
    import importlib.util

    for name in names:
        if importlib.util.find_spec(f"{__package__}.{name}") is not None:
            importlib.import_module(f"{__package__}.{name}")


# What `compile --help` lists: each command and the first paragraph of its help, so that --help
# imports no command's module (tests/test_lazy_commands.py keeps it equal to the commands' own).
LISTING = {
    "admission": "Print ValidatingAdmissionPolicy objects that make the API server hold the policies.",
    "admit": "Will Kueue admit FILES? From the policies alone: fits, fits by borrowing, never, no flavor.",
    "cancel": "Stop job NAME: delete it with its pods. A finished or absent job is left as it is.",
    "check": "Validate FILES without emitting; for pre-commit hooks and CI.",
    "diff": "Show a policy or template change's effect on every manifest's output.",
    "emit": "Compile FILES to Kubernetes objects on stdout (the default command).",
    "explain": "Print the resolved manifest of FILE with the source of every value (layer and file:line:col).",
    "golden": "Compile every workload in DIRECTORY/*.yaml and compare with its golden file.",
    "image": "Build and push the image FILE's `builder` section describes, tagged with the git commit.",
    "list": "The jobs this tool created in the namespace, with their state and age.",
    "logs": "Logs of job NAME: rank 0 by default.",
    "queues": "The Kueue objects that hold the policies' quotas, for `kubectl apply -f -`.",
    "run": "Run CMD in IMAGE without writing a manifest, under the same policies as a manifest.",
    "schema": "Print the JSON Schema of manifests or policies (for editors).",
    "status": "State, reason, start and end times and pods per type of job NAME (or KIND/NAME).",
    "submit": "Compile FILES, apply them to the cluster (server-side apply) and say how to follow them.",
    "verify": "Compare live objects with what FILES compile to now, or find the jobs of --namespace NS compiled under other policies than today's; exit 1 on drift.",
    "watch": "Follow job NAME (or KIND/NAME) until it finishes: exit 0 if it succeeded, 1 otherwise.",
}


class Interrupted(Exception):
    """Ctrl-C while a command ran, carried past click (which would print "Aborted!" and exit 1) so
    that :func:`compiler.cli.main` says "interrupted" and exits 130 whenever SIGINT comes."""


class CommandsOnDemand(DefaultGroup):
    """Imports a command's module only when the command line needs it."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None

    def format_commands(self, ctx, formatter):
        """As click lists the commands, from :data:`LISTING`."""
        limit = formatter.width - 6 - max(map(len, LISTING))
        rows = [
            (name, click.Command(name, help=text).get_short_help_str(limit))
            for name, text in LISTING.items()
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and _may_name_a_command(args[0]):
            _register()
        return super().parse_args(ctx, args)

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands:
            _register()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx):
        _register()
        return super().list_commands(ctx)


@click.group(
    cls=CommandsOnDemand,
    default_command="emit",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="compile")
def cli() -> None:
    """Compile AIchor-style manifests into Kubernetes JobSet, RayJob and Job objects.

    \b
    compile manifest.yaml | kubectl apply -f -
    compile check manifests/*.yaml
    compile explain manifest.yaml
    """


_register(FIRST_MODULES)


def run(argv=None) -> None:
    """The whole command line, parsed by click (exits). Ctrl-C comes back as KeyboardInterrupt."""
    try:
        cli.main(args=argv, prog_name="compile", standalone_mode=True)
    except Interrupted:
        raise KeyboardInterrupt from None
