"""compile local's runner (compiler/local/run.py) on tiny shell workloads: output prefixed by pod,
the job's exit code, start order, parallelism, retries, a failure or Ctrl-C stopping every
process, names and hostnames inside namespaces, and the plain-process fallback."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from compiler.local import sandbox
from compiler.local.pods import (
    FailurePolicy,
    LocalContainer,
    LocalGroup,
    LocalPod,
    LocalVolume,
    LocalWorkload,
    Plan,
    Readiness,
)
from compiler.local.run import Runner, Settings, kill_marked
from compiler.local.secrets import SecretsError, read_sources

REPO = Path(__file__).resolve().parents[1]
NAMESPACES = sandbox.namespaces_refused() is None
MODES = [pytest.param(True, id="namespaces"), pytest.param(False, id="plain")]


def pod(
    name, script, *, group="job", ip="127.77.9.1", env=(), after=(), readiness=None, volumes=()
):
    container = LocalContainer("main", ("/bin/sh", "-c", script), tuple(env), readiness=readiness)
    return LocalPod(
        name=name,
        namespace="ns",
        hostname=name,
        subdomain="sub",
        ip=ip,
        dns_names=(f"{name}.sub.ns.svc.cluster.local", f"{name}.sub", name),
        labels=(),
        annotations=(),
        init_containers=(),
        containers=(container,),
        volumes=tuple(volumes),
        group=group,
        start_after=tuple(after),
    )


def plan_of(*pods, parallelism=None, failure=None, services=()):
    failure = failure or FailurePolicy()
    groups = {p.group for p in pods}
    return Plan(
        workloads=(LocalWorkload("JobSet", "w", "ns", tuple(sorted(groups)), failure),),
        groups=tuple(
            LocalGroup(
                g,
                "w",
                tuple(p.name for p in pods if p.group == g),
                parallelism=parallelism,
                service=g in services,
            )
            for g in sorted(groups)
        ),
        pods=pods,
    )


class Result:
    def __init__(self, code, out, said):
        self.code, self.out, self.said = code, out, said

    def lines(self, name):
        return [
            line.split(" | ", 1)[1]
            for line in self.out.splitlines()
            if line.startswith(f"{name} | ")
        ]


def run(plan, tmp_path, namespaces=False) -> Result:
    if namespaces and not NAMESPACES:
        pytest.fail("this machine gives no user namespaces: " + str(sandbox.namespaces_refused()))
    out = io.BytesIO()
    said: list[str] = []
    settings = Settings(tmp_path, dict(os.environ), namespaces, out, said.append)
    code = Runner(plan, settings).run()
    return Result(code, out.getvalue().decode(), said)


def marked(marker: str) -> list[int]:
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _environ_has(p, marker.encode())
    ]


def _environ_has(proc: Path, marker: bytes) -> bool:
    try:
        return marker in (proc / "environ").read_bytes()
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("namespaces", MODES)
def test_every_line_is_prefixed_with_its_pod(tmp_path, namespaces):
    script = "for i in 1 2 3; do echo line $i; done; printf 'no newline'"
    result = run(plan_of(pod("a", script), pod("b", script, ip="127.77.9.2")), tmp_path, namespaces)
    assert result.code == 0
    assert all(line.startswith(("a | ", "b | ")) for line in result.out.splitlines()), result.out
    for name in ("a", "b"):
        assert result.lines(name) == ["line 1", "line 2", "line 3", "no newline"]
    assert result.said == ["w succeeded"]


def test_the_exit_code_is_the_failing_pods_and_the_others_are_stopped(tmp_path):
    marker = f"MARK_{uuid.uuid4().hex}"
    slow = pod("slow", "sleep 30", env=[(marker, "1")])
    failing = pod("failing", "sleep 0.3; exit 3", ip="127.77.9.2")
    t0 = time.monotonic()
    result = run(plan_of(slow, failing), tmp_path)
    assert result.code == 3
    assert time.monotonic() - t0 < 25  # the sleeping pod was stopped, not waited for
    assert result.said == ["w failed: pod failing exited with 3"]
    assert marked(marker) == []


def test_a_killed_pod_exits_128_plus_the_signal(tmp_path):
    result = run(plan_of(pod("a", "kill -TERM $$")), tmp_path)
    assert result.code == 128 + signal.SIGTERM


def test_the_environment_is_the_planned_one_plus_what_an_image_gives(tmp_path):
    env = [("RANK", "2"), ("MASTER_ADDR", "m.sub"), ("SPACED", "a b  c")]
    dump = f"{sys.executable} -c 'import json, os; print(json.dumps(dict(os.environ)))'"
    result = run(plan_of(pod("a", f"exec {dump}", env=env)), tmp_path)
    import json

    [line] = result.lines("a")
    seen = json.loads(line)
    assert {k: seen[k] for k, _ in env} == dict(env)
    assert seen["HOSTNAME"] == "a"
    assert seen["PATH"] == os.environ["PATH"]
    assert set(seen) - {k for k, _ in env} <= {"PATH", "HOME", "HOSTNAME", "TMPDIR", "LANG", "PWD"}


def test_a_pod_starts_once_the_pods_it_starts_after_are_ready(tmp_path):
    flag = tmp_path / "master-ready"
    readiness = Readiness(exec_argv=("test", "-f", str(flag)))
    master = pod("master", f"sleep 0.5; touch {flag}; sleep 30", group="m", readiness=readiness)
    worker = pod(
        "worker", f"test -f {flag} && echo saw-master", group="w", ip="127.77.9.2", after=["master"]
    )
    result = run(plan_of(master, worker, services=("m",)), tmp_path)
    assert result.code == 0 and result.lines("worker") == ["saw-master"]


def test_a_tcp_readiness_probe_on_the_pods_ip(tmp_path):
    server = (
        f"exec {sys.executable} -c 'import socket,time; s=socket.socket(); "
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        's.bind(("127.77.9.1", 47311)); s.listen(); time.sleep(5)\''
    )
    master = pod("master", server, group="m", readiness=Readiness(tcp_port=47311))
    worker = pod("worker", "echo started", group="w", ip="127.77.9.2", after=["master"])
    plan = plan_of(master, worker, services=("m",))
    result = run(plan, tmp_path)
    assert result.code == 0 and result.lines("worker") == ["started"]


def test_parallelism_bounds_the_pods_of_a_job_running_at_once(tmp_path):
    log = tmp_path / "log"
    script = f"echo start >> {log}; sleep 0.3; echo end >> {log}"
    pods = [pod(f"p{i}", script, ip=f"127.77.9.{i + 1}") for i in range(4)]
    result = run(plan_of(*pods, parallelism=1), tmp_path)
    assert result.code == 0
    assert log.read_text().split() == ["start", "end"] * 4


def test_a_pod_is_retried_up_to_the_backoff_limit(tmp_path):
    count = tmp_path / "count"
    script = f"echo x >> {count}; test $(wc -l < {count}) -ge 3"  # fails twice, then succeeds
    ok = run(plan_of(pod("a", script), failure=FailurePolicy(backoff_limit=2)), tmp_path)
    assert ok.code == 0 and len(count.read_text().split()) == 3
    count.unlink()
    short = run(plan_of(pod("a", script), failure=FailurePolicy(backoff_limit=1)), tmp_path)
    assert short.code == 1 and len(count.read_text().split()) == 2


def test_an_exit_code_of_the_policy_fails_at_once(tmp_path):
    count = tmp_path / "count"
    failure = FailurePolicy(backoff_limit=5, fail_on_exit_codes=(42,))
    result = run(plan_of(pod("a", f"echo x >> {count}; exit 42"), failure=failure), tmp_path)
    assert result.code == 42 and len(count.read_text().split()) == 1


def test_a_workload_scope_failure_restarts_every_pod(tmp_path):
    starts = tmp_path / "starts"
    first = tmp_path / "first"
    steady = pod("steady", f"echo steady >> {starts}; sleep 0.5")
    flaky = pod(
        "flaky",
        f"echo flaky >> {starts}; if [ ! -f {first} ]; then touch {first}; exit 5; fi",
        ip="127.77.9.2",
    )
    failure = FailurePolicy(scope="workload", backoff_limit=1)
    result = run(plan_of(steady, flaky, failure=failure), tmp_path)
    assert result.code == 0
    assert sorted(starts.read_text().split()) == ["flaky", "flaky", "steady", "steady"]


def test_the_active_deadline_fails_the_workload(tmp_path):
    failure = FailurePolicy(active_deadline_seconds=1)
    result = run(plan_of(pod("a", "sleep 30"), failure=failure), tmp_path)
    assert result.code == 1
    assert "DeadlineExceeded" in result.said[-1]


def test_a_service_container_that_exits_is_started_again(tmp_path):
    count = tmp_path / "count"
    head = pod("head", f"echo x >> {count}; sleep 0.2", group="head")
    wait = f"until [ $(cat {count} 2>/dev/null | wc -l) -ge 2 ]; do sleep 0.1; done"
    driver = pod("driver", wait, group="d", ip="127.77.9.2")
    result = run(plan_of(head, driver, services=("head",)), tmp_path)
    assert result.code == 0
    assert "head: container main exited with 0" in result.said


def test_services_run_until_the_others_complete(tmp_path):
    head = pod("head", "echo up; sleep 30", group="head")
    driver = pod("driver", "sleep 0.3; echo done", group="driver", ip="127.77.9.2", after=["head"])
    t0 = time.monotonic()
    result = run(plan_of(head, driver, services=("head",)), tmp_path)
    assert result.code == 0 and result.lines("driver") == ["done"]
    assert time.monotonic() - t0 < 25


# -- namespaces --------------------------------------------------------------------------------


def test_names_resolve_to_the_pods_ips_and_each_pod_has_its_hostname(tmp_path):
    a = pod("a", "hostname; getent hosts b.sub.ns.svc.cluster.local")
    b = pod("b", "hostname; getent hosts a.sub", ip="127.77.9.2")
    result = run(plan_of(a, b), tmp_path, namespaces=True)
    assert result.code == 0, result.out
    assert result.lines("a")[0] == "a" and result.lines("b")[0] == "b"
    assert result.lines("a")[1].split()[0] == "127.77.9.2"
    assert result.lines("b")[1].split()[0] == "127.77.9.1"
    assert "b.sub" not in Path("/etc/hosts").read_text()  # only the pods see the names


def test_volumes_are_local_folders_at_their_mount_paths(tmp_path):
    target = f"/tmp/mc-local-test-{uuid.uuid4().hex[:8]}/conf"
    volume = LocalVolume(target, "pods/a/conf", "main", read_only=True, files=(("key", "v1"),))
    shared = LocalVolume("/dev/shm", "pods/a/shm", "main")
    script = f"cat {target}/key; echo; touch {target}/x 2>/dev/null || echo read-only; touch /dev/shm/mine"
    result = run(plan_of(pod("a", script, volumes=[volume, shared])), tmp_path, namespaces=True)
    assert result.lines("a") == ["v1", "read-only"], result.out
    assert not Path(target).exists() and not Path(target).parent.exists()  # made, then removed
    assert not Path("/dev/shm/mine").exists()


def test_namespaces_refused_when_unshare_fails(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "unshare").write_text(
        "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n"
    )
    (fake / "unshare").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    assert sandbox.namespaces_refused() == "unshare: unshare failed: Operation not permitted"


def test_without_namespaces_pods_run_as_plain_processes(tmp_path):
    a = pod("a", "hostname; getent hosts b.sub || echo unresolved")
    result = run(plan_of(a), tmp_path, namespaces=False)
    assert result.lines("a") == [os.uname().nodename, "unresolved"]


# -- signals: nothing of a run outlives it --------------------------------------------------------

DRIVER = """
import os, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from compiler.local.pods import *
from compiler.local.run import run_plan

