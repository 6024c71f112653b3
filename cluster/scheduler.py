"""The Ray scheduling loop: units through a replica pool with ray.wait backpressure, in-flight accounting,
unit timeouts and retiring replicas. What to send, how to score and whether to retry is the policy's
(sweeps.controller.Controller: payload, score_rows, commit, failed); this file only schedules.

At most `policy.max_in_flight` units are queued per replica; `ray.wait` returns one finished unit at a
time (never a blocking get over a list). A failed unit goes back to the front of the queue for another
replica when the policy says so. With `policy.unit_timeout_s`, a unit running past it gets its replica
restarted (Ray's max_restarts); its call then fails and is retried like any other failure.

A replica that dies (RayActorError: killed, OOM, restarted for a timeout) costs its units a retry, not the
replica: it leaves the rotation, a cheap `info()` probe waits for Ray to restart it (model reloaded), and
it rejoins once the probe answers. It is retired only when the probe fails (restarts spent) or does not
answer within PROBE_TIMEOUT_S, or when it fails RETIRE_AFTER units in a row while alive. A retried unit
never goes back to a replica it failed on while another live or restarting replica remains.
"""
from __future__ import annotations

import logging
import time
from collections import Counter, deque
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError

log = logging.getLogger("vissweep.controller.scheduler")
RETIRE_AFTER = 3          # consecutive failed units (replica alive) before a replica is given up on
PROBE_TIMEOUT_S = 600     # a restarting replica whose info() probe has not answered by then is retired


