"""Cluster commands: submit, watch, status, logs, cancel, list.

Only click at module level: everything that talks to a cluster is imported when a command runs,
so ``compile`` and ``compile --help`` never load the kubernetes client.
"""

from __future__ import annotations

import functools
import sys
from datetime import UTC
from typing import NoReturn

import click

from .app import cli
from .common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    Duration,
    request_timeout_option,
    shared_options,
    timeout_option,
    watch_timeout_option,
)

EXIT_INTERRUPTED = 130


def cluster_options(function, timeout=timeout_option):
    """--context, -n/--namespace and --request-timeout; the kubeconfig found as kubectl finds it."""
    function = timeout(function)
    function = click.option(
        "-n",
        "--namespace",
        help="Namespace [default: where the job is: the project's of .compile.yaml, else the "
        "context's, else default].",
    )(function)
    return click.option("--context", help="kubeconfig context (default: the current context).")(
        function
    )


def watching_options(function):
    """cluster_options for a command that watches: --timeout bounds the watch."""
    return watch_timeout_option(cluster_options(function, request_timeout_option))


def output_option(*choices: str):
    return click.option(
        "-o",
        "--output",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


def _project_namespace() -> str | None:
    """The namespace ``submit`` puts a job in without --namespace: the project of the
    .compile.yaml found from here (a manifest's own project is not known from a job's name)."""
    from ..config import load_config

    config, problems = load_config()
    return None if problems else config.project


def _namespaces(kube, namespace: str | None) -> list[str]:
    """Where to look for a job: ``-n`` alone, else the project's namespace then the context's."""
    if namespace:
        return [namespace]
    return list(dict.fromkeys(n for n in (_project_namespace(), kube.namespace) if n))


def _find(kube, name: str, namespace: str | None):
    from ..cluster.jobs import find_job_in

    return find_job_in(kube, name, _namespaces(kube, namespace))


def _fail(code: int, message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _notice(message: str) -> None:
    click.echo(message, err=True)


def handles_cluster_errors(function):
    """Every cluster error is one line with the exit code of its kind (cluster/errors.py):
    3 for the environment (no cluster, not a Kubernetes API server, not allowed, a controller
    not installed, a failing server), 1 for a refusal of what was asked."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from ..cluster.errors import ClusterError
        from ..cluster.jobs import JobNotFound
        from ..cluster.kinds import BadReference

        try:
            return function(*args, **kwargs)
        except ClusterError as exc:
            _fail(exc.code, exc.line)
        except JobNotFound as exc:
            _fail(EXIT_INVALID, str(exc))
        except BadReference as exc:
            _fail(EXIT_USAGE, str(exc))

    return wrapper


def _connect(context, namespace, timeout=None):
    from ..cluster.client import connect

    return connect(context, namespace, timeout)


def _out():
    from ..cluster.session import Output

    return Output(click.echo, _notice)


def _follow(kube, found, with_logs: bool = False, watch_timeout: float | None = None) -> int:
    from ..cluster.session import follow_job

    return follow_job(kube, found, _out(), with_logs, watch_timeout)


@cli.command("watch")
@click.argument("name")
@watching_options
@click.option("--logs", "with_logs", is_flag=True, help="Stream rank 0's logs while watching.")
@handles_cluster_errors
def watch_command(name, context, namespace, timeout, watch_timeout, with_logs):
    """Follow job NAME (or KIND/NAME) until it finishes: exit 0 if it succeeded, 1 otherwise."""
    kube = _connect(context, namespace, timeout)
    found = _find(kube, name, namespace)
    _notice(
        f"watching {found.resource.short}/{found.name} in namespace {found.namespace} "
        "(Ctrl-C stops watching; the job keeps running)"
    )
    sys.exit(_follow(kube, found, with_logs, watch_timeout))


# ---------------------------------------------------------------------------------------------
# status and list


def _times(found, state, pods: list[dict]) -> tuple[str, str]:
    """(started, finished): started when its first pod started (a job that never ran a pod has
    not started), finished when the job says so."""
    from ..cluster.state import PENDING, running_since

    status = found.obj.get("status") or {}
    started = running_since(pods) or (state.phase != PENDING and status.get("startTime")) or "-"
    if not state.finished:
        return started, "-"
    return started, state.since or status.get("completionTime") or status.get("endTime") or "-"


def _counts_text(counts: dict) -> str:
    if not counts:
        return "none"
    parts = []
    for type_, phases in counts.items():
        parts.append(
            f"{type_}: "
            + ", ".join(f"{number} {phase}" for phase, number in sorted(phases.items()))
        )
    return "; ".join(parts)


@cli.command("status")
@click.argument("name")
@cluster_options
@output_option("text", "json")
@handles_cluster_errors
def status_command(name, context, namespace, timeout, output):
    """State, reason, start and end times and pods per type of job NAME (or KIND/NAME)."""
    import json

    from ..cluster.jobs import explained
    from ..cluster.kinds import pod_counts
    from ..cluster.submit import GIT_COMMIT, IMAGE, SUBMITTED_BY
    from ..cluster.workers import dispatched

    kube = _connect(context, namespace, timeout)
    found = _find(kube, name, namespace)
    worker, runs_on, pods = _where_and_pods(kube, found)
    view = explained(kube, found, pods=pods)
    state = view.state
    started, ended = _times(found, state, pods)
    annotations = found.obj["metadata"].get("annotations") or {}
    pod_phases = pod_counts(found.resource.kind, pods)
    if output == "json":
        summary = {
            "kind": found.resource.kind,
            "name": found.name,
            "namespace": found.namespace,
            "state": state.phase,
            "reason": state.reason,
            "queue": view.queue,
            "queuePosition": _position(view.position),
            "cluster": worker,
            "started": None if started == "-" else started,
            "finished": None if ended == "-" else ended,
            "pods": pod_phases,
            "submittedBy": annotations.get(SUBMITTED_BY),
            "gitCommit": annotations.get(GIT_COMMIT),
            "image": annotations.get(IMAGE),
        }
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    rows = [
        ("job", f"{found.resource.short}/{found.name}"),
        ("namespace", found.namespace),
        ("state", state.phase),
        ("reason", state.reason or "-"),
        ("queue", view.queue_column),
        *([("cluster", runs_on)] if dispatched(found) else []),
        ("started", started),
        ("finished", ended),
        ("pods", _counts_text(pod_phases)),
        ("submitted by", annotations.get(SUBMITTED_BY, "-")),
        ("git commit", annotations.get(GIT_COMMIT, "-")),
        ("image", annotations.get(IMAGE, "-")),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<14}{value}")


def _where_and_pods(kube, found) -> tuple[str | None, str, list[dict]]:
    """(worker, what the cluster row says, pods) of a job: the pods of its copy on the worker
    that runs it; once that worker removed the copy of the finished job, none (the manager's
    copy carries the final status)."""
    from ..cluster.jobs import list_pods
    from ..cluster.workers import CopyGone, locate

    try:
        worker = locate(kube, found)
    except CopyGone as gone:
        return gone.worker, f"ran on {gone.worker} (its copy is gone; status from the manager)", []
    if worker is None:
        return None, "no worker has taken it yet", list_pods(kube, found)
    return worker.name, f"running on {worker.name}", list_pods(worker.kube, worker.found)


def _position(position) -> dict | None:
    if position is None:
        return None
    return {"index": position.index + 1, "pending": position.pending or None}


@cli.command("list")
@cluster_options
@click.option(
    "-A", "--all-namespaces", is_flag=True, help="The jobs of every namespace (NAMESPACE column)."
)
@click.option(
    "-l",
    "--selector",
    metavar="SELECTOR",
    help="Only the jobs whose labels match, as kubectl: -l team=nlp,tier!=dev.",
)
@output_option("text", "wide", "json")
@handles_cluster_errors
def list_command(context, namespace, timeout, all_namespaces, selector, output):
    """The jobs this tool created in the namespace, with their state and age."""
    from ..cluster.jobs import job_rows

    if all_namespaces and namespace:
        _fail(EXIT_USAGE, "-A lists every namespace; it cannot be combined with -n")
    kube = _connect(context, namespace, timeout)
    namespaces = [""] if all_namespaces else _namespaces(kube, namespace)
    jobs = [row for each in namespaces for row in job_rows(kube, each, selector)]
    if output == "json":
        import json

        click.echo(json.dumps([_row_dict(job) for job in jobs], indent=2, ensure_ascii=False))
        return
    if not jobs:
        where = "any namespace" if all_namespaces else "namespace " + " or ".join(namespaces)
        _notice(f"no jobs created by manifest-compiler in {where}")
        return
    _print_table(jobs, all_namespaces or len(namespaces) > 1, output == "wide")


def _row_dict(job) -> dict:
    from ..cluster.submit import GIT_COMMIT, IMAGE, SUBMITTED_BY

    return {
        "kind": job.kind,
        "name": job.name,
        "namespace": job.namespace,
        "created": job.created or None,
        "state": job.phase,
        "reason": job.reason,
        "queue": None if job.queue == "-" else job.queue,
        "submittedBy": job.annotation(SUBMITTED_BY) or None,
        "gitCommit": job.annotation(GIT_COMMIT) or None,
        "image": job.annotation(IMAGE) or None,
    }


def _print_table(jobs, with_namespace: bool, wide: bool) -> None:
    """kubectl's table: columns padded to their widest value, the reason last and unpadded."""
    from datetime import datetime

    from ..cluster.kinds import age
    from ..cluster.submit import GIT_COMMIT, IMAGE, SUBMITTED_BY

    now = datetime.now(UTC)
    header = ["NAME", "KIND", "STATE", "AGE", "QUEUE"]
    if wide:
        header += ["SUBMITTED BY", "COMMIT", "IMAGE"]
    if with_namespace:
        header.insert(0, "NAMESPACE")
    rows = [[*header, "REASON"]]
    for job in jobs:
        row = [job.name, job.kind, job.phase, age(job.created or None, now), job.queue]
        if wide:
            row += [
                job.annotation(SUBMITTED_BY) or "-",
                job.annotation(GIT_COMMIT)[:12] or "-",
                job.annotation(IMAGE) or "-",
            ]
        if with_namespace:
            row.insert(0, job.namespace)
        rows.append([*row, job.reason])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        padded = "  ".join(value.ljust(widths[i]) for i, value in enumerate(row[:-1]))
        click.echo(f"{padded}  {row[-1]}".rstrip())


# ---------------------------------------------------------------------------------------------
# logs


@cli.command("logs")
@click.argument("name")
@cluster_options
@click.option("-f", "--follow", is_flag=True, help="Stream the logs as they are written.")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Every pod, each line prefixed with the pod (worker-3-0 | ...).",
)
@click.option(
    "--type",
    "type_",
    metavar="T",
    help="Pods of this type (replicated job, Ray group, head, submitter).",
)
@click.option(
    "--index",
    type=click.IntRange(min=0),
    metavar="I",
    help="The pods of Job index I of the type (JOB_INDEX).",
)
@click.option(
    "--prefix/--no-prefix",
    default=None,
    help="Prefix each line with its pod [default: when several pods].",
)
@click.option(
    "--tail", type=click.IntRange(min=0), metavar="N", help="The last N lines of each pod."
)
@click.option(
    "--since",
    type=Duration(),
    metavar="DURATION",
    help="Only lines newer than this (90s, 10m, 2h).",
)
@click.option("--timestamps", is_flag=True, help="Prefix each line with its RFC 3339 time.")
@handles_cluster_errors
def logs_command(
    name,
    context,
    namespace,
    timeout,
    follow,
    everything,
    type_,
    index,
    prefix,
    tail,
    since,
    timestamps,
):
    """Logs of job NAME: rank 0 by default."""
    from ..cluster.logs import LogOptions, Selection, show_logs

    if everything and (type_ is not None or index is not None):
        _fail(EXIT_USAGE, "--all shows every pod; it cannot be combined with --type or --index")
    kube = _connect(context, namespace, timeout)
    found = _find(kube, name, namespace)
    selection = Selection(everything, type_, index)
    options = LogOptions(tail, since, timestamps)
    try:
        kube, found = _where_it_runs(kube, found, follow)
        shown = show_logs(
            kube, found, selection, follow, click.echo, _notice, prefix, options=options
        )
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    if not shown:
        sys.exit(EXIT_INVALID)


def _where_it_runs(kube, found, follow: bool):
    """The client and job whose pods to read: the worker's copy of a job a MultiKueue manager
    dispatched (``follow``: waiting for a worker to take it), else the job itself."""
    from ..cluster.workers import CopyGone, dispatched, locate, wait_for_worker

    if not dispatched(found):
        return kube, found
    try:
        worker = wait_for_worker(kube, found) if follow else locate(kube, found)
    except CopyGone as gone:  # as a job without pods: no logs to show, exit 1
        _notice(str(gone))
        sys.exit(EXIT_INVALID)
    if worker is None:
        _fail(EXIT_INVALID, f"no worker cluster runs {found.resource.kind} {found.name} yet")
    _notice(f"{found.resource.kind} {found.name} runs on worker cluster {worker.name}")
    return worker.kube, worker.found


# ---------------------------------------------------------------------------------------------
# cancel


@cli.command("cancel")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@cluster_options
@click.option(
    "--propagation",
    type=click.Choice(["Foreground", "Background"]),
    default="Foreground",
    show_default=True,
    help="Foreground: the job goes once its pods are gone; Background: at once, pods after.",
)
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Wait until the job is gone."
)
@click.option(
    "--ignore-not-found",
    is_flag=True,
    help="A job that does not exist is not an error (exit 0).",
)
@handles_cluster_errors
def cancel_command(names, context, namespace, timeout, propagation, wait, ignore_not_found):
    """Stop job NAME: delete it with its pods. A finished or absent job is left as it is."""
    from ..cluster.jobs import JobNotFound

    kube = _connect(context, namespace, timeout)
    missing = 0
    for name in names:
        try:
            found = _find(kube, name, namespace)
        except JobNotFound as exc:
            if ignore_not_found:
                click.echo(f"{exc}; nothing to cancel")
            else:
                _notice(f"error: {exc}")
                missing += 1
            continue
        _cancel(kube, found, propagation, wait)
    if missing:
        sys.exit(EXIT_INVALID)


