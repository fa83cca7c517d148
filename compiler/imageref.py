"""Image references and digest pinning (pure): what runs is ``repository@sha256:…``."""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
IMAGE_DIGEST_ANNOTATION = "manifest-compiler/image-digest"


def is_digest(text: str) -> bool:
    return bool(DIGEST.fullmatch(text))


@dataclass(frozen=True)
class Reference:
    """``[registry/]path[:tag][@digest]`` split into its repository, tag and digest."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(image: str) -> Reference:
    rest, _, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:  # a colon before the last slash is a registry port, not a tag
        return Reference(rest[:colon], rest[colon + 1 :] or None, digest or None)
    return Reference(rest, None, digest or None)


def with_registry(repository: str, registry: str | None) -> str:
    """``repository`` under the ``builder.registry`` prefix, unless it already starts with it."""
    if not registry or not registry.strip("/"):
        return repository
    prefix = registry.strip().rstrip("/")
    if repository == prefix or repository.startswith(prefix + "/"):
        return repository
    return f"{prefix}/{repository}"


def pinned(image: str, digest: str, registry: str | None = None) -> str:
    """``image`` pinned to ``digest``: ``repository@sha256:…`` (any tag or older digest dropped)."""
    repository = with_registry(parse_reference(image).repository, registry)
    return f"{repository}@{digest}"
