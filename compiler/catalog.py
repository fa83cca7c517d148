"""Templates and policies available to a run: from the input files and from -t/-p paths."""

from __future__ import annotations

from .pipeline import MANIFEST_KIND, POLICY_KIND, Catalog, is_template, kind_of
from .sources import read_all


def build_catalog(documents, policy_paths=(), template_paths=()) -> Catalog:
    catalog = Catalog()
    policy_docs, problems = read_all(policy_paths)
    catalog.diagnostics.extend(problems)
    template_docs, problems = read_all(template_paths)
    catalog.diagnostics.extend(problems)
    for document in list(documents) + template_docs + policy_docs:
        kind = kind_of(document)
        if kind == POLICY_KIND:
            catalog.policies.append(document)
        elif kind == MANIFEST_KIND and (is_template(document) or document in template_docs):
            catalog.templates.append(document)
    return catalog