def _cancel(kube, found, propagation: str, wait: bool) -> None:
    from ..cluster.jobs import current_state, delete, wait_gone

    state = current_state(kube, found)
    if state.finished:
        click.echo(
            f"{found.resource.short}/{found.name} had already finished: {state.phase}"
            + (f" ({state.reason})" if state.reason else "")
            + "; nothing to cancel"
        )
        return
    if not delete(kube, found, propagation):
        click.echo(f"{found.resource.short}/{found.name} is already gone; nothing to cancel")
        return
    if wait and not wait_gone(kube, found.resource, found.namespace, found.name):
        _notice(
            f"{found.resource.short}/{found.name} is still being deleted (its pods are terminating)"
        )
    click.echo(
        f"{found.resource.short}/{found.name} cancelled (was {state.phase}); deleted with its pods"
    )


# ---------------------------------------------------------------------------------------------
# submit


@cli.command("submit")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@shared_options
@click.option("--context", help="kubeconfig context (default: the current context).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Ask the API server to validate the objects without creating them.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Delete a job of the same name first (and wait until it is gone).",
)
@click.option(
    "--name-suffix",
    type=click.Choice(["timestamp"]),
    help="Make the name unique: -2026-11-23t10-50-57.",
)
@click.option(
    "--allow-dirty",
    is_flag=True,
    help="Submit even if the manifest's git repository has uncommitted changes.",
)
@click.option(
    "--watch",
    "watch_",
    is_flag=True,
    help="Follow the job until it finishes (exit 0 only if it succeeded).",
)
@click.option("--logs", "with_logs", is_flag=True, help="With --watch: stream rank 0's logs too.")
@click.option(
    "--build",
    "build_",
    is_flag=True,
    help="Build and push the image first (compile image) and pin its digest.",
)
@click.option(
    "--builder",
    type=click.Choice(["docker", "kaniko"]),
    default="docker",
    show_default=True,
    help="With --build: how the image is built.",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print warnings.")
@request_timeout_option
@watch_timeout_option
@handles_cluster_errors
def submit_command(
    files,
    context,
    timeout,
    watch_timeout,
    dry_run,
    replace,
    name_suffix,
    allow_dirty,
    watch_,
    with_logs,
    build_,
    builder,
    quiet,
    **options,
):
    """Compile FILES, apply them to the cluster (server-side apply) and say how to follow them."""
    if with_logs and not watch_:
        _fail(EXIT_USAGE, "--logs streams logs while watching; add --watch")
    if watch_timeout is not None and not watch_:
        _fail(EXIT_USAGE, "--timeout bounds a watch; add --watch")
    if build_:
        options["image_digest"] = _build_first(files, builder, allow_dirty, context, quiet, options)
    # a dry run creates nothing: a dirty tree is only worth a warning there
    submissions = _compile_for_submit(files, options, name_suffix, allow_dirty or dry_run, quiet)
    if watch_ and len(submissions) != 1:
        _fail(EXIT_USAGE, f"--watch follows one job; these files hold {len(submissions)} workloads")
    from ..cluster.session import Refused, apply_objects, how_to_follow

    kube = _connect(context, options.get("namespace"), timeout)
    applied = []
    try:
        for objects in submissions:
            applied.append(apply_objects(kube, objects, replace, dry_run, _out()))
    except Refused as exc:
        _fail(exc.code, str(exc))
    if dry_run:
        return
    for found in applied:
        how_to_follow(found, _out())
    if watch_:
        sys.exit(_follow(kube, applied[0], with_logs, watch_timeout))


def _build_first(files, builder, allow_dirty, context, quiet, options) -> str:
    """``submit --build``: the image of the one workload, built and pushed; its digest."""
    from .build import build_image

    if len(files) != 1:
        _fail(EXIT_USAGE, "--build builds the image of one manifest; give one file")
    if options.get("image_digest"):
        _fail(EXIT_USAGE, "--build and --image-digest both choose the image; give one of them")
    build_options = {key: value for key, value in options.items() if key != "image_digest"}
    destination, digest = build_image(
        files[0], builder, allow_dirty, context=context, quiet=quiet, **build_options
    )
    _out().notice(f"built {destination}@{digest}")
    return digest


def _compile_for_submit(
    files, options: dict, name_suffix, allow_dirty: bool, quiet: bool
) -> list[list[dict]]:
    """Compile, then compile each workload again with its submission record (and unique name)."""
    from dataclasses import replace as replaced

    from ..cluster.kinds import main_object
    from ..cluster.submit import image_of, now_suffix, record, submitter
    from ..inputs import compile_paths, sorted_diagnostics
    from ..pipeline import compile_documents
    from .core import exit_code as _exit_code
    from .render import as_text

    inputs, units, diagnostics = compile_paths(files, **options)
    _show(diagnostics, quiet)
    code = _exit_code(diagnostics)
    if code != EXIT_OK:
        sys.exit(code)
    units = [unit for unit in units if unit.objects and unit.workload is not None]
    if not units:
        _fail(EXIT_INVALID, "nothing to submit: no workload among " + ", ".join(files))
    who = submitter()
    suffix = now_suffix() if name_suffix == "timestamp" else ""
    submissions = []
    for unit in units:
        git = _checked_git(unit.document.file, allow_dirty, quiet)
        annotations = record(git, image_of(main_object(unit.objects) or {}), who)
        again = replaced(
            inputs.options,
            name=unit.workload.name + suffix,  # type: ignore[union-attr]  # units with one, above
            extra_annotations=tuple(inputs.options.extra_annotations) + annotations,
        )
        [recompiled] = compile_documents([unit.document], inputs.catalog, again)
        problems = sorted_diagnostics(recompiled.diagnostics)
        if _exit_code(problems) != EXIT_OK:
            click.echo(as_text([d for d in problems if d.is_error]), err=True, nl=False)
            sys.exit(EXIT_INVALID)
        submissions.append(recompiled.objects)
    return submissions


def _show(diagnostics, quiet: bool) -> None:
    from .render import as_text

    shown = [d for d in diagnostics if d.is_error or not quiet]
    if shown:
        click.echo(as_text(shown), err=True, nl=False)


def _checked_git(file: str, allow_dirty: bool, quiet: bool):
    from ..cluster.submit import git_state

    git = git_state(file)
    if git.commit is None:
        if not quiet:
            _notice(f"warning: {git.problem}; the job will not record a git commit")
        return git
    if git.dirty and not allow_dirty:
        listed = ", ".join(git.dirty_paths[:5]) + (" ..." if len(git.dirty_paths) > 5 else "")
        _fail(
            EXIT_INVALID,
            f"the repository of {file} has uncommitted changes ({listed}); "
            "commit them so the job records what it ran, or pass --allow-dirty",
        )
    if git.dirty and not quiet:
        _notice(
            f"warning: submitting from a dirty tree; commit {git.commit[:12]} does not hold every change"
        )
    return git
