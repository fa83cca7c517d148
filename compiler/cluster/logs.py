"""Logs of a job's pods: rank 0 by default, every pod with a prefix, or one type and index."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .client import ApiError, ClusterUnavailable, Kube, NotKubernetes, StreamSilent
from .jobs import Found, list_pods
from .kinds import POD, PodKey, select_pods

STARTED_PHASES = ("Running", "Succeeded", "Failed")


@dataclass
class Selection:
    everything: bool = False
    type_: str | None = None
    index: int | None = None

    def describe(self) -> str:
        if self.everything:
            return "any pod"
        if self.type_ is not None or self.index is not None:
            parts = [
                f"type {self.type_}" if self.type_ else "",
                f"index {self.index}" if self.index is not None else "",
            ]
            return "a pod of " + " and ".join(p for p in parts if p)
        return "the rank 0 pod"


@dataclass(frozen=True)
class LogOptions:
    """kubectl's ``--tail``, ``--since`` and ``--timestamps``: what the kubelet is asked for."""

    tail: int | None = None  # the last N lines of each pod (tailLines)
    since: float | None = None  # seconds back from now (sinceSeconds)
    timestamps: bool = False  # each line prefixed with the kubelet's RFC 3339 time

    def query(self) -> dict:
        return {
            "tailLines": str(self.tail) if self.tail is not None else None,
            "sinceSeconds": str(max(1, int(self.since))) if self.since is not None else None,
            "timestamps": "true" if self.timestamps else None,
        }


def choose(kube: Kube, found: Found, selection: Selection) -> list[tuple[PodKey, dict]]:
    return select_pods(
        found.resource.kind,
        list_pods(kube, found),
        selection.everything,
        selection.type_,
        selection.index,
    )


def wait_for_pods(
    kube: Kube,
    found: Found,
    selection: Selection,
    is_done: Callable[[], bool] = lambda: False,
    poll: float = 1.0,
) -> list[tuple[PodKey, dict]]:
    """The chosen pods once at least one exists (an empty list if ``is_done`` says to stop)."""
    while True:
        chosen = choose(kube, found, selection)
        if chosen or is_done():
            return chosen
        time.sleep(poll)


def _pod_phase(pod: dict) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def _container(pod: dict) -> str | None:
    containers = (pod.get("spec") or {}).get("containers") or []
    return containers[0].get("name") if containers else None


def _wait_started(
    kube: Kube, pod: dict, poll: float = 1.0, stop: threading.Event | None = None
) -> dict | None:
    name = pod["metadata"]["name"]
    namespace = pod["metadata"]["namespace"]
    while _pod_phase(pod) not in STARTED_PHASES:
        if stop is not None and stop.is_set():
            return None
        time.sleep(poll)
        try:
            pod = kube.get(POD.path(namespace, name))
        except ApiError as exc:
            if exc.not_found:
                return None
            raise
    return pod


class Printer:
    """Writes whole lines from several threads. ``prefixed``: whether a line names its pod;
    None: once several pods are followed."""

    def __init__(self, write: Callable[[str], None], prefixed: bool | None = None):
        self.write = write
        self.prefixed = prefixed
        self.pods = 0
        self.lock = threading.Lock()

    def add_pod(self) -> None:
        with self.lock:
            self.pods += 1

    def line(self, prefix: str, text: str) -> None:
        with self.lock:
            shown = self.prefixed if self.prefixed is not None else self.pods > 1
            self.write(f"{prefix} | {text}" if shown else text)


