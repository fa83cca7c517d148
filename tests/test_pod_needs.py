"""Issue 21: what the pods need beyond the contract's variables — Ray's submitter passing the
runtime env as written, torchrun's process count, /dev/shm for multi-GPU pods, and the pods'
identity. Expected values come from the upstream sources cited in each docstring (KubeRay
v1.6.0 and v1.7.0, torch's torchrun, Ray's runtime_env validation), computed here from the
emitted objects, never from the emitter's code.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_operator_runs import RAY, compile_text, env_of

# ---------------------------------------------------------------------------------------------
# item 5: the runtime env reaches Ray as written


def _go_quote(text: str) -> str:
    """Go's strconv.Quote for the JSON KubeRay quotes (printable text, no raw control
    characters: JSON escapes those itself)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _kuberay_default_line(spec: dict, address: str, job_id: str) -> str:
    """KubeRay's own submitter line in K8sJobMode (v1.6.0 common/job.go BuildJobSubmitCommand,
    joined with spaces by rayjob_controller.go configureSubmitterContainer): the runtime env
    JSON in Go-quoted double quotes, the job id and the entrypoint pasted raw."""
    address = address if address.startswith("http://") else "http://" + address
    words = ["if", "!", "ray", "job", "status", "--address", address, job_id]
    words += [">/dev/null", "2>&1", ";", "then", "ray", "job", "submit", "--address", address]
    words += ["--no-wait"]
    if spec.get("runtimeEnvYAML"):
        runtime = yaml.safe_load(spec["runtimeEnvYAML"])  # sigs.k8s.io/yaml YAMLToJSON
        words += ["--runtime-env-json", _go_quote(json.dumps(runtime, separators=(",", ":")))]
    words += ["--submission-id", job_id]
    if spec.get("entrypointNumCpus"):
        words += ["--entrypoint-num-cpus", f"{spec['entrypointNumCpus']:f}"]  # Go %f
    words += ["--", spec["entrypoint"].strip(), ";", "fi", ";"]
    words += ["ray", "job", "logs", "--address", address, "--follow", job_id]
    return " ".join(words)


FAKE_RAY = """\
import json, os, sys
with open(os.environ["RAY_CALLS"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
sys.exit(1 if sys.argv[1:3] == ["job", "status"] else 0)
"""


# the dashboard's health probe (KubeRay v1.7 utils.BasePythonHealthCommand): healthy at once
FAKE_PYTHON = """\
import json, os, sys
with open(os.environ["RAY_CALLS"], "a") as log:
    log.write(json.dumps(["python"] + sys.argv[1:]) + "\\n")
"""


def run_submitter(spec: dict, tmp_path: Path) -> list[list[str]]:
    """Runs the submitter container as KubeRay would (its command if the template gives one,
    else KubeRay's line under /bin/bash -ce), in an environment of its own, with a stand-in
    `ray` that records its words. Returns the `ray` calls."""
    address, job_id = "tune-head-svc.ns.svc.cluster.local:8265", spec.get("jobId", "tune-x7")
    template = spec.get("submitterPodTemplate")
    container = template["spec"]["containers"][0] if template else {}
    if container.get("command"):
        argv = container["command"] + container.get("args", [])
    else:
        argv = ["/bin/bash", "-ce", "--", _kuberay_default_line(spec, address, job_id)]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, script in (("ray", FAKE_RAY), ("python", FAKE_PYTHON)):
        tool = bin_dir / name
        tool.write_text(f"#!{sys.executable}\n{script}", encoding="utf-8")
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls.jsonl"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "RAY_CALLS": str(calls),
        # what KubeRay sets in the submitter container whatever its command
        # (rayjob_controller.go configureSubmitterContainer)
        "RAY_DASHBOARD_ADDRESS": address,
        "RAY_JOB_SUBMISSION_ID": job_id,
        "PYTHONUNBUFFERED": "1",
        # the submitter pod's own values, which must not leak into the job's runtime env
        "LD_LIBRARY_PATH": "/submitter/lib",
        "def": "SUBMITTER",
    }
    # the kubelet expands $(VAR) in command and args against the container's env (KubeRay's two
    # variables there) before the shell sees them: `$$` becomes `$`, a defined `$(NAME)` its value
    from compiler.local.env import expand, mapping_for

    kubelet = mapping_for({k: env[k] for k in ("RAY_DASHBOARD_ADDRESS", "RAY_JOB_SUBMISSION_ID")})
    argv = [expand(word, kubelet) for word in argv]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in calls.read_text().splitlines()]


