"""``compile explain FILE``: the resolved manifest, each value with the layer and place it came from."""

from __future__ import annotations

import json
import sys

import click

from ..diagnostics import Location, error, has_errors
from .app import cli
from .common import EXIT_ENV, EXIT_INVALID, EXIT_OK, EXIT_USAGE, shared_options, text_or_json_option
from .render import as_text


@cli.command("explain")
@click.argument("file", type=click.Path())
@shared_options
@click.option(
    "--path",
    "field_path",
    metavar="PATH",
    help="Only this part of the manifest, e.g. spec.ports or spec.types.worker.",
)
@text_or_json_option
def explain_command(file, field_path, output, **options):
    """Print the resolved manifest of FILE with the source of every value (layer and file:line:col)."""
    from ..emit import restart
    from ..inputs import load_inputs
    from ..pipeline import (
        compile_documents,
    )  # here, not at the top: `compile --help` must not load the models
    from ..resolve.explain import explain_data, explain_text, find
    from ..validate.fields import parse_path

    inputs = load_inputs((file,), **options)
    units = compile_documents(inputs.documents, inputs.catalog, inputs.options)
    diagnostics = list(inputs.diagnostics) + [d for unit in units for d in unit.diagnostics]
    logical: tuple[str, ...] = ()
    if field_path:
        try:
            logical = parse_path(field_path)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--path") from None
    texts, data = [], []
    for unit in units:
        if unit.resolved is None:
            continue
        title = f"{unit.document.file}" + (
            f" (document {unit.document.index + 1})" if unit.document.index else ""
        )
        root = find(unit.resolved, logical) if logical else ()
        if root is None:
            diagnostics.append(
                error(
                    "E103",
                    f"{field_path} has no value in the resolved manifest",
                    Location(unit.document.file),
                    field_path,
                )
            )
            continue
        text = explain_text(unit.resolved, title, root)
        values = explain_data(unit.resolved, title, root)
        if root[:2] in ((), ("spec",), ("spec", "restartPolicy")):
            note = restart.explain_line(unit.resolved.data)
            if note:
                text += note
                values["restart"] = restart.effective(unit.resolved.data)
        texts.append(text)
        data.append(values)
    shown = sorted(dict.fromkeys(diagnostics), key=lambda d: d.sort_key())
    if shown:
        click.echo(as_text(shown), err=True, nl=False)
    if output == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo("---\n".join(texts), nl=False)
    sys.exit(_exit_code(diagnostics, units))


def _exit_code(diagnostics, units) -> int:
    if any(d.code == "E006" for d in diagnostics):
        return EXIT_ENV
    if not units:
        return EXIT_USAGE if not diagnostics else EXIT_INVALID
    return EXIT_INVALID if has_errors(diagnostics) else EXIT_OK
