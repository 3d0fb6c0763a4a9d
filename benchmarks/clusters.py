"""The clusters a benchmark runs against, with one way to read what each run asked of them.

- ``EmulatedTarget``: the project's emulated cluster, started in this process (its server runs in
  a thread; the tools under test are separate processes). Every run's requests come from the
  emulator's own request log (``emulator/controls.py``), so every timed repetition is counted.
- ``RealTarget``: the cluster ``TEST_KUBECONFIG`` names. Nothing of a real API server's log is at
  hand here, so requests are counted client-side, by a counting reverse proxy on 127.0.0.1
  (``benchmarks/proxy.py``) that the tools are pointed at through a kubeconfig of their own. The
  proxy adds a hop, so timed repetitions go to the server directly and one more repetition of each
  scenario, untimed, goes through the proxy to count.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import urllib.request
from pathlib import Path

import yaml

from benchmarks.requests_log import Request


class EmulatedTarget:
    label = "emulated cluster"
    counts_timed_runs = True

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self._cluster = None
        self._lock = threading.Lock()
        self._log: list[Request] = []

    def start(self) -> EmulatedTarget:
        from emulator import EmulatedCluster

        # With Tekton's CRDs: provision.yml's last stage applies the pipeline's Tasks and Pipeline.
        self._cluster = EmulatedCluster(tekton=True).start()
        controls = self._cluster.controls
        observe = controls.observe

        def observe_with_time(verb, path, query):  # the emulator's log has no times; add them here
            with self._lock:
                self._log.append(Request(time.time(), verb, path, query))
            return observe(verb, path, query)

        controls.observe = observe_with_time
        self.kubeconfig = self._cluster.write_kubeconfig(self.workdir / "kubeconfig")
        self.counting_kubeconfig = self.kubeconfig
        self.server, self.ca_pem = self._cluster.url, self._cluster.ca_pem
        return self

    @property
    def emulator(self):
        """The EmulatedCluster itself (its Tekton controller: the run-wait benchmark)."""
        return self._cluster

    def stop(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = None

    def begin_counting(self) -> None:
        with self._lock:
            self._log.clear()
        self._cluster.controls.reset()

    def counted(self) -> list[Request]:
        with self._lock:
            return list(self._log)

    def version(self) -> str:
        return f"emulated, answers /version as {server_version(self.server, self.ca_pem)}"

    def delete_namespaces(self, names) -> None:
        _delete_namespaces(self.kubeconfig, names)


class RealTarget:
    label = "real cluster (TEST_KUBECONFIG)"
    counts_timed_runs = False

    def __init__(self, kubeconfig: Path, workdir: Path):
        self.kubeconfig = Path(kubeconfig)
        self.workdir = workdir
        self._proxy = None

    def start(self) -> RealTarget:
        from benchmarks.proxy import CountingProxy

        config = yaml.safe_load(self.kubeconfig.read_text())
        cluster = _current_cluster(config, self.kubeconfig)
        self.server = cluster["server"]
        self.ca_pem = _ca_pem(cluster, self.kubeconfig)
        self._proxy = CountingProxy(self.server, self.ca_pem).start()
        self.counting_kubeconfig = self._write_proxy_kubeconfig(config)
        return self

    def _write_proxy_kubeconfig(self, config: dict) -> Path:
        """The same credentials and context, the server replaced by the proxy (and its CA)."""
        config = json.loads(json.dumps(config))
        name = _context(config)["cluster"]
        for entry in config["clusters"]:
            if entry["name"] == name:
                entry["cluster"] = {
                    "server": self._proxy.url,
                    "certificate-authority-data": base64.b64encode(self._proxy.ca_pem.encode()).decode(),
                }
        path = self.workdir / "counting-kubeconfig"
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None

    def begin_counting(self) -> None:
        self._proxy.clear()

    def counted(self) -> list[Request]:
        return self._proxy.requests()

    def version(self) -> str:
        return f"kube-apiserver {server_version(self.server, self.ca_pem)}"

    def delete_namespaces(self, names) -> None:
        _delete_namespaces(self.kubeconfig, names)


def server_version(server: str, ca_pem: str) -> str:
    """gitVersion from the server's /version (served to anyone, no credentials needed)."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),  # 127.0.0.1: never via a proxy
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cadata=ca_pem)),
    )
    with opener.open(server.rstrip("/") + "/version", timeout=10) as answer:
        return json.load(answer).get("gitVersion", "unknown")


def _context(config: dict) -> dict:
    current = config.get("current-context")
    return next(entry["context"] for entry in config["contexts"] if entry["name"] == current)


def _current_cluster(config: dict, path: Path) -> dict:
    name = _context(config)["cluster"]
    return next(entry["cluster"] for entry in config["clusters"] if entry["name"] == name)


def _ca_pem(cluster: dict, path: Path) -> str:
    if "certificate-authority-data" in cluster:
        return base64.b64decode(cluster["certificate-authority-data"]).decode()
    ca = Path(cluster["certificate-authority"])
    return (ca if ca.is_absolute() else path.parent / ca).read_text()


NAMESPACE_GONE_TIMEOUT = 600  # seconds; a real cluster finalizes 100 namespaces in well under that


def _delete_namespaces(kubeconfig: Path, names) -> None:
    """Clean-up between repetitions (not timed), waiting until the namespaces are gone, so that
    the real server's finalizing of them (deleting every object they hold) is not work the next
    tool's timed run competes with."""
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    names = set(names)
    for name in names:
        try:
            core.delete_namespace(name)
        except ApiException as error:
            if error.status not in (404, 409):
                raise
    deadline = time.monotonic() + NAMESPACE_GONE_TIMEOUT
    while True:
        left = names & {item.metadata.name for item in core.list_namespace().items}
        if not left:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{len(left)} namespace(s) of the benchmark (e.g. {sorted(left)[0]}) were still there "
                f"{NAMESPACE_GONE_TIMEOUT} s after their deletion; see why with `kubectl get namespace "
                f"{sorted(left)[0]} -o yaml` (its status conditions), then run the benchmark again"
            )
        time.sleep(0.2)  # between checks of the condition, not instead of one
