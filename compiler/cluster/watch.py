"""Follow one job through its states: list, then watch from the list's resourceVersion.

The loop survives what a long watch meets: the server ending the stream (it is re-opened from
the last resourceVersion seen), a 410 Gone (the watch window moved on: list again and carry on
from the fresh state), a broken connection or an API server restart (retried with back-off).
Transitions are computed from the object each time, and only a change of phase is reported,
so a repeated event after a reconnect is never reported twice.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .client import ApiError, ClusterUnavailable, Kube, NotKubernetes
from .jobs import Found, KueueView, explain_observed
from .kinds import Resource
from .state import PENDING, State, deleted, state_of, transition

WATCH_SECONDS = 300  # at most, server-side timeout of one watch request; then it is re-opened
READ_MARGIN = 60  # beyond the server's timeout, silence means a dead connection (default)


@dataclass
class Backoff:
    first: float = 0.5
    limit: float = 8.0
    give_up_after: float = 300.0
    delay: float = 0.0
    failing_since: float | None = None

    def failed(self, now: float) -> float:
        """Seconds to sleep before the next attempt; raises nothing, see ``exhausted``."""
        if self.failing_since is None:
            self.failing_since = now
        self.delay = self.first if not self.delay else min(self.delay * 2, self.limit)
        return self.delay

    def exhausted(self, now: float) -> bool:
        return self.failing_since is not None and now - self.failing_since > self.give_up_after

    def succeeded(self) -> None:
        self.delay, self.failing_since = 0.0, None


class WatchTimedOut(Exception):
    """``--timeout`` of a watch passed before the job finished; ``last``: its state then."""

    def __init__(self, last: State | None):
        super().__init__("timed out")
        self.last = last


@dataclass
class Follower:
    """Watches ``name`` of ``resource`` and calls ``report(state)`` once per transition."""

    kube: Kube
    resource: Resource
    namespace: str
    name: str
    report: Callable[[State], None]
    notice: Callable[[str], None] = lambda message: None
    backoff: Backoff = field(default_factory=Backoff)
    last: State | None = None
    resource_version: str | None = None
    kueue: KueueView | None = None
    watch_seconds: int = WATCH_SECONDS
    relists: int = 0
    reconnects: int = 0
    watches: int = 0  # watch requests opened
    # (job, state, workload) -> state told with why it waits; while it waits, the explanation is
    # looked at again every ``recheck_seconds`` (a Workload's or pod's change is no job event)
    explain: Callable[[dict, State, dict | None], State] | None = None
    recheck_seconds: int = 15
    last_obj: dict | None = None
    deadline: float | None = None  # time.monotonic() at which to stop watching (--timeout)
    clock: Callable[[], float] = time.monotonic
    worker: str | None = None  # the MultiKueue worker running the job, once told

    def __post_init__(self):
        self.kueue = self.kueue or KueueView(self.kube)

    # -- one observation --------------------------------------------------------------------

    def _observe(self, obj: dict | None) -> None:
        if obj is None:
            current = deleted(self.last)
        else:
            obj.setdefault("kind", self.resource.kind)
            workload = self.kueue.workload_of(obj) if self.kueue else None
            self._tell_worker(workload)
            current = state_of(obj, workload)
            if self.explain is not None:
                current = self.explain(obj, current, workload)
            self.last_obj = obj
        changed = transition(self.last, current)
        if (
            changed is None
            and self.last is not None
            and self._still_waiting(current)
            and current.reason != self.last.reason
        ):
            # waiting, for another reason or at another place in the queue: told as of now
            changed = replace(current, since=None)
        if changed is not None:
            self.last = changed
            self.report(changed)

    def _tell_worker(self, workload: dict | None) -> None:
        """Once: the worker cluster a MultiKueue manager dispatched the job to."""
        name = ((workload or {}).get("status") or {}).get("clusterName")
        if name and name != self.worker:
            self.worker = name
            self.notice(f"running on worker cluster {name}")

    def _still_waiting(self, current: State) -> bool:
        return (
            self.explain is not None
            and self.last is not None
            and self.last.phase == current.phase
            and waiting(current)
        )

    @property
    def finished(self) -> bool:
        return self.last is not None and self.last.finished

    # -- list and watch ---------------------------------------------------------------------

    def _list(self) -> None:
        listed = self.kube.get(
            self.resource.path(self.namespace), fieldSelector=f"metadata.name={self.name}"
        )
        self.resource_version = (listed.get("metadata") or {}).get("resourceVersion")
        items = listed.get("items") or []
        if not items and self.last is None:
            raise ApiError(
                404,
                "NotFound",
                f"no {self.resource.kind} named {self.name!r} in namespace {self.namespace}",
            )
        self._observe(items[0] if items else None)

    def _watch(self) -> None:
        """One watch request, until the server ends it or the job finishes."""
        self.watches += 1
        seconds = self._watch_timeout()
        query = {
            "watch": "1",
            "fieldSelector": f"metadata.name={self.name}",
            "resourceVersion": self.resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(seconds),
        }
        # the server ends the stream after ``seconds``: silent for longer, it is dead
        events = self.kube.events(
            self.resource.path(self.namespace), query, silence=seconds + self._patience()
        )
        for kind, obj in events:
            if kind == "ERROR":
                raise ApiError(
                    obj.get("code") or 500, obj.get("reason") or "Error", obj.get("message") or ""
                )
            self.backoff.succeeded()
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version:
                self.resource_version = version
            if kind == "BOOKMARK":
                continue
            self._observe(None if kind == "DELETED" else obj)
            if self.finished:
                return
        self.backoff.succeeded()  # the server ended the stream itself: the connection is fine
        if self.explain is not None and self.last_obj is not None and waiting(self.last):
            self._observe(self.last_obj)  # the job did not change; why it waits may have

    def _patience(self) -> float:
        return float(getattr(self.kube, "timeout", READ_MARGIN))

    def _watch_timeout(self) -> int:
        seconds = min(self.watch_seconds, max(1, math.ceil(self._patience())))
        if self.deadline is not None:
            seconds = min(seconds, max(1, math.ceil(self.deadline - self.clock())))
        if self.explain is not None and self.last is not None and waiting(self.last):
            return min(self.recheck_seconds, seconds)
        return seconds

    def run(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> State:
        """Until the job finishes; returns its final state. ClusterUnavailable once retries give up."""
        while not self.finished:
            if self.deadline is not None and self.clock() >= self.deadline:
                raise WatchTimedOut(self.last)
            try:
                if self.resource_version is None:
                    self._list()
                    self.backoff.succeeded()
                    if self.finished:
                        break
                self._watch()
            except ApiError as exc:
                if exc.gone:
                    # the resourceVersion left the server's watch window: start again from a list
                    self.notice(f"the watch expired ({exc.message}); listing again")
                    self.resource_version = None
                    self.relists += 1
                    continue
                if exc.status in (429, 500, 502, 503, 504):
                    self._pause(f"the API server answered {exc.status} {exc.reason}", sleep, clock)
                    continue
                raise
            except NotKubernetes:
                raise  # asking again brings the same answer
            except ClusterUnavailable as exc:
                self._pause(str(exc), sleep, clock)
        assert self.last is not None  # finished means a state was seen
        return self.last

    def _pause(self, why: str, sleep, clock) -> None:
        now = clock()
        if self.backoff.exhausted(now):
            raise ClusterUnavailable(f"{why}; gave up after {self.backoff.give_up_after:g}s")
        delay = self.backoff.failed(now)
        if self.backoff.delay == self.backoff.first:
            self.notice(f"{why}; retrying")
        self.reconnects += 1
        sleep(delay)


def waiting(state: State | None) -> bool:
    """Queued by Kueue, or with pods the scheduler cannot place."""
    return state is not None and (
        state.phase == PENDING or (not state.finished and "cannot be scheduled" in state.reason)
    )


def follow(
    kube: Kube,
    found: Found,
    report,
    notice=lambda message: None,
    resource_version: str | None = None,
    give_up_after: float | None = None,
    watch_seconds: int = WATCH_SECONDS,
    timeout: float | None = None,
) -> Follower:
    """Report the transitions of ``found`` until it finishes; the follower, with its final state in
    ``last`` and how often it listed again and reconnected. ``resource_version``: watch from there
    instead of listing first (a too old one is answered 410 Gone, which the follower survives).
    ``timeout``: seconds after which to stop watching (WatchTimedOut)."""
    follower = Follower(
        kube,
        found.resource,
        found.namespace,
        found.name,
        report,
        notice,
        Backoff(give_up_after=give_up_after if give_up_after is not None else kube.timeout),
        watch_seconds=watch_seconds,
        explain=lambda obj, state, workload: (
            explain_observed(kube, Found(found.resource, obj), state, workload).state
        ),
    )
    follower.resource_version = resource_version
    if timeout is not None:
        follower.deadline = follower.clock() + timeout
    follower.run()
    return follower
