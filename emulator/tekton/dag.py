"""The graph of a Pipeline's tasks: dependencies from `runAfter` and result references, the checks
Tekton's dag.Build makes (with its messages), and which tasks may start once others are done."""

from __future__ import annotations

from emulator.tekton.substitution import pipeline_task_references


class GraphError(ValueError):
    """The Pipeline's graph is invalid; the message is the one Tekton's dag.Build returns."""


class Graph:
    def __init__(self, tasks: list[dict], with_dependencies: bool = True):
        """`tasks`: the Pipeline's `tasks` (or `finally`, whose members never depend on each other:
        `with_dependencies=False`, as Tekton builds that graph)."""
        self.names: list[str] = []
        for task in tasks:
            name = task.get("name", "")
            if name in self.names:
                raise GraphError(
                    f"task {name} is already present in Graph, can't add it again: duplicate pipeline task"
                )
            self.names.append(name)
        self.parents: dict[str, list[str]] = {name: [] for name in self.names}
        if not with_dependencies:
            return
        dependencies = {task.get("name", ""): dependencies_of(task) for task in tasks}
        _check_cycles(dependencies)
        for name, parents in dependencies.items():
            for parent in parents:
                if parent not in self.parents:
                    raise GraphError(
                        f"couldn't add link between {name} and {parent}: task {name} depends on {parent} "
                        f"but {parent} wasn't present in Pipeline"
                    )
                self.parents[name].append(parent)

    def __contains__(self, name: str) -> bool:
        return name in self.parents

    def children(self, name: str) -> list[str]:
        return [child for child, parents in self.parents.items() if name in parents]

    def ready(self, done: set[str]) -> list[str]:
        """Tasks not done whose parents are all done, in the Pipeline's order."""
        return [
            name
            for name in self.names
            if name not in done and all(parent in done for parent in self.parents[name])
        ]


def dependencies_of(task: dict) -> list[str]:
    """What a PipelineTask waits for: its `runAfter`, then the tasks whose results it uses."""
    result: list[str] = []
    for parent in list(task.get("runAfter") or []) + [ref[0] for ref in pipeline_task_references(task)]:
        if parent not in result:
            result.append(parent)
    return result


def _check_cycles(dependencies: dict[str, list[str]]) -> None:
    """Kahn's algorithm over the declared dependencies; on a cycle, Tekton's message naming the
    alphabetically first task left and what it still depends on."""
    remaining = {task: set(parents) for task, parents in dependencies.items() if parents}
    free = [parent for parents in remaining.values() for parent in parents if not dependencies.get(parent)]
    while free:
        parent = free.pop()
        for task in list(remaining):
            if parent in remaining[task]:
                remaining[task].discard(parent)
                if not remaining[task]:
                    del remaining[task]
                    free.append(task)
    if remaining:
        first = min(remaining)
        names = ", ".join(f'"{name}"' for name in sorted(remaining[first]))
        raise GraphError(f'cycle detected; task "{first}" depends on {names}')