def describe(exc: BaseException) -> str:
    """'ValueError: message' of the root cause (a RayTaskError wraps the replica's exception), then its traceback."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip()
    head = f"{type(cause).__name__}: {text.splitlines()[0]}" if text else type(cause).__name__
    return (head + "\n" + str(exc)[-1500:])[:2000]


class Scheduler:
    """One pass of a pool over a list of units. In-flight and failure counts live here, per replica id."""

    def __init__(self, pool, policy):
        self.pool, self.policy = pool, policy
        self.in_flight: dict[Any, tuple[Any, Any]] = {}   # ref -> (unit, handle), in submission order
        self.load: Counter = Counter()                     # replica id -> units queued on it
        self.failures: Counter = Counter()                 # replica id -> consecutive failed units
        self.started: dict[Any, float] = {}                # ref -> when its replica began it
        self.hung: set = set()                             # refs whose replica was restarted for unit_timeout_s
        self.probes: dict[Any, tuple[Any, float]] = {}     # info() ref -> (handle, sent at) of a restarting replica
        self.down: set = set()                             # replica ids out of rotation until their probe answers
        self.restarts: Counter = Counter()                 # replica id -> deaths seen (Ray restarts it)

    def _pick(self, unit):
        live = [h for h in self.pool.replicas if h.replica_id not in self.down]
        free = [h for h in live if self.load[h.replica_id] < self.policy.max_in_flight]
        if not free:
            return None
        failed_on = self.policy.failed_on.get(unit.unit_id, set())
        if any(h.replica_id not in failed_on for h in self.pool.replicas):   # another replica (live or restarting)
            free = [h for h in free if h.replica_id not in failed_on]        # retry there, waiting for it if busy
        return min(free, key=lambda h: self.load[h.replica_id]) if free else None

    def _elsewhere(self, unit, replica_id) -> bool:
        """Whether a replica other than those the unit failed on (and `replica_id`) is still in the pool."""
        failed_on = self.policy.failed_on.get(unit.unit_id, set()) | {replica_id}
        return any(h.replica_id not in failed_on for h in self.pool.replicas)

    def _replica_died(self, handle) -> None:
        """Take a dead replica out of rotation and probe it; Ray restarts it (max_restarts) and it rejoins."""
        if handle.replica_id in self.down or handle not in self.pool.replicas:
            return
        self.restarts[handle.replica_id] += 1
        self.down.add(handle.replica_id)
        log.warning("replica %s died (death %d); waiting for Ray to restart it", handle.replica_id,
                    self.restarts[handle.replica_id])
        self.probes[handle.actor.info.remote()] = (handle, time.monotonic())

    def _probe_done(self, ref) -> None:
        handle, t0 = self.probes.pop(ref)
        try:
            info = ray.get(ref)
        except ActorUnavailableError:             # still restarting: ask again (PROBE_TIMEOUT_S from the death)
            time.sleep(0.5)
            self.probes[handle.actor.info.remote()] = (handle, t0)
            return
        except Exception as exc:  # restarts spent (ActorDiedError) or it died again while loading
            self.down.discard(handle.replica_id)
            if handle in self.pool.replicas:
                log.warning("retiring replica %s: it did not come back after dying (%s)", handle.replica_id,
                            describe(exc).splitlines()[0])
                self.pool.retire(handle)
            return
        self.down.discard(handle.replica_id)
        self.failures[handle.replica_id] = 0
        log.warning("replica %s is back (pid %s); it rejoins the pool", handle.replica_id, info.get("pid"))

    def _expire_probes(self) -> None:
        now = time.monotonic()
        for ref, (handle, t0) in list(self.probes.items()):
            if now - t0 >= PROBE_TIMEOUT_S:
                del self.probes[ref]
                self.down.discard(handle.replica_id)
                if handle in self.pool.replicas:
                    log.warning("retiring replica %s: no answer %.0f s after it died", handle.replica_id, now - t0)
                    self.pool.retire(handle)

    def _next_done(self):
        """ray.wait for one finished unit; with unit_timeout_s, restart the replica of a unit running past it.

        A replica runs its queued units one after another, so a unit's clock starts when it reaches the
        front of its replica's queue, not when it was submitted (a restarted replica's model load counts).
        """
        limit = self.policy.unit_timeout_s
        while True:
            now = time.monotonic()
            running = {id(h) for r, (_, h) in self.in_flight.items() if r in self.started}
            for ref, (_, handle) in self.in_flight.items():          # in submission order, as the actor runs them
                if ref not in self.started and id(handle) not in running:
                    self.started[ref] = now
                    running.add(id(handle))
            deadlines = [t0 + limit for r, t0 in self.started.items() if r not in self.hung] if limit is not None else []
            deadlines += [t0 + PROBE_TIMEOUT_S for _, t0 in self.probes.values()]
            ready, _ = ray.wait(list(self.in_flight) + list(self.probes), num_returns=1,
                                timeout=max(0.0, min(deadlines) - now) if deadlines else None)
            if ready:
                return ready[0]
            self._expire_probes()
            if limit is None:
                continue
            now = time.monotonic()
            for ref, t0 in self.started.items():
                if ref not in self.hung and now - t0 >= limit:
                    unit, handle = self.in_flight[ref]
                    log.warning("unit %s: no result from %s after %.0f s (unit_timeout_s); restarting the replica",
                                unit.unit_id, handle.replica_id, now - t0)
                    self.hung.add(ref)
                    ray.kill(handle.actor, no_restart=False)

    def run(self, units: list) -> None:
        queue = deque(units)
        while queue or self.in_flight:
            waiting = deque()                         # units waiting for a replica they have not failed on
            while queue:
                unit = queue.popleft()
                handle = self._pick(unit)
                if handle is None:
                    waiting.append(unit)
                    if not any(self.load[h.replica_id] < self.policy.max_in_flight for h in self.pool.replicas
                               if h.replica_id not in self.down):
                        break                         # every live replica is full
                    continue
                ref = handle.actor.run.remote(self.policy.payload(unit))
                self.in_flight[ref] = (unit, handle)
                self.load[handle.replica_id] += 1
            queue.extendleft(reversed(waiting))
            if not self.in_flight and not self.probes:
                raise RuntimeError(f"no replicas left for {self.pool.model}; {len(queue)} units not run "
                                   "(rerun the sweep to resume)")
            ref = self._next_done()
            if ref in self.probes:
                self._probe_done(ref)
                continue
            unit, handle = self.in_flight.pop(ref)
            self.started.pop(ref, None)
            was_hung = ref in self.hung
            self.hung.discard(ref)
            self.load[handle.replica_id] -= 1
            try:
                raw = ray.get(ref)                    # ready: returns at once (or raises for a killed replica)
                table = self.policy.score_rows(unit, raw)
            except Exception as exc:  # actor died, task raised, rows unusable: the policy retries or quarantines
                kind = "replica died" if isinstance(exc, RayActorError) else "unit failed"
                error = describe(exc)
                if was_hung:
                    kind = "unit timed out"
                    error = (f"UnitTimeout: no result within unit_timeout_s={self.policy.unit_timeout_s:g} s; "
                             f"replica {handle.replica_id} was restarted\n{error}")
                if self.policy.failed(unit, kind, error, handle.replica_id, self._elsewhere(unit, handle.replica_id)):
                    queue.appendleft(unit)
                if isinstance(exc, RayActorError):    # the replica, not the unit: restart and probe it
                    self._replica_died(handle)
                    continue
                self.failures[handle.replica_id] += 1
                if self.failures[handle.replica_id] >= RETIRE_AFTER and handle in self.pool.replicas:
                    log.warning("retiring replica %s after %d consecutive failures", handle.replica_id,
                                self.failures[handle.replica_id])
                    self.pool.retire(handle)
                continue
            self.failures[handle.replica_id] = 0
            self.policy.commit(unit, table)


def drive(pool, units: list, policy) -> None:
    """Run `units` on `pool` under `policy` until each is committed or quarantined."""
    Scheduler(pool, policy).run(units)
