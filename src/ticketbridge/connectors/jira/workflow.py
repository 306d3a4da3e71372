"""Reaching a target status through a project's workflow, one transition at a time.

Jira only tells which transitions leave an issue's *current* status, so the connector learns the
workflow graph as it goes (per project and issue type, kept in the connection's metadata cache)
and plans the shortest known path; where the graph is not known yet it steps towards the target's
status category (To Do → In Progress → Done) and learns from there.

Bulk transitions move the issues of one status per round (`next_cohort`): Jira's getAvailableTransitions
groups issues by workflow (50 workflows a page; the connector follows every page) and lists only the
transitions common to every issue of a group, so issues of one workflow in different statuses usually
share none.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Jira's status categories, in the order work flows through them.
CATEGORY_RANK = {"new": 0, "indeterminate": 1, "done": 2}
MAX_HOPS = 8


@dataclass(frozen=True, slots=True)
class Edge:
    transition_id: str
    to_status: str
    to_category: str | None


@dataclass(slots=True)
class WorkflowGraph:
    """Known transitions per status name (lower-cased), learned from getTransitions answers."""

    edges: dict[str, dict[str, Edge]] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)

    def learn(self, from_status: str, edges: list[Edge]) -> None:
        self.edges[from_status.lower()] = {edge.to_status.lower(): edge for edge in edges}
        for edge in edges:
            if edge.to_category:
                self.categories[edge.to_status.lower()] = edge.to_category

    def next_edge(self, current: str, target: str, options: list[Edge], visited: set[str]) -> Edge | None:
        """The transition to take now from `current`, given the `options` Jira offers."""
        by_status = {edge.to_status.lower(): edge for edge in options}
        if target.lower() in by_status:
            return by_status[target.lower()]
        path = self.shortest_path(current, target)
        if path and path[0].to_status.lower() in by_status:
            return by_status[path[0].to_status.lower()]
        target_rank = CATEGORY_RANK.get(self.categories.get(target.lower(), ""), 1)
        fresh = [edge for edge in options if edge.to_status.lower() not in visited]
        if not fresh:
            return None
        # Prefer the step whose category is closest to the target's, then the least visited ground.
        return min(fresh, key=lambda edge: abs(CATEGORY_RANK.get(edge.to_category or "", 1) - target_rank))

    def shortest_path(self, current: str, target: str) -> list[Edge] | None:
        start, goal = current.lower(), target.lower()
        queue: deque[tuple[str, list[Edge]]] = deque([(start, [])])
        seen = {start}
        while queue:
            status, path = queue.popleft()
            if status == goal:
                return path
            for to_status, edge in self.edges.get(status, {}).items():
                if to_status not in seen:
                    seen.add(to_status)
                    queue.append((to_status, [*path, edge]))
        return None


def next_cohort(
    statuses: Mapping[str, str], target: str, categories: Mapping[str, str], arrivals: Mapping[str, int]
) -> str:
    """The status (lower-cased) whose issues a bulk transition moves next, given each pending issue's
    status (`statuses`) and how many issues the last round moved into each status (`arrivals`).

    The status furthest from the target's category goes first, then the one the last movers reached,
    so that on a linear workflow each round's movers join the next round's issues and the whole batch
    takes as many rounds as its furthest issue has hops."""
    target_rank = CATEGORY_RANK.get(categories.get(target.lower(), ""), 1)
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1

    def order(status: str) -> tuple[int, int, int, str]:
        distance = abs(CATEGORY_RANK.get(categories.get(status, ""), 1) - target_rank)
        return (-distance, -arrivals.get(status, 0), -counts[status], status)

    return min(counts, key=order)
