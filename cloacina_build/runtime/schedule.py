"""The run's schedule: the order tasks are considered in, and a ready queue.

Built once in O(tasks + edges): each task counts the tasks it waits on (its dependencies
and the tasks its trigger rule names), and each task lists its waiters.  When a task is
resolved (completed, failed, skipped or not run) its waiters' counts drop; a task whose
count reaches zero joins the ready queue.  Nothing is ever rescanned, so a run is linear
in the size of the workflow (the ready queue is a heap ordered by the execution order, so
ready tasks are taken in that order: O(log n) each).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from ..model import Task
from ..project.graph import levels_of


def execution_order(tasks: Iterable[Task]) -> list[str]:
    """Task ids level by level (each level sorted, depending only on earlier levels), then
    any task that can never be ready (a cycle or an unknown dependency), sorted."""
    deps = {t.id: t.dependencies for t in tasks}
    order = [tid for level in levels_of(deps) for tid in level]
    if len(order) < len(deps):
        placed = set(order)
        order.extend(sorted(tid for tid in deps if tid not in placed))
    return order


class Schedule:
    """Who waits on whom, and which tasks are ready to be considered."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        self.by_id: dict[str, Task] = {t.id: t for t in tasks}
        self.order = execution_order(self.by_id.values())
        self.position = {tid: i for i, tid in enumerate(self.order)}
        self._waiters: dict[str, list[str]] = {}
        self._waiting: dict[str, int] = {}
        self._ready: list[int] = []
        for tid in self.order:
            waits = self.waits_on(self.by_id[tid])
            self._waiting[tid] = len(waits)
            for other in waits:
                self._waiters.setdefault(other, []).append(tid)
            if not waits:
                self._ready.append(self.position[tid])
        heapq.heapify(self._ready)

    def waits_on(self, task: Task) -> set[str]:
        """The known tasks that must be resolved before ``task`` is considered."""
        names = set(task.dependencies)
        if task.trigger_rules is not None:
            names.update(task.trigger_rules.task_names())
        return {n for n in names if n in self.by_id}

    def pop_ready(self) -> str | None:
        """The next ready task in execution order, or None when none is ready."""
        return self.order[heapq.heappop(self._ready)] if self._ready else None

    def resolved(self, task_id: str) -> None:
        """``task_id`` is settled: its waiters wait on one task fewer."""
        for waiter in self._waiters.get(task_id, ()):
            self._waiting[waiter] -= 1
            if self._waiting[waiter] == 0:
                heapq.heappush(self._ready, self.position[waiter])

    def stuck(self) -> list[str]:
        """Tasks that can never be ready (they wait, directly or not, on themselves)."""
        return [tid for tid in self.order if self._waiting[tid] > 0]

    def dependency_order(self, task: Task) -> list[str]:
        """``task``'s dependencies in execution order (the order outputs are merged)."""
        known = [d for d in task.dependencies if d in self.position]
        return sorted(known, key=self.position.__getitem__)