def stream_pod(
    kube: Kube,
    key: PodKey,
    pod: dict,
    printer: Printer,
    follow: bool,
    notice: Callable[[str], None],
    stop: threading.Event | None = None,
    options: LogOptions = LogOptions(),
) -> bool:
    """Print one pod's log; False when there is none to show."""
    prefix = key.prefix
    name = pod["metadata"]["name"]
    if _pod_phase(pod) not in STARTED_PHASES:
        if not follow:
            notice(f"{key.prefix}: pod {name} is {_pod_phase(pod)}; no logs yet")
            return False
        started = _wait_started(kube, pod, stop=stop)
        if started is None:
            return False
        pod = started
    path = POD.path(pod["metadata"]["namespace"], name, "log")
    follow = follow and _pod_phase(pod) not in ("Succeeded", "Failed")  # an ended log is whole
    try:
        if follow:
            _follow_log(
                kube,
                path,
                _container(pod),
                lambda text: printer.line(prefix, text),
                stop,
                ended=lambda: _has_ended(kube, pod),
                options=options,
            )
        else:
            query = {"container": _container(pod), **options.query()}
            for raw in kube.stream_lines(path, query):
                printer.line(prefix, raw.decode("utf-8", "replace").rstrip("\r"))
    except ApiError as exc:
        notice(f"{key.prefix}: no logs from pod {name}: {exc.message}")
        return False
    return True


def _has_ended(kube: Kube, pod: dict) -> bool:
    """Whether the pod has finished (or is gone): its log will not grow."""
    metadata = pod["metadata"]
    try:
        now = kube.get(POD.path(metadata["namespace"], metadata["name"]))
    except ApiError as exc:
        if exc.not_found:
            return True
        raise
    return _pod_phase(now) in ("Succeeded", "Failed")


def _stamp(text: str) -> tuple[str, str] | None:
    """A kubelet timestamp (RFC 3339 with up to nanoseconds) as a key that sorts by time."""
    if len(text) < 20 or text[10:11] != "T" or not text.endswith("Z"):
        return None
    whole, _, fraction = text[:-1].partition(".")
    if len(whole) != 19 or (not fraction.isdigit() and fraction):
        return None
    return whole, fraction.ljust(9, "0")


@dataclass
class _Seen:
    """Where a followed log stands, so that a stream opened again prints no line twice. With
    the kubelet's timestamps: the newest one printed and how many lines carried it (the stream
    is opened again from that second, ``sinceTime``). Without (a server that ignores
    ``timestamps``): how many lines were printed (it is opened again from the start)."""

    stamp: tuple[str, str] | None = None
    at_stamp: int = 0
    replayed: int = 0  # lines carrying ``stamp`` seen again on the current stream
    plain: int = 0  # lines without a timestamp printed
    plain_seen: int = 0  # ... and seen on the current stream

    def since(self) -> str | None:
        return f"{self.stamp[0]}Z" if self.stamp and not self.plain else None

    def reopened(self) -> None:
        self.replayed = self.plain_seen = 0

    def new(self, stamp: tuple[str, str] | None) -> bool:
        """Whether a line with this timestamp is yet to be printed (and count it as printed)."""
        if stamp is None:
            self.plain_seen += 1
            if self.plain_seen <= self.plain:
                return False
            self.plain += 1
            return True
        if self.stamp is None or stamp > self.stamp:
            self.stamp, self.at_stamp, self.replayed = stamp, 1, 1
            return True
        if stamp < self.stamp:
            return False
        self.replayed += 1
        if self.replayed <= self.at_stamp:
            return False
        self.at_stamp += 1
        return True


def _follow_log(
    kube: Kube,
    path: str,
    container: str | None,
    line: Callable[[str], None],
    stop: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    ended: Callable[[], bool] = lambda: False,
    options: LogOptions = LogOptions(),
) -> None:
    """Follow a container's log until it ends. A stream silent for the timeout is opened again
    from the last line's time (a quiet pod keeps a stream open; a dead one does not answer),
    or, when ``ended`` says the pod has finished, read one last time without following;
    a broken one is retried with back-off and given up after the timeout (ClusterUnavailable)."""
    from .watch import Backoff

    seen = _Seen()
    backoff = Backoff(give_up_after=kube.timeout)
    last = False
    while True:
        since = seen.since()
        query = {
            "container": container,
            "follow": None if last else "true",
            "timestamps": "true",
            "sinceTime": since,
        }
        if since is None and seen.plain == 0:  # nothing printed yet: --tail and --since hold
            query.update({**options.query(), "timestamps": "true"})
        seen.reopened()
        try:
            for raw in kube.stream_lines(path, query):
                backoff.succeeded()
                text = raw.decode("utf-8", "replace").rstrip("\r")
                first, _, rest = text.partition(" ")
                stamp = _stamp(first)
                if seen.new(stamp):
                    line(rest if stamp is not None and not options.timestamps else text)
            return  # the container ended: the kubelet closed the stream
        except StreamSilent:
            backoff.succeeded()  # the server answered; the pod is quiet, or has ended
            if (stop is not None and stop.is_set()) or last:
                return
            last = ended()
        except NotKubernetes:
            raise
        except ClusterUnavailable as exc:
            now = clock()
            if backoff.exhausted(now):
                raise ClusterUnavailable(
                    f"{exc}; gave up after {backoff.give_up_after:g}s"
                ) from None
            sleep(backoff.failed(now))