def _after(words: list[str], flag: str) -> str:
    return words[words.index(flag) + 1]


RUNTIME_ENV = r"""
      runtimeEnv:
        working_dir: /app
        env_vars:
          LD_LIBRARY_PATH: "${LD_LIBRARY_PATH}:/opt/lib"
          WORD: abc$def
          TICKS: "`hostname`"
          QUOTED: 'say "hi" \n back\slash'
          KUBELET: "$(RAY_JOB_SUBMISSION_ID) $$ $(UNSET)"
          THREADS: 4
          RATIO: 0.5
          FLAG: true
"""
WRITTEN = {
    "working_dir": "/app",
    "env_vars": {
        "LD_LIBRARY_PATH": "${LD_LIBRARY_PATH}:/opt/lib",
        "WORD": "abc$def",
        "TICKS": "`hostname`",
        "QUOTED": 'say "hi" \\n back\\slash',
        "KUBELET": "$(RAY_JOB_SUBMISSION_ID) $$ $(UNSET)",
        "THREADS": "4",
        "RATIO": "0.5",
        "FLAG": "true",
    },
}

RAY_LEGACY_JOB = """\
        Job:
          resources: {cpus: 1, ramRatio: 2}
"""


@pytest.mark.parametrize("legacy", [False, True], ids=["kuberay", "ray-with-Job"])
def test_runtime_env_reaches_ray_as_written(tmp_path, legacy):
    """Through the submitter's shell, `ray job submit` must receive the runtime env exactly as
    the manifest writes it: `${LD_LIBRARY_PATH}` for Ray to expand on its workers, `abc$def`
    whole, backquotes unrun; and env_vars values as strings, the only type Ray accepts
    (ray/_private/runtime_env/validation.py parse_and_validate_env_vars)."""
    text = RAY.replace("      ports:", RUNTIME_ENV.strip("\n") + "\n      ports:")
    if legacy:
        text = text.replace("operator: kuberay", "operator: ray").replace(
            "        Workers:", RAY_LEGACY_JOB + "        Workers:"
        )
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    spec = objects["RayJob"]["spec"]
    calls = run_submitter(spec, tmp_path)
    [submit] = [c for c in calls if c[:2] == ["job", "submit"]]
    assert json.loads(_after(submit, "--runtime-env-json")) == WRITTEN
    # the rest of the submission as KubeRay's own line makes it
    assert _after(submit, "--submission-id") == "tune-x7"
    assert _after(submit, "--address") == "http://tune-head-svc.ns.svc.cluster.local:8265"
    assert "--no-wait" in submit
    assert submit[submit.index("--") + 1 :] == shlex.split(spec["entrypoint"])
    ray = [c for c in calls if c[0] != "python"]
    assert ray[0][:2] == ["job", "status"] and ray[-1][:3] == ["job", "logs", "--address"]
    # first, as KubeRay v1.7's own line, it waits for the dashboard's GCS to be healthy
    assert calls[0][:2] == ["python", "-c"]
    assert "'http://tune-head-svc.ns.svc.cluster.local:8265/api/gcs_healthz'" in calls[0][2]
    assert yaml.safe_load(spec["runtimeEnvYAML"]) == WRITTEN, "the record says what Ray gets"
    if legacy:  # the Job type still sizes the submitter
        [container] = spec["submitterPodTemplate"]["spec"]["containers"]
        assert container["resources"]["requests"]["cpu"] == "1"


def test_a_runtime_env_the_shell_leaves_alone_keeps_kuberays_submitter(tmp_path):
    """Without `$` or a backquote KubeRay's own line passes the runtime env intact: no
    submitter template is needed, and the submission is the same."""
    text = RAY.replace(
        "      ports:", "      runtimeEnv: {env_vars: {A: 'x \"y\" \\\\z', N: 2}}\n      ports:"
    )
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    spec = objects["RayJob"]["spec"]
    assert "submitterPodTemplate" not in spec
    [submit] = [c for c in run_submitter(spec, tmp_path) if c[:2] == ["job", "submit"]]
    assert json.loads(_after(submit, "--runtime-env-json")) == {
        "env_vars": {"A": 'x "y" \\\\z', "N": "2"}
    }


