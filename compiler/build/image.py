"""Image references, build plans and digest pinning: pure functions over plain values."""

from __future__ import annotations

import posixpath
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


def pin_images(
    objects: list[dict], image: str, digest: str, registry: str | None = None
) -> list[dict]:
    """A copy of ``objects`` where every container running ``image`` runs it pinned to ``digest``."""
    target = pinned(image, digest, registry)

    def walk(node):
        if isinstance(node, dict):
            out = {key: walk(value) for key, value in node.items()}
            if out.get("image") == image and "name" in out:
                out["image"] = target
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return [walk(obj) for obj in objects]


# ---------------------------------------------------------------------------------------------
# build plans


@dataclass(frozen=True)
class BuildPlan:
    """Everything a builder needs, with paths relative to the repository root (POSIX)."""

    repository: str  # where the image is pushed, registry included
    tag: str
    context: str  # "." for the repository root
    dockerfile: str  # relative to the repository root
    build_args: tuple = ()  # (name, value) pairs, in manifest order
    target: str | None = None
    commit: str = ""
    remote_url: str | None = None
    remote_branch: str | None = None  # e.g. "main" (from origin/main)

    @property
    def destination(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def dockerfile_in_context(self) -> str:
        """The Dockerfile relative to the context (what kaniko's --dockerfile expects)."""
        return posixpath.relpath(self.dockerfile, self.context)


def normalise_path(path: str | None, default: str) -> str:
    text = (path or "").strip() or default
    normal = posixpath.normpath(text.replace("\\", "/"))
    return "." if normal in ("", ".") else normal


def dockerfile_candidates(context: str, dockerfile: str) -> tuple[str, ...]:
    """Where ``builder.dockerfile`` may be, relative to the repository root, in order of preference.

    Real manifests write it relative to the context (``context: smoke-test`` with
    ``dockerfile: ./build/Dockerfile``); the AIchor reference says relative to the repository root.
    The first that exists wins.
    """
    in_context = normalise_path(posixpath.join(context, dockerfile), "Dockerfile")
    from_root = normalise_path(dockerfile, "Dockerfile")
    return tuple(dict.fromkeys((in_context, from_root)))


def image_tag(short_commit: str, dirty: bool) -> str:
    """The commit, marked when the build includes uncommitted changes."""
    return f"{short_commit}-dirty" if dirty else short_commit


def build_args_of(builder) -> tuple:
    return tuple((str(name), str(value)) for name, value in (builder.buildArgs or {}).items())