def pod(name, ip, script):
    c = LocalContainer("main", ("/bin/sh", "-c", script), (("{marker}", "1"),))
    return LocalPod(name, "ns", name, "sub", ip, (name,), (), (), (), (c,), (), "job")

# each pod also leaves a daemon behind (setsid): it must go too
script = "setsid sleep 300 & echo started; sleep 300"
plan = Plan(
    workloads=(LocalWorkload("JobSet", "w", "ns", ("job",)),),
    groups=(LocalGroup("job", "w", ("a", "b")),),
    pods=(pod("a", "127.77.9.1", script), pod("b", "127.77.9.2", script)),
)
sys.exit(run_plan(plan, Path.cwd(), dict(os.environ), namespaces={namespaces}))
"""


@pytest.mark.parametrize("namespaces", MODES)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_every_process_of_the_run(tmp_path, namespaces, signum):
    marker = f"MARK_{uuid.uuid4().hex}"
    code = DRIVER.format(repo=str(REPO), marker=marker, namespaces=namespaces)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []
        while len(seen) < 2:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            seen.append(line)
        deadline = time.monotonic() + 10
        while len(marked(marker)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)  # both pods' shells, sleeps and daemons
        assert len(marked(marker)) >= 4
        proc.send_signal(signum)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode != 0
    assert marked(marker) == []
    assert kill_marked(marker.encode()) == []


def test_compile_local_interrupted_exits_130(tmp_path):
    """The command as users run it: Ctrl-C ends `compile local` with 130 and no process left."""
    marker = f"MARK_{uuid.uuid4().hex}"
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        textwrap.dedent(
            f"""\
            kind: AIchorManifest
            apiVersion: 0.2.3
            name: sleepers
            spec:
              operator: jobset
              image: img
              command: "echo started; sleep 300"
              env:
                {marker}: "1"
              types:
                worker:
                  count: 2
                  resources: {{cpus: 1, memory: 1}}
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "compiler", "local", str(manifest)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert all(line.endswith("| started\n") for line in lines), (lines, proc.stderr.read())
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130
    assert "interrupted" in proc.stderr.read()
    assert marked(marker) == []


