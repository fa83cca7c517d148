"""Templates and policies available to a run: from the input files and from -t/-p paths.

Problems of the catalog itself are reported once, here: malformed policies (E412 and structure),
two policies of one scope disagreeing on a default (E205), a template without a name, a template
that names a base (E202), and two templates of one scope with one name (E203).

Policies come only from the policy paths (-p and .compile.yaml, SPEC 2.4): a ``kind: Policy``
document among the manifests or templates is never trusted, it is an error (E208).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from .diagnostics import Diagnostic, Related, error
from .pipeline import MANIFEST_KIND, POLICY_KIND, Catalog, is_template, kind_of
from .sources import read_all
from .validate.clusters import check_cluster_names
from .validate.placement import topology_levels
from .validate.policy import load_policy_once
from .validate.policy_load import check_scopes
from .validate.quota import check_quotas


def build_catalog(
    documents,
    policy_paths=(),
    template_paths=(),
    policy_documents=(),
    template_documents=(),
    check_policy_files=False,
) -> Catalog:
    """``documents`` are the inputs; policies are read from ``policy_paths`` (or given parsed as
    ``policy_documents``), templates from ``template_paths`` (or ``template_documents``).

    ``check_policy_files`` (``compile check``): an input file of policies only is checked as
    policies, for its owner, and still loaded for no workload; a policy among manifests stays E208."""
    catalog = Catalog()
    policy_files = _policy_files(documents) if check_policy_files else set()
    checked = []
    policy_docs, problems = read_all(policy_paths)
    policy_docs += list(policy_documents)
    catalog.diagnostics.extend(problems)
    template_docs, problems = read_all(template_paths)
    template_docs += list(template_documents)
    catalog.diagnostics.extend(problems)
    from_template_paths = {id(d) for d in template_docs}
    trusted = {_key(d) for d in policy_docs}
    templates, named = [], []
    for document in _unique(list(documents) + template_docs + policy_docs):
        kind = kind_of(document)
        if kind == POLICY_KIND and _key(document) in trusted:
            catalog.policies.append(document)
        elif kind == POLICY_KIND and document.file in policy_files:
            checked.append(document)
        elif kind == POLICY_KIND:
            catalog.diagnostics.append(untrusted_policy(document))
        elif kind == MANIFEST_KIND and (
            is_template(document) or id(document) in from_template_paths
        ):
            templates.append(document)
        elif kind == MANIFEST_KIND and isinstance(document.data.get("name"), str):
            named.append(document)  # any named manifest may serve as a base
    catalog.templates.extend(templates + named)
    catalog.diagnostics.extend(check_templates(templates))
    catalog.diagnostics.extend(check_policy_documents(catalog.policies))
    catalog.diagnostics.extend(check_policy_documents(checked))
    return catalog


def _policy_files(documents) -> set[str]:
    """The input files whose every document is a Policy."""
    kinds: dict[str, set] = {}
    for document in documents:
        kinds.setdefault(document.file, set()).add(kind_of(document))
    return {file for file, found in kinds.items() if found == {POLICY_KIND}}


def _key(document) -> tuple:
    return (_realpath(document.file), document.index)


def file_key(path: str) -> str:
    """What tells two spellings of one file apart from two files (the catalog's key)."""
    return _realpath(path)


def needs_every_input(document) -> bool:
    """Whether compiling ``document`` or the catalog's report on it depends on the other input
    documents: a base workload is looked up among them, templates are checked together (E203),
    a policy among the inputs is reported (E208)."""
    data = document.data
    if kind_of(document) == POLICY_KIND:
        return True
    return isinstance(data, dict) and ("baseWorkload" in data or is_template(document))


def _realpath(path: str) -> str:
    return _resolved(os.path.abspath(path))  # absolute first: a relative path depends on the cwd


@functools.lru_cache(maxsize=4096)
def _resolved(path: str) -> str:
    """One run reads each file once, and no file moves while it runs: resolve each path once."""
    return os.path.realpath(path)


@dataclass(frozen=True)
class PathCatalog:
    """The policies and templates of -p/-t paths, read once for many inputs (``compile diff``
    compiles thousands of manifests under the same paths): :func:`catalog_for` gives each input
    the catalog ``build_catalog(documents, policy_paths, template_paths)`` would."""

    policy_documents: tuple
    template_documents: tuple
    problems: tuple  # reading the paths: E006 and the parser's, in the order build_catalog has them

    @functools.cached_property
    def files(self) -> frozenset:
        """The files read (as :func:`file_key` names them)."""
        return frozenset(file_key(d.file) for d in self.policy_documents + self.template_documents)

    @functools.cached_property
    def alone(self) -> Catalog:
        """The catalog of these paths with no other input: every input's catalog, for the inputs
        that need nothing of each other (:func:`needs_only_the_paths`)."""
        return catalog_for([], self)

    def needs_only_the_paths(self, path: str, documents) -> bool:
        """Whether ``documents`` (read from ``path``) compile against :attr:`alone` exactly as
        against the catalog of every input: none draws on the other inputs, and the file is not
        also one of the -p/-t files."""
        return not documents or not (
            (self.files and file_key(path) in self.files)  # no -p/-t file: no path to resolve
            or any(map(needs_every_input, documents))
        )


def read_path_catalog(policy_paths=(), template_paths=()) -> PathCatalog:
    policy_docs, policy_problems = read_all(policy_paths)
    template_docs, template_problems = read_all(template_paths)
    check_policy_documents(policy_docs)  # loads each policy once, before any worker is forked
    return PathCatalog(
        tuple(policy_docs), tuple(template_docs), tuple(policy_problems + template_problems)
    )


def catalog_for(documents, paths: PathCatalog, check_policy_files: bool = False) -> Catalog:
    catalog = build_catalog(
        documents,
        policy_documents=paths.policy_documents,
        template_documents=paths.template_documents,
        check_policy_files=check_policy_files,
    )
    catalog.diagnostics[:0] = paths.problems
    return catalog


def untrusted_policy(document) -> Diagnostic:
    where = document.positions.nearest(("kind",))
    message = (
        "a Policy among the manifests or templates is not loaded: policies come only from "
        "-p/--policy and the policies of .compile.yaml"
    )
    return error("E208", message, where, "kind")


def _unique(documents) -> list:
    """A file given both as input and under -t/-p counts once."""
    seen, out = set(), []
    for document in documents:
        key = _key(document)
        if key not in seen:
            seen.add(key)
            out.append(document)
    return out


def check_policy_documents(documents) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    loaded = []
    for document in documents:
        policy, problems = load_policy_once(document)
        out += problems
        if policy is not None:
            loaded.append(policy)
    return (
        out
        + check_scopes(loaded)
        + check_quotas(loaded)
        + topology_levels(loaded)[1]
        + check_cluster_names(loaded)
    )


def check_templates(templates) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    first_of: dict = {}
    for template in templates:
        data = template.data
        name = data.get("name")
        if not isinstance(name, str) or not name:
            out.append(
                error(
                    "E103",
                    "a template must have a name (other manifests name it in baseWorkload)",
                    template.positions.nearest(("usage",), prefer_key=True),
                    "name",
                )
            )
            continue
        if is_template(template) and "baseWorkload" in data:
            out.append(
                error(
                    "E202",
                    f"template {name!r} sets baseWorkload; only a workload (usage: Submit) may name a base",
                    template.positions.nearest(("baseWorkload",), prefer_key=True),
                    "baseWorkload",
                )
            )
        project = data.get("project")
        project = project if isinstance(project, str) and project else None  # as bases resolve
        key = (project, name)
        if key in first_of:
            scope = f"project {project}" if project else "global scope"
            first = first_of[key].positions.nearest(("name",))
            out.append(
                error(
                    "E203",
                    f"two templates named {name!r} in the {scope}",
                    template.positions.nearest(("name",)),
                    "name",
                    [Related("the first one", first)],
                )
            )
        else:
            first_of[key] = template
    return out
