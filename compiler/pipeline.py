"""The pure pipeline: parsed documents -> resolved -> validated -> emitted, with diagnostics.

Nothing here reads files or talks to a cluster: :mod:`compiler.sources` reads, the CLI renders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .diagnostics import Location, error, has_errors
from .digests import sha256
from .documents import MANIFEST_KIND, POLICY_KIND, is_template, kind_of
from .emit import Workload, emit
from .emit.naming import dns1035
from .imageref import pinned
from .layers import layers_for
from .parse import Document
from .provenance import COMPILER_VERSION, rules_digest
from .resolve import Layer, Resolved, resolve
from .validate import validate_workload
from .validate.boundary import reject_duplicate_names
from .validate.clusters import pinned_worker
from .validate.located import TEMPLATES_OWN, in_the_workload
from .validate.policy import check_emitted_image, policies_for
from .validate.runs import gpu_product_label, rdma_networks
from .validate.scope import binding_policies


@dataclass(frozen=True)
class Options:
    """The command line's settings for every workload of a run."""

    name: str | None = None
    namespace: str | None = None
    project: str | None = None
    default_project: str | None = (
        None  # from .compile.yaml: applies when the manifest names no project
    )
    sets: tuple = ()  # Layer objects built from --set
    extra_annotations: tuple = ()
    image_digest: str | None = None  # --image-digest: every container runs the image pinned to it


@dataclass
class Catalog:
    """Everything a workload may draw on besides itself: templates and policies."""

    templates: list = field(
        default_factory=list
    )  # Documents with usage: Template (or named manifests)
    policies: list = field(default_factory=list)  # Documents of kind Policy
    diagnostics: list = field(default_factory=list)


@dataclass
class Unit:
    """One workload document and everything the pipeline made of it."""

    document: Document
    resolved: Resolved | None = None
    workload: Workload | None = None
    objects: list = field(default_factory=list)
    diagnostics: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def digest(data) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)
    return "sha256:" + sha256(canonical.encode()).hexdigest()


def workload_name(document: Document, options: Options) -> tuple[str, tuple]:
    """(name, path of the field it came from) — --name, else the manifest's name, else the file name."""
    if options.name:
        return options.name, ()
    data = document.data if isinstance(document.data, dict) else {}
    if isinstance(data.get("name"), str) and data["name"].strip():
        return dns1035(data["name"]), ("name",)
    stem = document.file.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".yaml", ".yml"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    name = dns1035(stem) or "workload"
    if document.index:
        name = f"{name}-{document.index}"
    return name, ()


def compile_document(document: Document, catalog: Catalog, options: Options) -> Unit:
    """Resolve, validate and emit one workload document; its problems placed in the workload."""
    unit = _compiled(document, catalog, options)
    if unit.resolved is not None:
        unit.diagnostics = in_the_workload(unit.diagnostics, document, unit.resolved.layers)
    return unit


def _compiled(document: Document, catalog: Catalog, options: Options) -> Unit:
    unit = Unit(document)
    layers, problems = layers_for(document, catalog, options)
    unit.diagnostics.extend(problems)
    if has_errors(problems):
        return unit
    resolved = resolve(layers)
    unit.resolved = resolved
    name, name_path = workload_name(document, options)
    data = resolved.data
    project = (
        options.project
        or (data.get("project") if isinstance(data.get("project"), str) else None)
        or options.default_project
    )
    namespace = options.namespace or project
    manifest, types, diagnostics = validate_workload(
        resolved, catalog, name, name_path, project, namespace, document, options
    )
    unit.diagnostics.extend(diagnostics)
    if manifest is None or has_errors(diagnostics):
        return unit
    gpu_label, cluster_problems = gpu_product_label(policies_for(catalog.policies, project))
    rdma, rdma_problems = rdma_networks(policies_for(catalog.policies, project))
    unit.diagnostics.extend(cluster_problems + rdma_problems)
    unit.workload = Workload(
        manifest=manifest,
        types=types,
        name=name,
        namespace=namespace,
        project=project,
        source=document.file,
        digest=digest(data),
        rules_digest=rules_in_force(catalog, project, layers),
        compiler_version=COMPILER_VERSION,
        extra_annotations=options.extra_annotations,
        image=_pinned_image(manifest, options.image_digest),
        gpu_product_label=gpu_label,
        rdma=rdma,
        worker=pinned_worker(manifest, policies_for(catalog.policies, project)),
    )
    unit.diagnostics.extend(
        check_emitted_image(
            resolved,
            binding_policies(catalog.policies, project, namespace),
            manifest.spec.image,
            unit.workload.image,
        )
    )
    if not unit.ok:
        return unit
    unit.objects = emit(unit.workload)
    return unit