# -- --secrets DIR ---------------------------------------------------------------------------------


def test_secrets_from_folders_and_documents(tmp_path):
    (tmp_path / "wandb").mkdir()
    (tmp_path / "wandb" / "api-key").write_text("k-123")
    (tmp_path / "wandb" / ".hidden").write_text("no")
    (tmp_path / "objects.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: Secret
            metadata: {name: s3}
            data: {key: c2VjcmV0}
            stringData: {region: eu}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings}
            data: {level: debug}
            binaryData: {blob: aGk=}
            ---
            kind: Service
            metadata: {name: ignored}
            """
        )
    )
    assert read_sources(tmp_path) == {
        "wandb": {"api-key": "k-123"},
        "s3": {"key": "secret", "region": "eu"},
        "settings": {"level": "debug", "blob": "hi"},
    }


@pytest.mark.parametrize(
    "content, message",
    [
        ("kind: Secret\nmetadata: {name: s}\ndata: {k: '%%%'}\n", "data.k is not base64"),
        ("kind: Secret\nmetadata: {}\n", "without metadata.name"),
        ("kind: [unclosed\n", "bad.yaml"),
    ],
)
def test_bad_secrets_are_refused_with_the_file(tmp_path, content, message):
    (tmp_path / "bad.yaml").write_text(content)
    with pytest.raises(SecretsError, match=message.replace(".", r"\.")):
        read_sources(tmp_path)


def test_compile_local_secrets_not_a_directory_exits_3(tmp_path):
    manifest = REPO / "tests" / "data" / "frameworks" / "batchjob.yaml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "compiler",
            "local",
            str(manifest),
            "--secrets",
            str(tmp_path / "no"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert done.returncode == 3
    assert "not a directory" in done.stderr


def test_a_workload_without_pods_succeeds_at_once(tmp_path):
    empty = Plan(workloads=(LocalWorkload("Job", "w", "ns", ()),))
    assert run(empty, tmp_path).code == 0


@pytest.mark.parametrize("namespaces", MODES)
def test_compile_local_runs_an_indexed_job(tmp_path, namespaces):
    """End to end: each completion index once, at most two at a time; without user namespaces
    (an `unshare` that fails) one line says what differs and the job still runs."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if not namespaces:
        fake = tmp_path / "bin"
        fake.mkdir()
        (fake / "unshare").write_text(
            "#!/bin/sh\necho 'unshare: Operation not permitted' >&2\nexit 1\n"
        )
        (fake / "unshare").chmod(0o755)
        env["PATH"] = f"{fake}:{env['PATH']}"
    images = REPO / "tests" / "data" / "frameworks"
    done = subprocess.run(
        [sys.executable, "-m", "compiler", "local", str(images / "batchjob.yaml")],
        cwd=images / "images" / "fw-batch",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sorted(lines) == [
        f"shards-proof-{i} | proof: JOB_COMPLETION_INDEX={i}" for i in range(4)
    ]
    note = [
        line for line in done.stderr.splitlines() if line.startswith("note: no user namespaces")
    ]
    assert len(note) == (0 if namespaces else 1), done.stderr
    assert done.stderr.splitlines()[-1] == "local: shards-proof succeeded"


def test_a_command_that_does_not_exist_fails_its_pod_with_128(tmp_path):
    missing = LocalContainer("main", ("/no/such/program",), ())
    lost = pod("a", "")
    lost = LocalPod(**{**lost.__dict__, "containers": (missing,)})
    result = run(plan_of(lost), tmp_path, namespaces=False)
    assert result.code == 128
    assert result.lines("a")[0].startswith("container main cannot start: ")
