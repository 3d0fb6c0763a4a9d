"""`TektonController`: the emulated cluster's Tekton Pipelines controller (v1.15 behaviour).

A ClusterState controller (see emulator/kube/models.py): called on every reconcile pass of the
server's loop, it runs PipelineRuns and TaskRuns once the Tekton CRDs are served (installed by
`EmulatedCluster(tekton=True)`, or registered by a test), and does nothing otherwise. Steps run on
worker threads through the executor table (executors.py); the loop only reads their progress.

    cluster.tekton.enabled = False                      # switch it off (runs stay as they are)
    cluster.tekton.steps.script(task="build", exit_code=1, log="boom")   # make a step fail
    cluster.tekton.steps.script(task="slow", duration=30)               # or take 30 s (emulator clock)
    cluster.tekton.executors.register(r"buildah", BuildahExecutor())     # a real executor
    cluster.tekton.on_run_finished(lambda namespace, name, condition, when: ...)  # e.g. to time waits
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emulator.kube.models import ClusterState
from emulator.kube.resources import ResourceType
from emulator.tekton.executors import ExecutorTable, SimulatedExecutor, StepControls
from emulator.tekton.pipelineruns import PipelineRunReconciler
from emulator.tekton.taskruns import TaskRunReconciler
from emulator.tekton.workspaces import WorkspaceStore

GROUP, VERSION = "tekton.dev", "v1"


@dataclass
class TektonTypes:
    """The resource types the controller reads and writes."""

    tasks: ResourceType
    taskruns: ResourceType
    pipelines: ResourceType
    pipelineruns: ResourceType
    pods: ResourceType
    pvcs: ResourceType
    secrets: ResourceType
    configmaps: ResourceType

    @classmethod
    def served(cls, state: ClusterState) -> TektonTypes | None:
        found = {
            plural: state.registry.get(GROUP, VERSION, plural)
            for plural in ("tasks", "taskruns", "pipelines", "pipelineruns")
        }
        if any(t is None for t in found.values()):
            return None
        return cls(
            pods=state.registry.get("", "v1", "pods"),
            pvcs=state.registry.get("", "v1", "persistentvolumeclaims"),
            secrets=state.registry.get("", "v1", "secrets"),
            configmaps=state.registry.get("", "v1", "configmaps"),
            **found,
        )


class TektonController:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.steps = StepControls()
        self.executors = ExecutorTable(SimulatedExecutor(self.steps))
        self.workspaces = WorkspaceStore()
        self._task_runs = TaskRunReconciler(self.executors, self.workspaces)
        self._pipeline_runs = PipelineRunReconciler()

    def __call__(self, state: ClusterState) -> bool:
        """One reconcile pass; True while runs are unfinished (their timeouts and steps need
        looking at again soon)."""
        if not self.enabled:
            return False
        types = TektonTypes.served(state)
        if types is None:
            return False
        pending = self._pipeline_runs.reconcile(state, types)
        # TaskRuns the pass above created start at once, and their first progress is seen by the
        # PipelineRun on the next pass.
        pending = self._task_runs.reconcile(state, types) or pending
        return pending

    def on_run_finished(self, listener) -> Callable[[], None]:
        """Call listener(namespace, name, succeeded_condition, when) each time a PipelineRun ends,
        right after its final status is stored; `when` is the controller's clock (a datetime).
        Returns the function that stops the calls."""
        self._pipeline_runs.finished_listeners.append(listener)
        return lambda: self._pipeline_runs.finished_listeners.remove(listener)

    def close(self) -> None:
        """Stop the steps still running and remove the workspace directories."""
        self._task_runs.close()
        self.workspaces.close()
