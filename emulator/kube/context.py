"""Who is asking and how: the request context every model call receives."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.kube.rbac import Identity

ADMIN = Identity("kubernetes-admin", ["system:masters", "system:authenticated"])


@dataclass
class RequestContext:
    """Who is asking and how: the identity (for secondary authorization checks), dry-run, and the
    field manager (explicit, or derived from the User-Agent as the real server does)."""

    identity: Identity = field(default_factory=lambda: ADMIN)
    dry_run: bool = False
    field_manager: str = ""
    default_manager: str = "unknown"
    field_validation: str = "Warn"
    warnings: list[str] = field(default_factory=list)

    @property
    def manager(self) -> str:
        return self.field_manager or self.default_manager


def system(manager: str) -> RequestContext:
    """A control-plane component's own request: privileged, recorded under `manager`."""
    return RequestContext(identity=ADMIN, default_manager=manager)