def rules_in_force(catalog: Catalog, project: str | None, layers: list[Layer]) -> str:
    """The digest of the policies that apply to ``project`` and of the base workload used."""
    policies = [policy.document.data for policy in policies_for(catalog.policies, project)]
    base = next((layer.data for layer in layers if layer.role == "base"), None)
    return rules_digest(policies, base)


def _pinned_image(manifest, image_digest: str | None) -> str | None:
    """--image-digest: ``spec.image`` at that digest, from ``builder.registry`` when set."""
    if not image_digest:
        return None
    registry = manifest.builder.registry if manifest.builder else None
    return pinned(manifest.spec.image, image_digest, registry)


def compile_documents(documents: list[Document], catalog: Catalog, options: Options) -> list[Unit]:
    """Every workload (``usage: Submit`` manifest) among ``documents``, compiled."""
    units = []
    for document in documents:
        if document.data is None:
            continue
        kind = kind_of(document)
        if kind == MANIFEST_KIND and not is_template(document):
            units.append(_guarded(compile_document, document, catalog, options))
        elif kind == MANIFEST_KIND:
            units.append(_guarded(check_template, document))
        elif kind not in (MANIFEST_KIND, POLICY_KIND):
            units.append(_not_a_manifest(document))
    return reject_duplicate_names(units)


def _guarded(step, document: Document, *args) -> Unit:
    """One document's unexpected failure (a bug) becomes its E339 diagnostic, so the other
    files are still compiled and reported: one file's crash never hides another's problems."""
    try:
        return step(document, *args)
    except Exception as exc:  # reported as a diagnostic, never swallowed
        line, column = document.positions.values.get((), (1, 1))
        message = f"internal error ({type(exc).__name__}: {exc}); this is a bug, please report it"
        where = Location(document.file, line, column)
        return Unit(document, diagnostics=[error("E339", message, where, "")])


def check_template(document: Document) -> Unit:
    """A template is a fragment: its keys and values must be right, but the fields a workload
    will supply (operator, image, command, types) may be missing. Nothing is emitted for it."""
    from .validate.structure import validate_manifest

    data = document.data
    assert isinstance(data, dict)  # a template is a mapping: kind_of said so
    name = data.get("name")
    spec = data.get("spec")
    if isinstance(spec, dict) and "operator" not in spec and isinstance(spec.get("types"), dict):
        # Check the types against the shape they evidently have; the workload names the operator.
        shape = "kuberay" if "Head" in spec["types"] or "Workers" in spec["types"] else "jobset"
        data = {**data, "spec": {**spec, "operator": shape}}
    resolved = resolve([Layer("base", f"template {name}", data, document.positions)])
    _, _, diagnostics = validate_manifest(resolved)
    diagnostics = [d for d in diagnostics if d.code != "E103"]
    if not diagnostics:
        diagnostics = _template_warnings(document)
    return Unit(document, resolved=resolved, diagnostics=diagnostics)


def _template_warnings(document: Document) -> list:
    """The warnings about what the template itself writes (a ports Service reachable only inside
    the cluster, a field with no effect): its owner's to see here, not every workload's that
    uses it. Found by compiling the template as a workload of its own, where it is complete."""
    unit = _compiled(document, Catalog(), Options())
    return [
        d for d in unit.diagnostics if d.code in TEMPLATES_OWN and d.location.file == document.file
    ]


_SHAPES = (
    (list, "a list"),
    (str, "a plain string"),
    (bool, "a boolean"),
    ((int, float), "a number"),
)


def _not_a_manifest(document: Document) -> Unit:
    data = document.data
    kind = data.get("kind") if isinstance(data, dict) else None
    at = (
        document.positions.nearest(("kind",))
        if kind is not None
        else Location(document.file, *(document.positions.values.get((), (1, 1))))
    )
    if kind is not None:
        message = f"kind {kind!r} is not {MANIFEST_KIND!r} or {POLICY_KIND!r}"
    elif isinstance(data, dict):
        message = f"this document has no kind and no spec.operator; add 'kind: {MANIFEST_KIND}' and a spec"
    else:
        shape = next((name for kind_, name in _SHAPES if isinstance(data, kind_)), "a scalar")
        message = f"this document is {shape}, not a mapping with kind {MANIFEST_KIND!r}"
    return Unit(
        document, diagnostics=[error("E010", message, at, "kind" if kind is not None else "")]
    )
