"""Every cluster command against servers that misbehave: no traceback, no hang, one line on
stderr and the exit code of README's table (*Exit codes of the cluster commands*).

The servers (tests/fake_apiserver.py) bind 127.0.0.1 and stop by themselves. Commands run
in-process with ``--timeout`` short (COMPILE_TIMEOUT=1), each in a thread that must end within
a bound: a command still running then is a hang.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from example_support import REPO
from fake_apiserver import (
    JOB_NAME,
    JOBSETS,
    Answer,
    FakeKubernetes,
    Serving,
    kubeconfig,
    make_pki,
    status_body,
)
from terminal import from_a_terminal

from compiler.cli.app import cli

TIMEOUT = "1"  # seconds: --timeout of every command here
HANG = 30.0  # seconds after which a command that has not ended counts as hung

MANIFEST = textwrap.dedent("""\
    kind: AIchorManifest
    apiVersion: 0.2.3
    name: fresh
    spec:
      operator: jobset
      image: registry.example.com/train:1.0
      command: "python -u train.py"
      types:
        worker:
          count: 1
          resources:
            cpus: 1
            ramRatio: 1
    """)

COMMANDS = {
    "status": ["status", JOB_NAME],
    "cancel": ["cancel", JOB_NAME],
    "logs": ["logs", JOB_NAME],
    "logs -f": ["logs", JOB_NAME, "-f"],
    "watch": ["watch", JOB_NAME],
    "submit": ["submit", "MANIFEST", "--watch"],
    "run": ["run", "--image", "registry.example.com/train:1.0", "--", "python", "train.py"],
    "list": ["list"],
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_command(
    args: list[str], server: Serving, pki, tmp_path: Path, config: Path | None = None
) -> Outcome:
    """``compile ARGS`` in-process against ``server``, in a thread that must end within HANG
    (with ``config`` as the kubeconfig, else one with the client certificate)."""
    config = config or kubeconfig(tmp_path / "kubeconfig", server.url, pki)
    manifest = tmp_path / "fresh.yaml"
    manifest.write_text(MANIFEST)
    args = [str(manifest) if arg == "MANIFEST" else arg for arg in args]
    env = {"KUBECONFIG": str(config), "COMPILE_TIMEOUT": TIMEOUT, "USER": "ada"}
    result: dict = {}

    def invoke():
        try:
            result["run"] = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=invoke, daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"compile {' '.join(args)} hangs"
    if "error" in result:
        raise result["error"]  # a traceback: the test fails with it
    run = result["run"]
    return Outcome(run.exit_code, run.stdout, run.stderr)


def assert_one_line_error(outcome: Outcome, code: int, *says: str) -> None:
    assert "Traceback" not in outcome.stderr
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, outcome.stderr
    assert outcome.code == code, outcome.stderr
    for text in says:
        assert text in errors[0], errors[0]


# ---------------------------------------------------------------------------------------------
# servers that are not a Kubernetes API server, or none at all: exit 3 from every command


def always(answer: Answer):
    return lambda method, path, query: answer


def huge_list(handler) -> None:
    """A list that ignores ``limit``: items until the client stops reading (~9 MiB at most)."""
    item = b'{"metadata": {"name": "job-%d", "namespace": "default"}},'
    handler.wfile.write(b'{"kind": "JobSetList", "metadata": {}, "items": [')
    for start in range(0, 160_000, 1000):
        handler.wfile.write(b"".join(item % n for n in range(start, start + 1000)))
    handler.wfile.write(b'{"metadata": {"name": "last"}}]}')


def truncated(handler) -> None:
    handler.wfile.write(b'{"kind": "JobSet", "metadata": {"na')


BAD = {
    # (how the server is made, what it answers) -> what the one line says
    "refused": ("refused", None, "Connection refused"),
    "tls-mismatch": ("http-as-https", always(Answer(200, b"{}")), "no reachable cluster"),
    "silent": ("silent", None, "did not answer within 1s"),
    "html": ("https", always(Answer(200, b"<html><body>hi</body></html>", "text/html")), "HTML"),
    "html-404": ("https", always(Answer(404, b"<html>Not Found</html>", "text/html")), "HTML"),
    "html-401": ("https", always(Answer(401, b"<!doctype html><p>login</p>", "text/html")), "HTML"),
    "json-list": ("https", always(Answer(200, b"[1, 2, 3]")), "a JSON list, not a JSON object"),
    "json-string": ("https", always(Answer(200, b'"ok"')), "a string, not a JSON object"),
    "json-number": ("https", always(Answer(200, b"5")), "a number, not a JSON object"),
    "json-null": ("https", always(Answer(200, b"null")), "null, not a JSON object"),
    "empty": ("https", always(Answer(200, b"")), "not JSON"),
    "garbage": ("https", always(Answer(200, b"\x00\xff\xfe garbage")), "not JSON"),
    # objects of the wrong shape (what each says exactly: tests/test_responses.py)
    "kind-number": ("https", always(Answer(200, b'{"kind": 5, "metadata": {"name": "t"}}')), ""),
    "metadata-list": ("https", always(Answer(200, b'{"kind": "x", "metadata": []}')), ""),
    "items-string": ("https", always(Answer(200, b'{"kind": "PodList", "items": "many"}')), ""),
    "items-numbers": ("https", always(Answer(200, b'{"kind": "PodList", "items": [1, 2]}')), ""),
    "labels-list": (
        "https",
        always(Answer(200, b'{"metadata": {"name": "t", "labels": ["a"]}, "items": []}')),
        "",
    ),
    "conditions-string": (
        "https",
        always(Answer(200, b'{"metadata": {"name": "t"}, "status": {"conditions": "done"}}')),
        "",
    ),
    "other-kind": (
        "https",
        always(Answer(200, b'{"kind": "Deployment", "metadata": {"name": "train"}, "items": []}')),
        "kind is 'Deployment'",
    ),
    "huge": ("https", always(Answer(stream=huge_list)), "larger than 8 MiB"),
    "truncated": ("https", always(Answer(stream=truncated)), "not JSON"),
    "401": (
        "https",
        always(Answer(401, status_body(401, "Unauthorized", "Unauthorized"))),
        "does not accept these credentials (401)",
    ),
    "403": (
        "https",
        always(
            Answer(403, status_body(403, "Forbidden", 'User "ada" cannot do that', {"kind": "x"}))
        ),
        "not allowed: these credentials may not ",
    ),
    "404-page": (
        "https",
        always(Answer(404, b"404 page not found", "text/plain")),
        "its controller is not installed",
    ),
    "500": (
        "https",
        always(Answer(500, status_body(500, "InternalError", "etcd\nis\non\nfire\n" * 10))),
        "the API server failed: 500 InternalError: etcd is on fire",
    ),
    "503-html": (
        "https",
        always(Answer(503, b"<html>\n<h1>503</h1>\n</html>\n", "text/html")),
        "the API server failed: 503",
    ),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("server", BAD)
def test_a_misbehaving_server_is_one_line_and_exit_3(server, command, pki, tmp_path):
    kind, behaviour, says = BAD[server]
    with Serving(behaviour, pki, kind) as serving:
        outcome = run_command(COMMANDS[command], serving, pki, tmp_path)
    expected = []
    if kind == "https" and server not in ("401", "403", "404-page", "500", "503-html"):
        expected.append(f"not a Kubernetes API server: {serving.url}/")
    assert_one_line_error(outcome, 3, *expected, says)


def test_a_forbidden_request_names_the_permission_it_lacks(pki, tmp_path):
    forbidden = status_body(
        403,
        "Forbidden",
        'jobsets.jobset.x-k8s.io "train" is forbidden: User "ada" cannot get resource "jobsets"',
    )
    with Serving(always(Answer(403, forbidden)), pki, "https") as serving:
        outcome = run_command(["status", "jobset/train"], serving, pki, tmp_path)
    assert_one_line_error(
        outcome,
        3,
        "not allowed: these credentials may not get jobsets.jobset.x-k8s.io in namespace default",
        'User "ada" cannot get resource "jobsets"',
    )


def test_a_missing_controller_is_exit_3_and_a_refusal_exit_1(pki, tmp_path):
    fake = FakeKubernetes()
    missing = status_body(404, "NotFound", "the server could not find the requested resource")

    def no_jobset_api(method, path, query):
        return (
            Answer(404, missing) if "jobset.x-k8s.io" in path else fake.answer(method, path, query)
        )

    with Serving(no_jobset_api, pki, "https") as serving:
        outcome = run_command(["status", "jobset/train"], serving, pki, tmp_path)
        assert_one_line_error(
            outcome, 3, "does not serve jobsets.jobset.x-k8s.io: its controller is not installed"
        )
        outcome = run_command(["submit", "MANIFEST"], serving, pki, tmp_path)
        assert_one_line_error(outcome, 3, "its controller is not installed")

    invalid = status_body(422, "Invalid", 'JobSet.jobset.x-k8s.io "fresh" is invalid: spec: bad')

    def refuses(method, path, query):
        return Answer(422, invalid) if method == "PATCH" else fake.answer(method, path, query)

    with Serving(refuses, pki, "https") as serving:
        outcome = run_command(["submit", "MANIFEST"], serving, pki, tmp_path)
    assert_one_line_error(outcome, 1, "the API server refused: 422 Invalid: JobSet")


# ---------------------------------------------------------------------------------------------
# a server that answers as Kubernetes does, and one that goes wrong after the first answers


HEALTHY = {
    "status": "state:        Succeeded",
    "cancel": "had already finished: Succeeded",
    "logs": "hello\nworld",
    "logs -f": "hello\nworld",
    "watch": "Succeeded  AllJobsCompleted",
    "submit": "Succeeded  AllJobsCompleted",
    "run": "applied in namespace default",
    "list": "train  JobSet  Succeeded",
}


@pytest.mark.parametrize("command", COMMANDS)
def test_the_fake_api_server_is_answered_as_a_cluster(command, pki, tmp_path):
    """The harness itself: against a server that behaves, every command does its work."""
    fake = FakeKubernetes(phase="Succeeded")
    with Serving(fake.answer, pki, "https") as serving:
        outcome = run_command(COMMANDS[command], serving, pki, tmp_path)
    assert outcome.code == 0, outcome.stderr
    assert HEALTHY[command] in outcome.stdout


def html_after_the_job(method, path, query):
    """Answers the job as a cluster does, and anything else (pods, lists, watches, deletes,
    logs, applies) with an HTML page."""
    fake = FakeKubernetes(phase="Running")
    if method == "GET" and path == f"{JOBSETS}/{JOB_NAME}":
        return fake.answer(method, path, query)
    if method == "GET" and "/log" not in path and path.count("/") > 6:
        return fake.answer(method, path, query)  # other objects: not found
    return Answer(200, b"<html>proxy login</html>", "text/html")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_answer_of_the_wrong_shape_deeper_in_a_command_is_exit_3(command, pki, tmp_path):
    with Serving(html_after_the_job, pki, "https") as serving:
        outcome = run_command(COMMANDS[command], serving, pki, tmp_path)
    assert_one_line_error(outcome, 3, f"not a Kubernetes API server: {serving.url}/", "HTML")


SILENT_STREAMS = {
    # command -> (exit code, what the one error line says; None: no error)
    "status": (0, None),
    "cancel": (0, None),
    "logs": (3, "did not answer within 1s"),
    "logs -f": (3, "gave up after 1s"),
    "watch": (3, "gave up after 1s"),
    "submit": (3, "gave up after 1s"),
    "run": (0, None),
    "list": (0, None),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_watch_or_log_stream_that_stays_silent_is_given_up(command, pki, tmp_path):
    """The server answers requests but never a watch or a log: every wait ends after the
    timeout, retried with back-off for as long, then exit 3 in one line."""
    fake = FakeKubernetes(phase="Running", streams_silent=True)
    code, says = SILENT_STREAMS[command]
    with Serving(fake.answer, pki, "https") as serving:
        outcome = run_command(COMMANDS[command], serving, pki, tmp_path)
    if says is None:
        assert outcome.code == 0, outcome.stderr
        assert "Traceback" not in outcome.stderr and "error:" not in outcome.stderr
    else:
        assert_one_line_error(outcome, code, says)


def test_a_quiet_watch_stream_is_opened_again_not_given_up(pki, tmp_path):
    """A healthy server ends each watch after ``timeoutSeconds`` (here the timeout, 1 s); the
    watch opens it again and keeps following the job."""
    fake = FakeKubernetes(phase="Running")
    opened = []

    def counting(method, path, query):
        if query.get("watch"):
            opened.append(query.get("timeoutSeconds"))
            if len(opened) == 3:
                fake.phase = "Succeeded"
        return fake.answer(method, path, query)

    with Serving(counting, pki, "https") as serving:
        outcome = run_command(["watch", JOB_NAME], serving, pki, tmp_path)
    assert outcome.code == 0, outcome.stderr
    assert opened[:3] == ["1", "1", "1"]
    assert "Succeeded  AllJobsCompleted" in outcome.stdout.splitlines()[-1]


def test_logs_follow_a_silent_running_pod_until_it_ends(pki, tmp_path):
    """A running pod that prints nothing keeps ``logs -f`` following, as kubectl does: a log
    stream silent for the timeout is opened again (a dead connection would not answer that), and
    once the pod has ended its log is read whole one last time and the command ends, exit 0."""
    from fake_apiserver import POD_NAME, PODS, pod

    fake = FakeKubernetes(phase="Running")
    followed = []

    def says_nothing(handler) -> None:
        handler.server.stopping.wait(60)

    def quiet_pod(method, path, query):
        if path == f"{PODS}/{POD_NAME}/log" and query.get("follow"):
            followed.append(query.get("sinceTime"))
            return Answer(stream=says_nothing, content_type="text/plain")
        if path == f"{PODS}/{POD_NAME}":
            now = pod()
            now["status"]["phase"] = "Succeeded" if len(followed) >= 3 else "Running"
            return Answer(200, json.dumps(now).encode())
        return fake.answer(method, path, query)

    with Serving(quiet_pod, pki, "https") as serving:
        outcome = run_command(["logs", JOB_NAME, "-f"], serving, pki, tmp_path)
    assert outcome.code == 0, outcome.stderr
    assert "error" not in outcome.stderr
    assert len(followed) == 3
    assert outcome.stdout == "hello\nworld\n"


def test_logs_follow_gives_up_a_stream_whose_server_went_silent(pki, tmp_path):
    """The other silence: the log stream opened, then the server stopped answering anything
    (a dead connection, a hung API server): exit 3 in one line, no hang."""
    from fake_apiserver import POD_NAME, PODS

    fake = FakeKubernetes(phase="Running")
    followed = []

    def says_nothing(handler) -> None:
        handler.server.stopping.wait(60)

    def dies(method, path, query):
        if followed:
            return Answer(silent=True)
        if path == f"{PODS}/{POD_NAME}/log" and query.get("follow"):
            followed.append(query.get("sinceTime"))
            return Answer(stream=says_nothing, content_type="text/plain")
        return fake.answer(method, path, query)

    with Serving(dies, pki, "https") as serving:
        outcome = run_command(["logs", JOB_NAME, "-f"], serving, pki, tmp_path)
    assert_one_line_error(outcome, 3, "did not answer within 1s")


# ---------------------------------------------------------------------------------------------
# lists page through limit/continue


def test_list_pages_through_limit_and_continue(pki, tmp_path):
    from fake_apiserver import jobset, listed

    pages = []
    fake = FakeKubernetes()

    def paged(method, path, query):
        if path == JOBSETS:
            pages.append((query.get("limit"), query.get("continue")))
            start = int(query.get("continue") or 0)
            items = []
            for n in range(start, min(start + 3, 7)):
                item = jobset("Succeeded")
                item["metadata"]["name"] = f"job-{n}"
                item["metadata"]["creationTimestamp"] = f"2026-12-01T10:00:{59 - n:02d}Z"
                items.append(item)
            body = json.loads(listed("JobSet", items))
            if start + 3 < 7:
                body["metadata"]["continue"] = str(start + 3)
            return Answer(200, json.dumps(body).encode())
        return fake.answer(method, path, query)

    import compiler.cluster.client as client

    limit = client.PAGE_LIMIT
    client.PAGE_LIMIT = 3
    try:
        with Serving(paged, pki, "https") as serving:
            outcome = run_command(["list"], serving, pki, tmp_path)
    finally:
        client.PAGE_LIMIT = limit
    assert outcome.code == 0, outcome.stderr
    assert pages == [("3", None), ("3", "3"), ("3", "6")]
    names = [line.split()[0] for line in outcome.stdout.splitlines()[1:]]
    assert names == [f"job-{n}" for n in range(6, -1, -1)]  # oldest first


# ---------------------------------------------------------------------------------------------
# HTTP as the API server speaks it: chunked answers, one kept connection, a peer that is not HTTP


def test_a_chunked_answer_is_read_and_a_list_pages_over_one_connection(pki, tmp_path):
    from fake_apiserver import jobset, listed

    fake = FakeKubernetes()

    def chunked(body: bytes):
        def write(handler) -> None:
            for start in range(0, len(body), 100):
                piece = body[start : start + 100]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")

        return Answer(stream=write, headers={"Transfer-Encoding": "chunked"})

    def paged(method, path, query):
        if path == JOBSETS and not query.get("watch"):
            start = int(query.get("continue") or 0)
            items = [jobset("Succeeded") for _ in range(start, min(start + 3, 7))]
            for n, item in enumerate(items, start):
                item["metadata"]["name"] = f"job-{n}"
            body = json.loads(listed("JobSet", items))
            if start + 3 < 7:
                body["metadata"]["continue"] = str(start + 3)
            return Answer(200, json.dumps(body).encode())
        if path == f"{JOBSETS}/{JOB_NAME}":
            return chunked(json.dumps(jobset("Succeeded")).encode())
        return fake.answer(method, path, query)

    import compiler.cluster.client as client

    limit, client.PAGE_LIMIT = client.PAGE_LIMIT, 3
    try:
        with Serving(paged, pki, "https") as serving:
            outcome = run_command(["status", JOB_NAME], serving, pki, tmp_path)
            assert outcome.code == 0, outcome.stderr
            assert "state:        Succeeded" in outcome.stdout
            serving.clients.clear()
            outcome = run_command(["list"], serving, pki, tmp_path)
    finally:
        client.PAGE_LIMIT = limit
    assert outcome.code == 0, outcome.stderr
    assert len(outcome.stdout.splitlines()) == 1 + 7
    assert len(serving.clients) <= 2  # the pages on one connection (the next asked from a thread)


def test_a_peer_that_does_not_speak_http_is_one_line_and_exit_3(pki, tmp_path):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    stopping = threading.Event()

    def greet() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            connection.close()

    thread = threading.Thread(target=greet, daemon=True)
    thread.start()
    server = Serving(None, pki, "http")
    server.port = listener.getsockname()[1]
    try:
        outcome = run_command(["status", JOB_NAME], server, pki, tmp_path)
    finally:
        stopping.set()
        thread.join(2)
        listener.close()
    assert_one_line_error(outcome, 3, "no reachable cluster", "not an HTTP answer")


# ---------------------------------------------------------------------------------------------
# credentials never outlive the process


def private_keys_in(directory: Path) -> list[Path]:
    found = []
    for path in directory.rglob("*"):
        if path.is_file() and b"PRIVATE KEY" in path.read_bytes():
            found.append(path)
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_watch_ended_by_a_signal_leaves_no_credentials_behind(signum, pki, tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    fake = FakeKubernetes(phase="Running", watch_ends=False)
    with Serving(fake.answer, pki, "https") as serving:
        config = kubeconfig(tmp_path / "kubeconfig", serving.url, pki)
        env = dict(os.environ, KUBECONFIG=str(config), TMPDIR=str(temporary), PYTHONPATH=str(REPO))
        process = subprocess.Popen(
            from_a_terminal(
                [sys.executable, "-m", "compiler", "watch", JOB_NAME, "--timeout", "30"]
            ),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()  # the job's state: it is watching now
            assert "Running" in first
            assert private_keys_in(temporary) == []  # not even while it runs
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=HANG)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    assert list(temporary.iterdir()) == []
    assert private_keys_in(temporary) == []


def test_credentials_files_are_removed_before_the_first_request(pki, tmp_path, monkeypatch):
    import tempfile

    from compiler.cluster.client import connect

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    seen = []

    def watching(method, path, query):
        seen.append(sorted(p.name for p in temporary.rglob("*")))
        return FakeKubernetes().answer(method, path, query)

    with Serving(watching, pki, "https") as serving:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "kc", serving.url, pki)))
        monkeypatch.setattr(tempfile, "tempdir", str(temporary))
        kube = connect(timeout=5)
        assert kube.get(f"{JOBSETS}/{JOB_NAME}")["metadata"]["name"] == JOB_NAME
        again = connect(timeout=5)  # the client's cache of written files does not go stale
        assert again.get(f"{JOBSETS}/{JOB_NAME}")["metadata"]["name"] == JOB_NAME
    assert seen == [[], []]
    assert list(temporary.iterdir()) == []


WRITES_NOTHING = """
import os, sys
written = []
def hook(event, args):
    if event == "open" and args[0] is not None and isinstance(args[2], int):
        if args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            written.append(str(args[0]))
    elif event == "open" and isinstance(args[1], str) and set(args[1]) & set("wax+"):
        written.append(str(args[0]))