def show_logs(
    kube: Kube,
    found: Found,
    selection: Selection,
    follow: bool,
    write: Callable[[str], None],
    notice: Callable[[str], None],
    prefix: bool | None = None,
    stop: threading.Event | None = None,
    options: LogOptions = LogOptions(),
) -> int:
    """Print the logs; returns of how many pods the logs could be read."""
    if follow:
        printer = Printer(write, True if selection.everything and prefix is None else prefix)
        return _follow_pods(kube, found, selection, printer, notice, stop, options)
    chosen = choose(kube, found, selection)
    if not chosen:
        _no_pod(found, selection, notice)
        return 0
    several = len(chosen) > 1 or selection.everything
    printer = Printer(write, prefix if prefix is not None else several)
    return sum(
        stream_pod(kube, key, pod, printer, False, notice, stop, options) for key, pod in chosen
    )


def _no_pod(found: Found, selection: Selection, notice: Callable[[str], None]) -> None:
    notice(f"no pod of {found.resource.kind} {found.name} matches ({selection.describe()}) yet")


def _follow_pods(
    kube: Kube,
    found: Found,
    selection: Selection,
    printer: Printer,
    notice: Callable[[str], None],
    stop: threading.Event | None,
    options: LogOptions,
    poll: float = 2.0,
) -> int:
    """Follow the chosen pods' logs, and those of pods chosen later (KubeRay creates a RayJob's
    submitter pod after its cluster's; a retried pod takes its place's), until every followed
    log has ended and no new pod is chosen (or ``stop`` is set)."""

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    chosen = wait_for_pods(kube, found, selection, is_done=stopped)
    if not chosen:
        _no_pod(found, selection, notice)
        return 0
    streams: dict[str, threading.Thread] = {}
    errors: list[BaseException] = []
    shown: list[bool] = []

    def run(key: PodKey, pod: dict) -> None:
        try:
            shown.append(stream_pod(kube, key, pod, printer, True, notice, stop, options))
        except (ClusterUnavailable, ApiError) as exc:
            errors.append(exc)

    by_default = not selection.everything and selection.type_ is None and selection.index is None
    followed_types: set[str] = set()
    while True:
        new = [(key, pod) for key, pod in chosen if pod["metadata"]["name"] not in streams]
        if by_default:
            # the default is one pod, rank 0; a pod of a type already followed is another rank
            # that only looked first (its pods start in any order), not a new part of the job;
            # a pod of a new type is (KubeRay's submitter after the Ray cluster's head)
            new = [(key, pod) for key, pod in new if key.type not in followed_types]
        for key, pod in new:
            followed_types.add(key.type)
            printer.add_pod()
            thread = threading.Thread(target=run, args=(key, pod), daemon=True)
            streams[pod["metadata"]["name"]] = thread
            thread.start()
        if not new and not any(thread.is_alive() for thread in streams.values()):
            break
        _join_for(streams.values(), poll)
        if errors or stopped():
            break
        chosen = choose(kube, found, selection)
    for thread in streams.values():
        while thread.is_alive():
            thread.join(0.5)
    if errors:
        raise errors[0]
    return sum(shown)


def _join_for(threads, seconds: float) -> None:
    """Wait until every thread has ended, or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
