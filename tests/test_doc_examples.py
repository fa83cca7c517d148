"""The README's and docs/*.md's command examples, run: what they show is what the tool prints.

The convention (README, "Documentation examples"): a fenced block whose first line is ``$ compile …``
and which shows output is an example, and the line before its fence says how to run it:

    <!-- example -->                          a scratch copy of this repository
    <!-- example user-repo -->                a user's repository: .compile.yaml, platform/
    <!-- example … change FILE 'OLD' 'NEW' --> main is the copy; branch change (HEAD) replaces
                                              OLD by NEW in FILE (repeatable)
    <!-- not an example: REASON -->           shown, not run (a cluster, an illustration)

Either copy also holds docs/examples/* at its root (a researcher's manifests) and is a git
repository. In the expected output a line ``…`` stands for any lines and ``…`` inside a line for
any text. Each ``$ compile`` line runs in-process; its stderr, then its stdout, must match.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from example_support import REPO, run_cli

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
OUT_OF_SCOPE = {"cluster.md"}  # cluster commands need a cluster; docs/cluster.md is not run here
_MARK = re.compile(r"<!--\s*(example\b.*?|not an example:.*?)\s*-->")
_FENCE = re.compile(r"^(\s*)```")


@dataclass(frozen=True)
class Example:
    doc: str
    line: int  # of the fence, 1-based
    mark: str | None
    commands: tuple[tuple[str, tuple[str, ...]], ...]  # (command line, expected output lines)

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def examples() -> list[Example]:
    """Every fenced block that starts with ``$ compile`` and shows output, in every doc."""
    found = []
    for doc in DOCS:
        if doc.name in OUT_OF_SCOPE:
            continue
        lines = doc.read_text(encoding="utf-8").splitlines()
        index = 0
        while index < len(lines):
            fence = _FENCE.match(lines[index])
            if not fence:
                index += 1
                continue
            end = next(i for i in range(index + 1, len(lines)) if _FENCE.match(lines[i]))
            body = [text[len(fence.group(1)) :] for text in lines[index + 1 : end]]
            commands = _commands(body)
            if commands and any(expected for _, expected in commands):
                mark = _MARK.search(lines[index - 1]) if index else None
                name = str(doc.relative_to(REPO))
                found.append(Example(name, index + 1, mark and mark.group(1), commands))
            index = end + 1
    return found


def _commands(body: list[str]) -> tuple:
    if not body or not body[0].startswith("$ compile"):
        return ()
    commands: list[tuple[str, list[str]]] = []
    for text in body:
        if text.startswith("$ "):
            commands.append((text[2:], []))
        else:
            commands[-1][1].append(text)
    return tuple((command, tuple(expected)) for command, expected in commands)


EXAMPLES = examples()


def test_every_example_with_output_says_how_to_run_it():
    unmarked = [e.id for e in EXAMPLES if e.mark is None]
    assert not unmarked, (
        f"mark these with <!-- example … --> or <!-- not an example: … -->: {unmarked}"
    )


def test_the_docs_have_examples_to_run():
    assert sum(1 for e in EXAMPLES if e.mark and e.mark.startswith("example")) >= 5


@pytest.mark.parametrize(
    "example",
    [e for e in EXAMPLES if e.mark and e.mark.startswith("example")],
    ids=lambda e: e.id,
)
def test_an_example_prints_what_the_doc_shows(example, tmp_path):
    words = shlex.split(example.mark)
    _scratch(tmp_path, user_repo="user-repo" in words, changes=_changes(words))
    for command, expected in example.commands:
        argv = shlex.split(command)
        assert argv[0] == "compile" and not {"|", ">", "&&"} & set(argv), command
        result = run_cli(*argv[1:], cwd=tmp_path)
        printed = (result.stderr + result.stdout).splitlines()
        assert _matches(expected, printed), f"{example.id}: `{command}` printed:\n" + "\n".join(
            printed
        )


def _changes(words: list[str]) -> list[tuple[str, str, str]]:
    """Every ``change FILE OLD NEW`` of the mark."""
    return [
        (words[at + 1], words[at + 2], words[at + 3])
        for at, word in enumerate(words)
        if word == "change"
    ]


def _scratch(root: Path, user_repo: bool, changes) -> None:
    if user_repo:
        shutil.copytree(REPO / "examples" / "policies", root / "platform" / "policies")
        shutil.copytree(REPO / "examples" / "templates", root / "platform" / "templates")
        (root / ".compile.yaml").write_text(
            "policies: [platform/policies]\ntemplates: [platform/templates]\n"
        )
    else:
        shutil.copytree(REPO / "examples", root / "examples")
        shutil.copytree(REPO / "golden", root / "golden")
    for item in (REPO / "docs" / "examples").iterdir():
        if item.is_dir():
            shutil.copytree(item, root / item.name)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "main")
    for file, old, new in changes:
        path = root / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{file} has no {old!r}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    if changes:
        _git(root, "checkout", "-qb", "change")
        _git(root, "commit", "-qam", "change")


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=Docs",
            "-c",
            "user.email=docs@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=root,
        check=True,
        capture_output=True,
    )


def _matches(expected: tuple[str, ...], printed: list[str]) -> bool:
    """``…`` alone on a line: any lines; ``…`` inside a line: any text."""
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line.strip() == "…" else _line_pattern(line) + r"\n"
        for line in expected
    )
    return re.fullmatch(pattern, "".join(text + "\n" for text in printed)) is not None


def _line_pattern(line: str) -> str:
    return "[^\n]*?".join(re.escape(part) for part in line.split("…"))


@pytest.mark.parametrize(
    ("expected", "printed", "matches"),
    [
        (("a", "b"), ["a", "b"], True),
        (("a", "b"), ["a", "b", "c"], False),
        (("a", "…"), ["a", "b", "c"], True),
        (("a", "…", "d"), ["a", "b", "c", "d"], True),
        (("x: sha256:12…",), ["x: sha256:1234"], True),
        (("x: sha256:12…",), ["y: sha256:1234"], False),
    ],
)
def test_the_elision_rules(expected, printed, matches):
    assert _matches(expected, printed) is matches
