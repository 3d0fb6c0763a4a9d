"""Helpers the integration tests share: in-process access to the cluster through the modules' own
core, and reading the emulator's request log (on a real cluster `cluster.controls` is None and the
callers skip those checks)."""

from __future__ import annotations


def reset_request_log(cluster) -> None:
    """Empty the emulator's request log (pending faults too), so a check sees only what follows."""
    if cluster.controls:
        cluster.controls.reset()


def persisted_writes(controls) -> list[tuple[str, str, str]]:
    """Writes that changed state: everything but dry runs (check mode's `dryRun=All`)."""
    return [write for write in controls.writes() if "dryRun=All" not in write[2]]


def kube_service(kubeconfig, **options):
    """A KubeService (the modules' own core) for `kubeconfig` (a path or a dict), to arrange and
    check what the tasks did in-process; `options` as KubeService takes them (field_manager, ...)."""
    from tests.playbook import use_project_module_utils

    use_project_module_utils()
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_client import connect
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import KubeService

    source = str(kubeconfig) if not isinstance(kubeconfig, dict) else kubeconfig
    return KubeService(connect({"kubeconfig": source}), **options)


def as_field_manager(kube, field_manager: str):
    """The same access as `kube`, writing as another field manager (another tool, or a person with
    kubectl), to arrange what the module must live with."""
    return type(kube)(kube.client, field_manager=field_manager)


def assert_each_case_fails(play, cases, task_of):
    """Run every (options, expected text) case as a task of one play, each allowed to fail (a
    playbook run costs more than all the checks), and assert that each failed saying its text.
    `task_of(task_name, options)` builds the task; returns the play's result for further checks."""
    tasks = [{**task_of(f"case {index}", options), "ignore_errors": True}
             for index, (options, _expected) in enumerate(cases)]
    run = play(tasks)
    for index, (_options, expected) in enumerate(cases):
        task = run.task(f"case {index}")
        assert task.failed and expected in task.msg, (index, task.msg)
    return run
