"""`FakeIBMCloud`: the fake IBM Cloud served on 127.0.0.1 (a context manager), and `ClusterTarget`,
the Kubernetes API server its clusters' kubeconfigs point at. No pytest here: the command line, the
demo and the tests all use it."""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
import socket
from pathlib import Path

import yaml

from emulator.controls import Controls
from emulator.ibmcloud import models, responses, urls
from emulator.server import BackgroundServer

DEFAULT_ACCOUNT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


@dataclasses.dataclass(frozen=True)
class ClusterTarget:
    """The Kubernetes API server a fake cluster's kubeconfig points at. `live` is False for a
    stand-in address where nothing listens (tests that only look at the kubeconfig)."""

    url: str
    ca_pem: str
    token: str
    admin_token: str
    live: bool = True

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike) -> ClusterTarget:
        """From a kubeconfig whose current context authenticates with a bearer token."""
        config = yaml.safe_load(Path(path).read_text())
        context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        if "token" not in user:
            raise ValueError(f"{path}: the current context's user has no bearer token")
        if "certificate-authority-data" in cluster:
            ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
        elif "certificate-authority" in cluster:
            ca_pem = Path(cluster["certificate-authority"]).read_text()
        else:
            ca_pem = ""
        return cls(cluster["server"], ca_pem, user["token"], user["token"])

    @classmethod
    def from_emulated(
        cls, cluster, user: str = "IAM#tester@example.invalid", groups: tuple[str, ...] = ("system:masters",)
    ) -> ClusterTarget:
        """From a running emulator.EmulatedCluster: the API key's user gets its own token
        (named like IKS names IAM users; `system:masters` stands for the IAM Manager role, which
        IKS maps to cluster-admin), the admin configuration the cluster's admin token."""
        return cls(cluster.url, cluster.ca_pem, cluster.add_token(user, list(groups)), cluster.admin_token)

    @classmethod
    def stand_in(cls) -> ClusterTarget:
        with socket.socket() as probe:  # a port that was free a moment ago: nothing answers there
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return cls(f"https://127.0.0.1:{port}", "", secrets.token_hex(24), secrets.token_hex(24), live=False)


class FakeIBMCloud:
    """IAM + Kubernetes Service + Container Registry on one local HTTPS server.

    One account (`account_id`) with one valid API key (`api_key`); `add_cluster()` registers IKS or
    ROKS clusters whose kubeconfig points at `target`. A second account with `other_api_key` owns
    clusters and namespaces the first cannot see. Test controls: `fail_next()`,
    `expire_access_tokens()`, `clock.advance()`, `requests` (what was asked, what was answered), and
    `controls` (`writes_since_reset()`, `reset()`: the emulated cluster's controls API, also over
    HTTP at /_emulator/ with `control_token`).
    """

    def __init__(
        self,
        target: ClusterTarget | None = None,
        account_id: str = DEFAULT_ACCOUNT,
        registry_region: str = "us-south",
        tls: bool = True,
    ):
        self.target = target or ClusterTarget.stand_in()
        self.account_id = account_id
        self.clock = models.Clock()
        self.iam = models.IAMBackend(self.clock)
        self.containers = models.KubernetesServiceBackend(self.iam)
        self.registry = models.RegistryBackend(registry_region, self.clock)
        self.faults = models.FaultInjector()
        self.controls = Controls()
        self.control_token = secrets.token_urlsafe(24)
        self.backend = responses.Backend(
            self.iam,
            self.containers,
            self.registry,
            self.faults,
            controls=self.controls,
            control_token=self.control_token,
        )
        # A reset forgets what the shared controls do not hold themselves.
        self.controls.on_reset += [self.backend.log.clear, self.faults.clear]
        self.api_key = secrets.token_urlsafe(33)
        self.identity = models.Identity(f"IBMid-{secrets.token_hex(5).upper()}", account_id)
        self.iam.add_api_key(self.api_key, self.identity)
        self.other_api_key = secrets.token_urlsafe(33)
        self.other_identity = models.Identity("iam-ServiceId-" + secrets.token_hex(8), "f" * 32)
        self.iam.add_api_key(self.other_api_key, self.other_identity)
        self.server = BackgroundServer(urls.create_app(self.backend), tls=tls)

    # --- lifecycle ---
    def start(self) -> FakeIBMCloud:
        self.server.start()
        self.iam.issuer = f"{self.url}/identity"
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeIBMCloud:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ca_file(self) -> str | None:
        return self.server.ca_file

    @property
    def ca_pem(self) -> str | None:
        return self.server.ca_pem

    # --- content ---
    def add_cluster(
        self, name: str, type: str = "kubernetes", other_account: bool = False, **fields
    ) -> models.Cluster:
        """Register a cluster; `type` is "kubernetes" (IKS) or "openshift" (ROKS)."""
        defaults = {
            "master_url": self.target.url,
            "ca_pem": self.target.ca_pem,
            "user_token": self.target.token,
            "admin_token": self.target.admin_token,
        }
        if type == "openshift":
            defaults["version"] = "4.17.10_1528_openshift"
        account = self.other_identity.account_id if other_account else self.account_id
        return self.containers.add(
            models.Cluster(name=name, account_id=account, type=type, **{**defaults, **fields})
        )

    def add_registry_namespace(self, name: str, other_account: bool = False) -> None:
        self.registry.add(name, self.other_identity.account_id if other_account else self.account_id)

    def openshift_oauth_endpoint(self, cluster: models.Cluster) -> str:
        """The OAuth server of a ROKS cluster (in real IBM Cloud discovered from its master URL)."""
        return f"{self.url}/openshift/{cluster.id}"

    # --- test controls ---
    def fail_next(self, count: int, status: int, service: str | None = None) -> None:
        """The next `count` requests to `service` ("iam", "containers", "registry", "oauth"; None:
        any) answer `status` (429 or 5xx) with the service's error body."""
        self.faults.fail_next(count, status, service)

    def expire_access_tokens(self) -> None:
        self.iam.expire_access_tokens()

    @property
    def requests(self) -> list[responses.LoggedRequest]:
        return list(self.backend.log)

    def secrets(self) -> list[str]:
        """Every secret value this fake knows or handed out: none may appear in logs or files."""
        values = [
            self.api_key,
            self.other_api_key,
            self.target.token,
            self.target.admin_token,
            self.control_token,
        ]
        return [v for v in values + self.iam.issued_tokens() if v and v != "not_supported"]

    def env(self) -> dict[str, str]:
        """Environment variables that point the modules at this fake."""
        env = {
            "IBMCLOUD_IAM_API_ENDPOINT": self.url,
            "IBMCLOUD_CS_API_ENDPOINT": self.url,
            "IBMCLOUD_CR_API_ENDPOINT": self.url,
        }
        if self.ca_file:
            env["IBMCLOUD_CA_CERT"] = self.ca_file
        return env