@pytest.mark.parametrize("job_id", ["run 1", "a;b", "$(id)", "-x", "a'b", ".hidden"])
def test_a_job_id_that_is_not_a_plain_identifier_is_an_error(tmp_path, job_id):
    """KubeRay writes jobId unquoted into the submitter's shell line (common/job.go
    BuildJobSubmitCommand: `--submission-id JOBID`, `ray job status ... JOBID`)."""
    text = RAY.replace("      ports:", f"      jobId: {json.dumps(job_id)}\n      ports:")
    result, _ = compile_text(tmp_path, text)
    assert result.exit_code != 0
    assert "E317" in result.stderr and "spec.jobId" in result.stderr


def test_a_plain_job_id_is_the_submission_id(tmp_path):
    text = RAY.replace("      ports:", "      jobId: Sweep-1.a_b\n      ports:")
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    spec = objects["RayJob"]["spec"]
    assert spec["jobId"] == "Sweep-1.a_b"
    [submit] = [
        c
        for c in run_submitter(spec, tmp_path)
        if c[:2] == ["job", "submit"]  # KubeRay's line, with the id pasted raw
    ]
    assert _after(submit, "--submission-id") == "Sweep-1.a_b"


# ---------------------------------------------------------------------------------------------
# item 6: torchrun starts one process per GPU


PYTORCH_GPUS = """\
    name: ddp
    spec:
      operator: pytorch
      image: trainer
      command: torchrun main.py
      types:
        Master: {count: 1, resources: {cpus: 8, ramRatio: 4, accelerators: {gpu: {count: 8}}}}
        Worker: {count: 3, resources: {cpus: 8, ramRatio: 4, accelerators: {gpu: {count: 4}}}}
"""


def _containers(jobset: dict) -> dict:
    return {
        r["name"]: r["template"]["spec"]["template"]["spec"]["containers"][0]
        for r in jobset["spec"]["replicatedJobs"]
    }


def test_torchrun_without_flags_starts_a_process_per_gpu(tmp_path):
    """torchrun's --nproc-per-node defaults to PET_NPROC_PER_NODE, else 1 (torch/distributed/
    run.py, ``action=env``); Kubeflow's PyTorchJob sets it per pod. Each type's own count."""
    result, objects = compile_text(tmp_path, PYTORCH_GPUS)
    assert result.exit_code == 0, result.stderr
    containers = _containers(objects["JobSet"])
    for rjob, gpus in (("master", "8"), ("worker", "4")):
        env = env_of(containers[rjob])
        assert env["PET_NPROC_PER_NODE"]["value"] == gpus
        assert containers[rjob]["resources"]["limits"]["nvidia.com/gpu"] == gpus


def test_torchrun_on_a_cpu_pod_starts_one_process(tmp_path):
    text = PYTORCH_GPUS.replace(", accelerators: {gpu: {count: 8}}", "")
    _, objects = compile_text(tmp_path, text)
    env = env_of(_containers(objects["JobSet"])["master"])
    assert env["PET_NPROC_PER_NODE"]["value"] == "1"


def test_the_manifest_may_choose_the_process_count(tmp_path):
    text = PYTORCH_GPUS.replace(
        "      types:", "      env: {PET_NPROC_PER_NODE: '2'}\n      types:"
    )
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    container = _containers(objects["JobSet"])["worker"]
    entries = [e for e in container["env"] if e["name"] == "PET_NPROC_PER_NODE"]
    assert entries == [{"name": "PET_NPROC_PER_NODE", "value": "2"}], "one entry, the user's"


# ---------------------------------------------------------------------------------------------
# item 7: /dev/shm


def _pod_specs(obj: dict) -> list[dict]:
    """Every pod spec of an emitted job object, whatever its kind."""
    spec = obj["spec"]
    if obj["kind"] == "JobSet":
        return [r["template"]["spec"]["template"]["spec"] for r in spec["replicatedJobs"]]
    if obj["kind"] == "Job":
        return [spec["template"]["spec"]]
    cluster = spec["rayClusterSpec"]
    pods = [cluster["headGroupSpec"]["template"]["spec"]]
    pods += [g["template"]["spec"] for g in cluster.get("workerGroupSpecs", [])]
    if "submitterPodTemplate" in spec:
        pods.append(spec["submitterPodTemplate"]["spec"])
    return pods


