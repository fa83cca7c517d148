"""The repository works wherever it is cloned: no file names a path of the machine it was written on
(issue 19: a comment named the developers' absolute path of ../shared)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# home and work directories of a development machine; container paths such as /root/.cache in a
# pod are not among them (none is emitted), so any match is a machine's path
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|root|home/[\w.-]+|Users/[\w.-]+)/")


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    files = [REPO / name.decode() for name in listed if name]
    return [f for f in files if f.is_file() and b"\0" not in f.read_bytes()[:8192]]


def machine_paths(text: str, here: str) -> list[str]:
    """The machine paths in text; here is the folder the repository sits in (../shared's too)."""
    found = [m.group(0) for m in MACHINE_PATH.finditer(text)]
    if len(here) > 1:
        found += re.findall(r"(?<![\w.~-])" + re.escape(here) + r"/", text)
    return found


def test_no_file_names_a_path_of_this_machine():
    here = str(REPO.parent)
    offending = {}
    for path in tracked_text_files():
        if path == Path(__file__).resolve():
            continue  # this file's own examples of such paths
        found = machine_paths(path.read_text(errors="replace"), here)
        if found:
            offending[str(path.relative_to(REPO))] = sorted(set(found))
    assert offending == {}


def test_the_check_finds_such_paths():
    assert machine_paths("# matches /work/shared/crds/x.yaml", "/nowhere") == ["/work/"]
    assert machine_paths("see /home/ada/src and /Users/ada/x", "/nowhere") == [
        "/home/ada/",
        "/Users/ada/",
    ]
    assert machine_paths("cache: /srv/ci/shared", "/srv/ci") == ["/srv/ci/"]
    assert machine_paths("cd /srv/cider", "/srv/ci") == []
    assert machine_paths("mountPath: /data/work/ and ~/root/x", "/nowhere") == []