from compiler.cluster.client import connect
sys.addaudithook(hook)
kube = connect(timeout=5)
name = kube.get(sys.argv[1])["metadata"]["name"]
print(name, [path for path in written if not path.startswith("/dev/")])
"""


def test_the_client_certificate_and_key_are_never_written_to_a_file(pki, tmp_path):
    """Every file opened for writing while connecting and asking (Python's audit events): none.
    The key reaches TLS through an anonymous in-memory file (memfd)."""
    with Serving(FakeKubernetes().answer, pki, "https") as serving:
        config = kubeconfig(tmp_path / "kubeconfig", serving.url, pki)
        env = dict(os.environ, KUBECONFIG=str(config), PYTHONPATH=str(REPO))
        result = subprocess.run(
            [sys.executable, "-c", WRITES_NOTHING, f"{JOBSETS}/{JOB_NAME}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=HANG,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{JOB_NAME} []"


def test_without_memfd_the_key_file_is_gone_before_the_first_request(pki, tmp_path, monkeypatch):
    """Where memfd_create does not exist, the key goes through a private file, removed at once."""
    import tempfile

    from compiler.cluster.client import connect

    temporary = tmp_path / "tmp"
    temporary.mkdir()
    seen = []

    def watching(method, path, query):
        seen.append(private_keys_in(temporary))
        return FakeKubernetes().answer(method, path, query)

    monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    with Serving(watching, pki, "https") as serving:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "kc", serving.url, pki)))
        kube = connect(timeout=5)
        assert kube.get(f"{JOBSETS}/{JOB_NAME}")["metadata"]["name"] == JOB_NAME
    assert seen == [[]]
    assert list(temporary.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# the kubeconfig's kinds of users, as kubectl reads them


def user_kubeconfig(path: Path, url: str, pki, user: dict) -> Path:
    kubeconfig(path, url, pki)
    config = json.loads(path.read_text())
    config["users"][0]["user"] = user
    path.write_text(json.dumps(config))
    return path


EXEC_PLUGIN = """#!{python}
import json, os
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
print(json.dumps({{"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                  "status": {{"token": "from-" + os.environ["WHO"]}}}}))
"""


@pytest.mark.parametrize(
    "user, sent",
    [
        ({"token": "t0k"}, "Bearer t0k"),
        ({"tokenFile": "token.txt"}, "Bearer from-file"),
        ({"username": "ada", "password": "pw"}, "Basic YWRhOnB3"),
        (
            {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": "./plugin.py",
                    "env": [{"name": "WHO", "value": "plugin"}],
                    "interactiveMode": "Never",
                }
            },
            "Bearer from-plugin",
        ),
        ({"auth-provider": {"name": "oidc", "config": {"id-token": "idt"}}}, "Bearer idt"),
    ],
)
def test_each_kind_of_kubeconfig_user_is_sent_as_kubectl_sends_it(user, sent, pki, tmp_path):
    (tmp_path / "token.txt").write_text("from-file\n")
    plugin = tmp_path / "plugin.py"
    plugin.write_text(EXEC_PLUGIN.format(python=sys.executable))
    plugin.chmod(0o755)
    with Serving(FakeKubernetes().answer, pki, "https") as serving:
        config = user_kubeconfig(tmp_path / "kubeconfig", serving.url, pki, user)
        outcome = run_command(["status", JOB_NAME], serving, pki, tmp_path, config)
    assert outcome.code == 0, outcome.stderr
    assert serving.authorizations and set(serving.authorizations) == {sent}


def test_a_failing_exec_plugin_is_one_line_and_exit_3(pki, tmp_path):
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "false"}}
    with Serving(FakeKubernetes().answer, pki, "https") as serving:
        config = user_kubeconfig(tmp_path / "kubeconfig", serving.url, pki, user)
        outcome = run_command(["status", JOB_NAME], serving, pki, tmp_path, config)
    assert_one_line_error(outcome, 3, "cannot use the kubeconfig", "exec: process returned 1")
    assert serving.authorizations == []


def test_insecure_skip_tls_verify_talks_to_a_server_of_an_unknown_ca(pki, tmp_path):
    with Serving(FakeKubernetes().answer, pki, "https") as serving:
        config = kubeconfig(tmp_path / "kubeconfig", serving.url, pki)
        data = json.loads(config.read_text())
        cluster = data["clusters"][0]["cluster"]
        del cluster["certificate-authority-data"]
        config.write_text(json.dumps(data))
        outcome = run_command(["status", JOB_NAME], serving, pki, tmp_path, config)
        assert_one_line_error(outcome, 3, "certificate")
        cluster["insecure-skip-tls-verify"] = True
        config.write_text(json.dumps(data))
        outcome = run_command(["status", JOB_NAME], serving, pki, tmp_path, config)
    assert outcome.code == 0, outcome.stderr
