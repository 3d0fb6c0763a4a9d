"""`pods/log`: no container runs in the emulated cluster, so a pod's log is what a test stored for it
(`EmulatedCluster.set_pod_log`); the container checks and their messages are the real server's."""

from __future__ import annotations

from emulator.kube import exceptions
from emulator.kube.storage import Store


class PodLogs:
    def __init__(self, store: Store):
        self.store = store
        self.texts: dict[tuple[str, str, str], str] = {}  # (namespace, pod, container) -> log text

    def read(self, namespace: str, name: str, container: str | None) -> str:
        pod = self.store.find(self.store.registry.get("", "v1", "pods"), namespace, name)
        if pod is None:
            raise exceptions.not_found("pods", "", name)
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        if container is None:
            if len(names) != 1:
                raise exceptions.bad_request(
                    f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
                )
            container = names[0]
        elif container not in names:
            init = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
            if container not in init:
                raise exceptions.bad_request(f"container {container} is not valid for pod {name}")
        text = self.texts.get((namespace, name, container))
        if text is None:
            raise exceptions.bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        return text
