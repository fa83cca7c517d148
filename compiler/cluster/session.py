"""What the cluster commands do, with the output as two callables (``write`` for results on stdout,
``notice`` for progress and hints on stderr), so that other commands (``compile run``) reuse them."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from .client import Kube, connect
from .errors import ClusterError
from .jobs import Found, JobNotFound, delete, find_existing, wait_gone
from .kinds import main_object, resource_for
from .state import SUCCEEDED, State
from .submit import SUBMITTED_BY, apply

EXIT_OK, EXIT_FAILED, EXIT_ENV, EXIT_INTERRUPTED = 0, 1, 3, 130


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _stdout(message: str) -> None:
    print(message, flush=True)


@dataclass
class Output:
    write: Callable[[str], None] = _stdout
    notice: Callable[[str], None] = _stderr


class Refused(Exception):
    """The submission cannot go ahead (a taken name...); ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


def reattach_hint(found: Found, what: str = "watch") -> str:
    return f"compile {what} {found.resource.kind.lower()}/{found.name} -n {found.namespace}"


def _now() -> str:
    from datetime import datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(when: str) -> str:
    """An RFC 3339 time as ``2026-11-23T10:50:58Z`` (UTC, whole seconds), as kubectl prints it."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return when
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def state_line(state: State, when: str | None = None) -> str:
    when = _seconds(when or state.since or _now())
    return f"{when}  {state.phase:<9}  {state.reason}".rstrip()


class StateLines:
    """Writes each transition with its time: the one the object records (a condition's
    transition, a pod's start), else when it was seen; never earlier than the line before,
    so that the times read down the page as the states happened."""

    def __init__(self, write: Callable[[str], None], now: Callable[[], str] = _now):
        self.write = write
        self.now = now
        self.last: str | None = None

    def __call__(self, state: State) -> None:
        from .state import moment_key

        when = _seconds(state.since or self.now())
        if self.last is not None and moment_key(when) < moment_key(self.last):
            when = self.last
        self.last = when
        self.write(state_line(state, when))


# ---------------------------------------------------------------------------------------------
# submit


def make_room(kube: Kube, main: dict, replace: bool, dry_run: bool, out: Output) -> None:
    """A job's name is unique: an existing one is refused, unless ``replace`` deletes it first."""
    resource = resource_for(main)
    namespace, name = main["metadata"]["namespace"], main["metadata"]["name"]
    existing = find_existing(kube, resource, namespace, name)
    if existing is None:
        return
    if not replace:
        metadata = existing.obj["metadata"]
        who = (metadata.get("annotations") or {}).get(SUBMITTED_BY, "someone")
        raise Refused(
            f"{resource.short}/{name} already exists in namespace {namespace} "
            f"(submitted by {who} at {metadata.get('creationTimestamp')}); "
            "use --replace to delete it first, or --name-suffix timestamp for a new name"
        )
    if dry_run:
        out.notice(f"{resource.short}/{name} exists; --replace would delete it first")
        return
    out.notice(f"deleting the existing {resource.short}/{name} ...")
    delete(kube, existing, "Foreground")
    if not wait_gone(kube, resource, namespace, name):
        raise Refused(
            f"{resource.short}/{name} is still being deleted after 120s; try again later", EXIT_ENV
        )


def apply_objects(
    kube: Kube, objects: list[dict], replace: bool, dry_run: bool, out: Output
) -> Found:
    """Apply a submission's objects (its volumes and services before the job); the job."""
    main = main_object(objects)
    if main is None:
        raise Refused("nothing to submit: no JobSet, RayJob or Job among the objects")
    for obj in objects:
        obj.setdefault("metadata", {}).setdefault("namespace", kube.namespace)
    make_room(kube, main, replace, dry_run, out)
    applied: dict = {}
    for obj in sorted(objects, key=lambda o: o is main):
        applied = apply(kube, obj, dry_run)
        metadata = obj["metadata"]
        verb = "valid (server dry run)" if dry_run else "applied"
        out.write(
            f"{resource_for(obj).short}/{metadata['name']} {verb} in namespace {metadata['namespace']}"
        )
    if not dry_run:
        uid = (applied.get("metadata") or {}).get("uid")
        own_companions(
            kube,
            {**main, "metadata": {**main["metadata"], "uid": uid}},
            [obj for obj in objects if obj is not main],
        )
    return Found(resource_for(main), main)


def own_companions(kube: Kube, job: dict, companions: list[dict]) -> None:
    """``job``: as submitted, with the uid the API server gave it. The ports Service and the shared claim belong to the job they serve: with the job as
    their owner, Kubernetes' garbage collector deletes them with it (cancel, TTL). They are
    applied before the job (a pod must find its claim), so they get the owner afterwards."""
    from .submit import apply

    uid = (job.get("metadata") or {}).get("uid")
    if not uid or not companions:
        return
    owner = {
        "apiVersion": job["apiVersion"],
        "kind": job["kind"],
        "name": job["metadata"]["name"],
        "uid": uid,
    }
    for obj in companions:
        obj["metadata"]["ownerReferences"] = [owner]
        apply(kube, obj)


def how_to_follow(found: Found, out: Output) -> None:
    out.notice(f"follow it:  {reattach_hint(found)}\nlogs:       {reattach_hint(found, 'logs')} -f")


# ---------------------------------------------------------------------------------------------
# watch


def follow_job(
    kube: Kube,
    found: Found,
    out: Output,
    with_logs: bool = False,
    timeout: float | None = None,
) -> int:
    """Report transitions until the job finishes (streaming rank 0's logs alongside if asked);
    0 if it succeeded, 1 otherwise or when ``timeout`` seconds pass first, 130 on Ctrl-C (the
    job keeps running)."""
    from .logs import Selection, show_logs
    from .watch import WatchTimedOut, follow
    from .workers import CopyGone, dispatched, wait_for_worker

    stop = threading.Event()
    logs_thread = None
    if with_logs:

        def stream():
            try:
                where, job = kube, found
                if dispatched(found):
                    worker = wait_for_worker(kube, found, is_done=stop.is_set)
                    if worker is None:
                        return
                    where, job = worker.kube, worker.found
                show_logs(where, job, Selection(), True, out.write, out.notice, stop=stop)
            except ClusterError as exc:
                out.notice(f"logs stopped: {exc.line}")
            except CopyGone as gone:
                out.notice(f"no logs: {gone}")

        logs_thread = threading.Thread(target=stream, daemon=True)
        logs_thread.start()
    try:
        final = follow(kube, found, StateLines(out.write), out.notice, timeout=timeout).last
    except WatchTimedOut as exc:
        phase = exc.last.phase if exc.last is not None else "not seen yet"
        out.notice(
            f"error: timed out after {timeout:g}s: {found.resource.kind} {found.name} is {phase} "
            f"and keeps running. Reattach with: {reattach_hint(found)}"
        )
        return EXIT_FAILED
    except KeyboardInterrupt:
        stop.set()
        out.notice(
            f"stopped watching; {found.resource.kind} {found.name} keeps running. "
            f"Reattach with: {reattach_hint(found)}"
        )
        return EXIT_INTERRUPTED
    finally:
        stop.set()
    if logs_thread is not None:
        logs_thread.join(5.0)
    return EXIT_OK if final is not None and final.phase == SUCCEEDED else EXIT_FAILED


# ---------------------------------------------------------------------------------------------
# for other commands


def submit_objects(
    objects: list[dict],
    watch: bool = False,
    *,
    context: str | None = None,
    namespace: str | None = None,
    replace: bool = False,
    dry_run: bool = False,
    with_logs: bool = False,
    out: Output | None = None,
    timeout: float | None = None,
    watch_timeout: float | None = None,
) -> int:
    """Apply compiled objects and, with ``watch``, follow the job (for at most
    ``watch_timeout`` seconds); the exit code."""
    out = out or Output()
    try:
        kube = connect(context, namespace, timeout)
        found = apply_objects(kube, objects, replace, dry_run, out)
        if dry_run:
            return EXIT_OK
        how_to_follow(found, out)
        return follow_job(kube, found, out, with_logs, watch_timeout) if watch else EXIT_OK
    except ClusterError as exc:  # one line, the exit code of its kind (errors.py)
        out.notice(f"error: {exc.line}")
        return exc.code
    except Refused as exc:
        out.notice(f"error: {exc}")
        return exc.code
    except JobNotFound as exc:
        out.notice(f"error: {exc}")
        return EXIT_FAILED
