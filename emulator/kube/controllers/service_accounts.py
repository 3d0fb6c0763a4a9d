"""The service-account controller: every active namespace has a `default` ServiceAccount."""

from __future__ import annotations

from emulator.kube.context import system


class DefaultServiceAccounts:
    @staticmethod
    def concerns(event) -> bool:
        return event.key == ("", "namespaces") or (
            event.key == ("", "serviceaccounts") and event.type == "DELETED"
        )

    def __call__(self, state) -> bool:
        namespaces = state.registry.get("", "v1", "namespaces")
        accounts = state.registry.get("", "v1", "serviceaccounts")
        for (_, name), ns in list(state.store.bucket(namespaces).items()):
            if ns["metadata"].get("deletionTimestamp"):
                continue
            if state.store.find(accounts, name, "default") is None:
                state.create(
                    accounts, name, {"metadata": {"name": "default"}}, system("kube-controller-manager")
                )
        return False
