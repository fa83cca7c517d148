"""The edge of the pipeline: read manifests, templates, policies and .compile.yaml, parse --set and
--image-digest, and build the catalog and options the pure pipeline takes (SPEC 2, 3.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .diagnostics import Diagnostic, Location, error
from .pipeline import Catalog, Options, Unit, compile_documents

TYPE_CHECKING = False  # typing is for the type checker: a cold start never imports it
if TYPE_CHECKING:
    from .catalog import PathCatalog


def set_fragment(segments: Sequence[str], value) -> dict:
    """A manifest fragment that sets ``value`` at the logical path ``segments``."""
    from .resolve.itemized import LIST_ITEMS, STRUCTURED_LISTS, matches

    node = value
    for depth in range(len(segments) - 1, -1, -1):
        parent = tuple(segments[:depth])
        label_member = None
        for pattern, label in {**STRUCTURED_LISTS, **LIST_ITEMS}.items():
            if matches(pattern, parent):
                label_member = label
        if label_member is not None:
            item = dict(node) if isinstance(node, dict) else {}
            node = [{label_member: segments[depth], **item}]
            # the list item was the current segment; the list itself is the parent
            continue
        node = {segments[depth]: node}
    return node if isinstance(node, dict) else {}


MAX_SET_DEPTH = 32  # the deepest manifest field is 8 segments; resolving recurses per segment


def parse_sets(sets) -> tuple[list, list[Diagnostic]]:
    from .parse import Positions, load_documents
    from .resolve import Layer
    from .resolve.tree import parse_path

    layers, problems = [], []
    for index, text in enumerate(sets):
        where = Location("<--set>", 1, index + 1)
        if "=" not in text:
            problems.append(error("E207", f"--set {text!r} needs the form PATH=VALUE", where))
            continue
        path, raw = text.split("=", 1)
        try:
            segments = parse_path(path.strip())
        except ValueError as exc:
            problems.append(error("E207", f"--set {text!r}: {exc}", where))
            continue
        if len(segments) > MAX_SET_DEPTH:
            problems.append(
                error(
                    "E207",
                    f"--set path has {len(segments)} segments; a manifest field is at most "
                    f"{MAX_SET_DEPTH} deep",
                    where,
                )
            )
            continue
        documents, diagnostics = load_documents(raw if raw.strip() else '""', f"<--set {path}>")
        if diagnostics or not documents:
            problems.append(error("E207", f"--set {text!r}: the value is not valid YAML", where))
            continue
        fragment = set_fragment(segments, documents[0].data)
        positions = Positions(f"--set {text}")
        layers.append(Layer("set", f"--set {path}", fragment, positions))
    return layers, problems


@dataclass
class Inputs:
    """The files of a run, read, with their catalog and options."""

    documents: list
    catalog: Catalog
    options: Options
    diagnostics: list
    files: list
    config_file: str | None = None  # the .compile.yaml that applies, if any


@dataclass
class Setting:
    """Everything a run compiles its files with: the policies and templates of the -p/-t paths
    and .compile.yaml, read once; the options; the problems of the command line and the config."""

    paths: PathCatalog
    options: Options
    problems: list
    config_file: str | None = None


def load_setting(
    policies=(),
    templates=(),
    project=None,
    sets=(),
    namespace=None,
    name=None,
    extra_annotations=(),
    image_digest=None,
    config=None,
) -> Setting:
    """What :func:`load_inputs` reads besides the input files."""
    from .catalog import read_path_catalog
    from .config import load_config

    config, config_problems = load_config() if config is None else (config, [])
    set_layers, set_problems = parse_sets(sets)
    paths = read_path_catalog(
        config.policies + tuple(policies), config.templates + tuple(templates)
    )
    digest_annotations, digest_problems = parse_image_digest(image_digest)
    options = Options(
        name=name,
        namespace=namespace,
        project=project,
        default_project=config.project,
        sets=tuple(set_layers),
        extra_annotations=tuple(extra_annotations) + digest_annotations,
        image_digest=image_digest if not digest_problems else None,
    )
    problems = config_problems + set_problems + digest_problems
    return Setting(paths, options, problems, config.file)


def load_inputs(files, check_policy_files=False, **setting) -> Inputs:
    """Read the files, the templates and the policies; build the catalog and the options.

    A ``.compile.yaml`` found from the current directory upward adds its policies and templates
    before those given here and supplies the project a manifest without one belongs to;
    ``project`` (--project) overrides every manifest's. ``config`` given: use it, find none.
    ``setting``: the keyword arguments of :func:`load_setting`. ``check_policy_files``
    (``compile check``): an input file of policies only is checked as policies."""
    from .catalog import catalog_for
    from .sources import expand_paths, read_all

    loaded = load_setting(**setting)
    documents, diagnostics = read_all(files)
    catalog = catalog_for(documents, loaded.paths, check_policy_files)
    return Inputs(
        documents,
        catalog,
        loaded.options,
        diagnostics + loaded.problems + catalog.diagnostics,
        expand_paths(files),
        loaded.config_file,
    )


def parse_image_digest(text) -> tuple[tuple, list[Diagnostic]]:
    """(the annotation recording the digest, problems) for --image-digest."""
    from .imageref import IMAGE_DIGEST_ANNOTATION, is_digest

    if text is None:
        return (), []
    if not is_digest(text):
        return (), [
            error(
                "E601",
                f"--image-digest {text!r} is not sha256: followed by 64 lower-case hex digits",
                Location("<--image-digest>", 1, 1),
            )
        ]
    return ((IMAGE_DIGEST_ANNOTATION, text),), []


def compile_paths(files, **options) -> tuple[Inputs, list[Unit], list[Diagnostic]]:
    """Read ``files`` and everything they draw on, and compile them: the inputs, the units and
    every diagnostic, in the order they are reported."""
    inputs = load_inputs(files, **options)
    units = compile_documents(inputs.documents, inputs.catalog, inputs.options)
    diagnostics = list(inputs.diagnostics)
    for unit in units:
        diagnostics.extend(unit.diagnostics)
    return inputs, units, sorted_diagnostics(diagnostics)


def sorted_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    unique = list(dict.fromkeys(diagnostics))
    return sorted(unique, key=lambda d: d.sort_key())
