"""The root-CA publisher: every active namespace has the `kube-root-ca.crt` ConfigMap holding the
API server's CA bundle (once the server knows its CA). On a real cluster the controller-manager
publishes it asynchronously, shortly after the namespace appears."""

from __future__ import annotations

from emulator.kube.context import system

KUBE_ROOT_CA_NAME = "kube-root-ca.crt"
KUBE_ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such "
    "as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions "
    "of Kubernetes clusters."
)


class RootCAPublisher:
    @staticmethod
    def concerns(event) -> bool:
        return event.key == ("", "namespaces") or (
            event.key == ("", "configmaps") and event.type == "DELETED"
        )

    def __call__(self, state) -> bool:
        if not state.ca_pem:
            return False
        namespaces = state.registry.get("", "v1", "namespaces")
        configmaps = state.registry.get("", "v1", "configmaps")
        for (_, name), ns in list(state.store.bucket(namespaces).items()):
            if ns["metadata"].get("deletionTimestamp"):
                continue
            if state.store.find(configmaps, name, KUBE_ROOT_CA_NAME) is None:
                state.create(
                    configmaps,
                    name,
                    {
                        "metadata": {
                            "name": KUBE_ROOT_CA_NAME,
                            "annotations": {"kubernetes.io/description": KUBE_ROOT_CA_DESCRIPTION},
                        },
                        "data": {"ca.crt": state.ca_pem},
                    },
                    system("kube-controller-manager"),
                )
        return False