def _shm(pod: dict) -> dict | None:
    """The volume mounted at /dev/shm, or None (the container runtime's 64 MiB)."""
    [container] = pod["containers"]
    names = [m["name"] for m in container.get("volumeMounts", []) if m["mountPath"] == "/dev/shm"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    return volumes[names[0]] if names else None


def _jobset_text(resources: str, operator: str = "jobset") -> str:
    return f"""\
    name: shm
    spec:
      operator: {operator}
      image: trainer
      command: python train.py
      types:
        worker: {{count: 2, resources: {resources}}}
    """


@pytest.mark.parametrize("operator", ["jobset", "jax", "tf", "batchjob"])
@pytest.mark.parametrize("written", ["", ", shmSizeGB: 0"])
def test_a_multi_gpu_pod_gets_a_memory_backed_dev_shm(tmp_path, operator, written):
    """NCCL and data loaders need more than the runtime's 64 MiB; unsized (AIchor writes
    `shmSizeGB: 0`), a pod of several GPUs gets a memory-backed /dev/shm of its memory."""
    text = _jobset_text(f"{{cpus: 8, ramRatio: 4, accelerators: {{gpu: {{count: 2}}}}{written}}}")
    text = text.replace("worker:", "Worker:") if operator == "batchjob" else text
    result, objects = compile_text(
        tmp_path, text.replace("operator: jobset", f"operator: {operator}")
    )
    assert result.exit_code == 0, result.stderr
    [obj] = [o for o in objects.values() if o["kind"] in ("JobSet", "Job")]
    for pod in _pod_specs(obj):
        volume = _shm(pod)
        assert volume is not None, pod
        assert volume["emptyDir"]["medium"] == "Memory"
        limit = pod["containers"][0]["resources"]["limits"]["memory"]
        assert volume["emptyDir"]["sizeLimit"] == limit == "32Gi"


def test_a_sized_dev_shm_keeps_its_size_and_one_gpu_keeps_the_runtimes(tmp_path):
    sized = _jobset_text("{cpus: 8, ramRatio: 4, shmSizeGB: 4, accelerators: {gpu: {count: 8}}}")
    _, objects = compile_text(tmp_path, sized)
    [pod] = _pod_specs(objects["JobSet"])
    assert _shm(pod)["emptyDir"]["sizeLimit"] == "4Gi"
    one = _jobset_text("{cpus: 8, ramRatio: 4, accelerators: {gpu: {count: 1}}}")
    _, objects = compile_text(tmp_path, one)
    [pod] = _pod_specs(objects["JobSet"])
    assert _shm(pod) is None


def test_ray_pods_keep_kuberays_dev_shm(tmp_path):
    """KubeRay mounts a /dev/shm sized at the pod's memory on every Ray pod unless one is
    mounted already (common/pod.go: addEmptyDir, makeEmptyDirVolume, checkIfVolumeMounted);
    Ray's object store takes 30% of memory there. `shmSizeGB: 8` on a 64 GiB worker would put
    most of it on disk: it has no effect on a Ray pod, and a warning says so."""
    text = RAY.replace(
        "              ramRatio: 2\n              accelerators",
        "              ramRatio: 8\n              shmSizeGB: 8\n              accelerators",
    )
    assert "shmSizeGB: 8" in text
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    for pod in _pod_specs(objects["RayJob"]):
        assert _shm(pod) is None
    assert "W101" in result.stderr and "shmSizeGB" in result.stderr


# ---------------------------------------------------------------------------------------------
# item 10: identity on every pod


OPERATOR_TYPES = {
    "jobset": "a: {resources: {cpus: 1, ramRatio: 1}}\n        b: {count: 2, resources: {cpus: 1, ramRatio: 1}}",
    "pytorch": "Master: {resources: {cpus: 1, ramRatio: 1}}\n        Worker: {count: 2, resources: {cpus: 1, ramRatio: 1}}",
    "xgboost": "Master: {resources: {cpus: 1, ramRatio: 1}}\n        Worker: {count: 2, resources: {cpus: 1, ramRatio: 1}}",
    "jax": "Worker: {count: 2, resources: {cpus: 1, ramRatio: 1}}",
    "tf": "Worker: {count: 2, resources: {cpus: 1, ramRatio: 1}}",
    "batchjob": "Worker: {count: 2, resources: {cpus: 1, ramRatio: 1}}",
    "kuberay": "Head: {resources: {cpus: 1, ramRatio: 1}}\n        Workers: [{name: w, count: 2, resources: {cpus: 1, ramRatio: 1}}]",
    "ray": "Head: {resources: {cpus: 1, ramRatio: 1}}\n        Workers: [{name: w, count: 2, resources: {cpus: 1, ramRatio: 1}}]",
}

IDENTITY_POLICY = """\
apiVersion: manifest-compiler/v1
kind: Policy
metadata: {name: cluster-identity}
spec:
  defaults:
    spec:
      serviceAccountName: trainer
      imagePullSecrets: [registry-pull, mirror.pull]
"""


@pytest.mark.parametrize("operator", sorted(OPERATOR_TYPES))
def test_every_pod_of_every_kind_gets_the_policys_identity(tmp_path, operator):
    """A private registry needs its pull secret on every pod — the Ray submitter's too, which
    KubeRay's default template would leave without (common/job.go GetSubmitterTemplate)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(IDENTITY_POLICY, encoding="utf-8")
    text = f"""\
    name: who
    spec:
      operator: {operator}
      image: registry.example.com/team/trainer:1
      command: python run.py
      types:
        {OPERATOR_TYPES[operator]}
    """
    result, objects = compile_text(tmp_path, text, "-p", str(policy))
    assert result.exit_code == 0, result.stderr
    [obj] = [o for o in objects.values() if o["kind"] in ("JobSet", "Job", "RayJob")]
    pods = _pod_specs(obj)
    if obj["kind"] == "RayJob":
        assert "submitterPodTemplate" in obj["spec"], "the submitter pod pulls the image too"
        [submitter] = obj["spec"]["submitterPodTemplate"]["spec"]["containers"]
        assert submitter["image"] == "registry.example.com/team/trainer:1"
        assert "command" not in submitter, "KubeRay's own submit line"
    for pod in pods:
        assert pod["serviceAccountName"] == "trainer"
        assert pod["imagePullSecrets"] == [{"name": "registry-pull"}, {"name": "mirror.pull"}]


@pytest.mark.parametrize(
    "field, value",
    [("serviceAccountName", "Trainer"), ("imagePullSecrets", ["ok", "no_underscore"])],
)
def test_an_identity_that_is_no_object_name_is_an_error(tmp_path, field, value):
    text = f"""\
    name: who
    spec:
      operator: jobset
      image: trainer
      command: python run.py
      {field}: {json.dumps(value)}
      types:
        a: {{resources: {{cpus: 1, ramRatio: 1}}}}
    """
    result, _ = compile_text(tmp_path, text)
    assert result.exit_code != 0
    assert "E318" in result.stderr and f"spec.{field}" in result.stderr


def test_no_identity_no_fields(tmp_path):
    _, objects = compile_text(tmp_path, RAY)
    spec = objects["RayJob"]["spec"]
    assert "submitterPodTemplate" not in spec
    for pod in _pod_specs(objects["RayJob"]):
        assert "serviceAccountName" not in pod and "imagePullSecrets" not in pod


# ---------------------------------------------------------------------------------------------
# item 4: multislice JAX


def _jax_tpu(count: int, topology: str = "4x4", chips: int = 4) -> str:
    return f"""\
    name: ms
    spec:
      operator: jax
      image: jax
      command: python train.py
      types:
        worker:
          count: {count}
          resources:
            cpus: 8
            ramRatio: 2
            accelerators: {{tpu: {{type: tpu-v5-lite-podslice, topology: {topology}, tpuChipsCount: {chips}}}}}
    """


def test_multislice_jax_gets_the_megascale_variables(tmp_path):
    """Two 4-host slices: jax's TPU cluster (jax/_src/clusters/cloud_tpu_cluster.py) reads
    MEGASCALE_COORDINATOR_ADDRESS (a host; it drops any port), MEGASCALE_NUM_SLICES and
    MEGASCALE_SLICE_ID, and numbers processes slice by slice (process id in slice + slice id x
    hosts); jobset issue 787 sets them from the Job's index. The coordinator is slice 0's host 0,
    whose JobSet hostname is <jobset>-<replicated job>-<job index>-<pod index>.<subdomain>."""
    result, objects = compile_text(tmp_path, _jax_tpu(8))
    assert result.exit_code == 0, result.stderr
    jobset = objects["JobSet"]
    [rjob] = jobset["spec"]["replicatedJobs"]
    job = rjob["template"]["spec"]
    assert (rjob["replicas"], job["completions"]) == (2, 4)
    container = job["template"]["spec"]["containers"][0]
    env = env_of(container)
    assert env["MEGASCALE_COORDINATOR_ADDRESS"]["value"] == "ms-worker-0-0.ms"
    assert env["MEGASCALE_NUM_SLICES"]["value"] == "2"
    slice_field = env["MEGASCALE_SLICE_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert slice_field == "metadata.annotations['jobset.sigs.k8s.io/job-index']"
    # the process ids the pods are told match jax's own numbering
    script = container["command"][2].rsplit("\n", 1)[0]
    for slice_id in range(2):
        for host in range(4):
            shell = f"JOB_INDEX={slice_id}; JOB_COMPLETION_INDEX={host}\n{script}\n"
            shell += 'printf %s "$JAXOPERATOR_PROCESS_ID"'
            done = subprocess.run(["/bin/sh", "-c", shell], capture_output=True, text=True)
            assert done.stdout == str(host + slice_id * 4)


@pytest.mark.parametrize(
    "text",
    [_jax_tpu(4), _jax_tpu(1, "2x2", 4), _jobset_text("{cpus: 1, ramRatio: 1}", "jax")],
    ids=["one-multi-host-slice", "one-single-host-slice", "no-tpu"],
)
def test_one_slice_or_no_tpu_gets_no_megascale_variables(tmp_path, text):
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    [rjob] = objects["JobSet"]["spec"]["replicatedJobs"]
    env = env_of(rjob["template"]["spec"]["template"]["spec"]["containers"][0])
    assert not [name for name in env if name.startswith("MEGASCALE_")]


def test_single_host_slices_are_a_multislice_too(tmp_path):
    result, objects = compile_text(tmp_path, _jax_tpu(3, "2x2", 4))
    assert result.exit_code == 0, result.stderr
    [rjob] = objects["JobSet"]["spec"]["replicatedJobs"]
    assert (rjob["replicas"], rjob["template"]["spec"]["completions"]) == (3, 1)
    env = env_of(rjob["template"]["spec"]["template"]["spec"]["containers"][0])
    assert env["MEGASCALE_NUM_SLICES"]["value"] == "3"


def test_a_jax_manifest_may_not_set_the_megascale_variables(tmp_path):
    text = _jax_tpu(8).replace("      types:", "      env: {MEGASCALE_SLICE_ID: '0'}\n      types:")
    result, _ = compile_text(tmp_path, text)
    assert result.exit_code != 0
    assert "E140" in result.stderr and "MEGASCALE_SLICE_ID" in result.stderr


# ---------------------------------------------------------------------------------------------
# item 3: multi-host TPU slices outside jax

TPU_4X4 = "accelerators: {tpu: {type: tpu-v5-lite-podslice, topology: 4x4, tpuChipsCount: 4}}"
EXCLUSIVE = "alpha.jobset.sigs.k8s.io/exclusive-topology"


def test_a_jobset_tpu_slice_is_one_job_of_a_pod_per_host(tmp_path):
    """A 4x4 v5e slice with 4 chips a pod is 4 hosts, which GKE's TPU provisioning wants as the
    pods of one Job on one node pool (JobSet's exclusive-placement example, xpk): for jobset
    each Job (count: 2) is one slice of 4 pods, and the JobSet places a slice per node pool."""
    text = _jobset_text(f"{{cpus: 8, ramRatio: 2, {TPU_4X4}}}")
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    jobset = objects["JobSet"]
    [rjob] = jobset["spec"]["replicatedJobs"]
    job = rjob["template"]["spec"]
    assert (rjob["replicas"], job["completions"], job["parallelism"]) == (2, 4, 4)
    assert jobset["metadata"]["annotations"][EXCLUSIVE] == "cloud.google.com/gke-nodepool"
    limits = job["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["google.com/tpu"] == "4"


def test_a_jobset_tpu_slice_written_with_its_hosts_as_completions_compiles(tmp_path):
    text = _jobset_text(f"{{cpus: 8, ramRatio: 2, {TPU_4X4}}}").replace(
        "{count: 2,", "{count: 2, completions: 4, parallelisms: 4,"
    )
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    [rjob] = objects["JobSet"]["spec"]["replicatedJobs"]
    assert rjob["template"]["spec"]["completions"] == 4


def test_a_jobset_tpu_slice_with_other_completions_is_an_error(tmp_path):
    text = _jobset_text(f"{{cpus: 8, ramRatio: 2, {TPU_4X4}}}").replace(
        "{count: 2,", "{count: 2, completions: 3,"
    )
    result, _ = compile_text(tmp_path, text)
    assert result.exit_code != 0
    assert "E319" in result.stderr and "spec.types.worker.completions" in result.stderr


@pytest.mark.parametrize("operator", ["pytorch", "xgboost", "tf"])
def test_an_operator_that_cannot_use_a_multi_host_slice_says_so(tmp_path, operator):
    """pytorch's Master and Workers, xgboost's and tf's workers are one pod a Job each, with
    ranks across Jobs: none can be the pods of one slice's Job. An error, not one-pod Jobs
    that GKE never schedules as a slice."""
    text = f"""\
    name: tpu
    spec:
      operator: {operator}
      image: trainer
      command: python train.py
      types:
        Worker: {{count: 4, resources: {{cpus: 8, ramRatio: 2, {TPU_4X4}}}}}
    """
    result, _ = compile_text(tmp_path, text)
    assert result.exit_code != 0
    assert "E319" in result.stderr and operator in result.stderr
    assert "spec.types.Worker.resources.accelerators.tpu" in result.stderr


def test_a_single_host_tpu_slice_is_fine_for_every_operator(tmp_path):
    text = f"""\
    name: tpu
    spec:
      operator: pytorch
      image: trainer
      command: python train.py
      types:
        Worker: {{count: 2, resources: {{cpus: 8, ramRatio: 2, {TPU_4X4.replace("4x4", "2x2")}}}}}
    """
    result, objects = compile_text(tmp_path, text)
    assert result.exit_code == 0, result.stderr
    assert EXCLUSIVE not in objects["JobSet"]["metadata"]["annotations"]


def test_policy_pod_totals_count_every_host_of_a_jobset_slice(tmp_path):
    policy = tmp_path / "limits.yaml"
    policy.write_text(
        "apiVersion: manifest-compiler/v1\nkind: Policy\nmetadata: {name: l}\n"
        "spec: {limits: {pods: 7}}\n",
        encoding="utf-8",
    )
    text = _jobset_text(f"{{cpus: 8, ramRatio: 2, {TPU_4X4}}}")
    result, _ = compile_text(tmp_path, text, "-p", str(policy))
    assert result.exit_code != 0
    assert "E411" in result.stderr and "8" in result.stderr


def test_policy_totals_count_the_submitter_pod_the_rayjob_carries(tmp_path):
    """With the pods' identity the RayJob carries KubeRay's submitter pod itself, and the
    admission policy counts what the object carries (README: RayJob head + worker groups +
    submitter): compile counts it too, or it would emit what the cluster then denies."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        IDENTITY_POLICY + "  limits: {pods: 3, cpus: 3}\n", encoding="utf-8"
    )  # head + 2 workers of 1 CPU: 3 pods, 3 CPUs
    text = f"""\
    name: who
    spec:
      operator: kuberay
      image: trainer
      command: python run.py
      types:
        {OPERATOR_TYPES["kuberay"]}
    """
    result, _ = compile_text(tmp_path, text, "-p", str(policy))
    assert result.exit_code != 0
    assert "total pods 4" in result.stderr and "submitter: 1 pod" in result.stderr
    assert "total cpus 3.5" in result.stderr
