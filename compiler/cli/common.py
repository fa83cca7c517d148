"""What the commands share: the default-command group, shared options, exit codes, input loading."""

from __future__ import annotations

import sys

import click

from .constants import EXIT_ENV, EXIT_INVALID, EXIT_OK, EXIT_USAGE

__all__ = ["EXIT_ENV", "EXIT_INVALID", "EXIT_OK", "EXIT_USAGE", "DefaultGroup", "shared_options"]

# The core (the parser, the pipeline) is imported inside the functions that use it, so that
# `compile --help` and the cluster commands' argument parsing start fast.


class DefaultGroup(click.Group):
    """A group that runs ``default_command`` when the first argument is not a command name."""

    def __init__(self, *args, default_command: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_command = default_command

    def parse_args(self, ctx, args):
        if (
            args
            and self.default_command
            and args[0] not in self.commands
            and args[0] not in ("-h", "--help", "--version")
        ):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def shared_options(function):
    """-p/--policy, -t/--templates, --project, --set, --namespace, --name."""
    options = [
        click.option(
            "-p",
            "--policy",
            "policies",
            multiple=True,
            type=click.Path(),
            help="Policy file or directory (repeatable).",
        ),
        click.option(
            "-t",
            "--templates",
            "templates",
            multiple=True,
            type=click.Path(),
            help="Template file or directory (repeatable).",
        ),
        click.option(
            "--project", help="Project whose policies apply (default: the manifest's project)."
        ),
        click.option(
            "--set",
            "sets",
            multiple=True,
            metavar="PATH=VALUE",
            help="Override a value, e.g. spec.types.worker.count=8 (repeatable).",
        ),
        click.option("-n", "--namespace", help="Namespace of the output (default: the project)."),
        click.option(
            "--name",
            help="Name of the output objects (default: the manifest's name, else the file name).",
        ),
        click.option(
            "--image-digest",
            metavar="sha256:HEX",
            help="Pin every container's image to this digest (from `compile image`).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def policies_option(function):
    """-p/--policy for the commands that compile policies alone (queues, admission)."""
    return click.option(
        "-p",
        "--policy",
        "policies",
        multiple=True,
        type=click.Path(),
        help="Policy file or directory (repeatable) [default: the policies of .compile.yaml].",
    )(function)


def policy_paths(paths) -> tuple[str, ...]:
    """The -p paths, else the policies of the .compile.yaml found from here; a usage error when
    there are none, exit 3 when that .compile.yaml cannot be used."""
    if paths:
        return tuple(paths)
    from ..config import load_config
    from .render import as_text

    config, problems = load_config()
    if problems:
        click.echo(as_text(problems), err=True, nl=False)
        sys.exit(EXIT_ENV)
    if not config.policies:
        raise click.UsageError("no policies: give -p/--policy, or list them in .compile.yaml")
    return tuple(config.policies)


def timeout_option(function, names=("--request-timeout", "--timeout")):
    """--request-timeout SECONDS (or COMPILE_TIMEOUT; --timeout where no watch is bounded): how
    long any wait on the API server may last."""
    return click.option(
        *names,
        "timeout",
        type=click.FloatRange(min=0.1, max=1e6),
        envvar="COMPILE_TIMEOUT",
        default=30.0,
        show_default=True,
        metavar="SECONDS",
        help="Give up (exit 3) on an API server silent this long; a watch or log stream is "
        "opened again for as long.",
    )(function)


def request_timeout_option(function):
    """--request-timeout only: for the commands whose --timeout bounds a whole watch."""
    return timeout_option(function, ("--request-timeout",))


class Duration(click.ParamType):
    """``90``, ``90s``, ``10m``, ``2h``, ``1h30m``: seconds, as kubectl reads a duration."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip()
        seconds = parse_duration(text)
        if seconds is None or seconds <= 0:
            self.fail(f"{value!r} is not a duration such as 90s, 10m or 2h", param, ctx)
        return seconds


def parse_duration(text: str) -> float | None:
    """Seconds of ``text`` (``1h30m``, ``45s``, a plain number of seconds); None if it is none."""
    import re

    try:
        return float(text)
    except ValueError:
        pass
    parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?", text)
    if not text or parts is None:
        return None
    hours, minutes, seconds = (float(part) if part else 0.0 for part in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def watch_timeout_option(function):
    """--timeout DURATION of a watch: stop watching then (exit 1), as ``kubectl wait --timeout``."""
    return click.option(
        "--timeout",
        "watch_timeout",
        type=Duration(),
        metavar="DURATION",
        help="Stop watching after this long (90s, 10m, 2h): exit 1, the job keeps running.",
    )(function)


# `-o text|json` of the commands that print a report (explain, admit, verify)
text_or_json_option = click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
