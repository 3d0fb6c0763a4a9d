"""Real directories for a TaskRun's workspaces.

A claim (`persistentVolumeClaim`, which is also what a PipelineRun's `volumeClaimTemplate` becomes)
is one directory per namespace and claim name, so the tasks of a run that bind the same workspace
share files, as pods sharing a volume do, and a claim outlives the run that used it. `emptyDir` is
a directory per TaskRun. `secret` and `configMap` are materialised from the emulated cluster's
objects into a private directory (0700, files 0600) per TaskRun, removed when the TaskRun ends.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from pathlib import Path


class WorkspaceError(ValueError):
    """A binding cannot be materialised (e.g. its Secret does not exist)."""


MEMORY_FS = "/dev/shm"  # Linux's tmpfs for every process


class WorkspaceStore:
    def __init__(self, root: Path | None = None):
        self._owned = root is None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="tekton-emulator-"))
        self.root.chmod(0o700)
        # Secret volumes live in memory, as the kubelet mounts them on tmpfs: a kubeconfig with a
        # token must never reach a disk. Without a tmpfs, beside the rest (0700, files 0600).
        memory = Path(MEMORY_FS)
        self.secret_root = Path(tempfile.mkdtemp(prefix="tekton-emulator-secrets-",
                                                 dir=memory if memory.is_dir() and os.access(memory, os.W_OK)
                                                 else None))
        self.secret_root.chmod(0o700)

    def close(self) -> None:
        shutil.rmtree(self.secret_root, ignore_errors=True)
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def claim(self, namespace: str, claim: str) -> Path:
        return self._dir("claims", namespace, claim)

    def task_run_dir(self, uid: str) -> Path:
        return self._dir("taskruns", uid)

    def results_dir(self, uid: str) -> Path:
        return self._dir("taskruns", uid, "results")

    def release(self, uid: str) -> None:
        """Forget a finished TaskRun's private directories (emptyDir, secrets, results)."""
        shutil.rmtree(self.root / "taskruns" / uid, ignore_errors=True)
        shutil.rmtree(self.secret_root / uid, ignore_errors=True)

    def bind(self, binding: dict, namespace: str, uid: str, lookup) -> Path:
        """The directory for one TaskRun workspace binding. `lookup(kind, name)` returns the
        Secret or ConfigMap object in the namespace, or None."""
        name = binding.get("name", "")
        sub_path = binding.get("subPath") or ""
        if binding.get("persistentVolumeClaim"):
            base = self.claim(namespace, binding["persistentVolumeClaim"].get("claimName", ""))
        elif "emptyDir" in binding:
            base = self._dir("taskruns", uid, "emptydir", name)
        elif binding.get("secret") or binding.get("configMap"):
            kind = "Secret" if binding.get("secret") else "ConfigMap"
            source = binding.get("secret") or binding.get("configMap")
            object_name = source.get("secretName") if kind == "Secret" else source.get("name")
            found = lookup(kind, object_name)
            if found is None:
                raise WorkspaceError(
                    f'workspace "{name}": {kind} "{object_name}" not found in namespace "{namespace}"'
                )
            if kind == "Secret":
                base = self.secret_root / uid / name
                base.mkdir(parents=True, exist_ok=True, mode=0o700)
                (self.secret_root / uid).chmod(0o700)
            else:
                base = self._dir("taskruns", uid, "volumes", name)
            self._write_files(base, found, kind, source.get("items"))
        elif binding.get("volumeClaimTemplate"):
            # Only a standalone TaskRun keeps a template; give it its own claim directory.
            base = self.claim(namespace, f"template-{uid}-{name}")
        else:
            base = self._dir("taskruns", uid, "emptydir", name)
        if sub_path:
            base = base / sub_path
            base.mkdir(parents=True, exist_ok=True)
        return base

    def _dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    @staticmethod
    def _write_files(base: Path, obj: dict, kind: str, items: list | None) -> None:
        files: dict[str, bytes] = {}
        for key, value in (obj.get("data") or {}).items():
            files[key] = base64.b64decode(value) if kind == "Secret" else str(value).encode()
        for key, value in (obj.get("stringData") or {}).items() if kind == "Secret" else []:
            files[key] = str(value).encode()
        for key, value in (obj.get("binaryData") or {}).items() if kind == "ConfigMap" else []:
            files[key] = base64.b64decode(value)
        if items:
            files = {item["path"]: files[item["key"]] for item in items if item.get("key") in files}
        for relative, content in files.items():
            target = base / relative
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(content)
