"""Real step executors for the emulated Tekton controller (see emulator/tekton/executors.py).

Chosen per step image (`register_real_executors` puts them in front of the simulated one):

- image matching `git-init` or `(^|/)git(:|@|$)` (e.g. alpine/git): `git-clone` clones param
  `url` at `revision` into workspace `output` (or `source`), under `subdirectory`; results
  `commit`, `url`.
- image matching `buildah`: `buildah` builds params `CONTEXT` and `DOCKERFILE` (relative to
  workspace `source`) with `BUILD_ARGS` and pushes `IMAGE` to the local registry; results
  `IMAGE_DIGEST`, `IMAGE_URL`.
- image matching `(^|/)helm(-kubectl)?(:|@|$)` (e.g. alpine/helm): `helm` checks that every image
  the step names by digest is in the local registry, then runs the step's own script with the
  pinned `.venv/bin/helm` first on PATH and KUBECONFIG from its workspace.
- any other image: the simulated executor.

The git and buildah executors do from the params what Tekton catalog's git-clone and buildah
Tasks do (same params, workspaces and results), rather than running their scripts, which assume
a container (its paths, its storage). The helm executor runs the step's own script, because a
deploy script is the project's own and is what must be proven.

Registries: every image is pushed to, and checked in, the one local registry, under its path:
`us.icr.io/ns/health-api` goes to `127.0.0.1:<port>/ns/health-api` (the step's log says so), since
remote registries are not reachable from this machine. A digest does not depend on the registry's
host, so the digest reported is the one a real push would report.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from emulator.tekton.executors import ExecutorTable, StepContext, StepExecutor, StepOutcome

from .base_images import publish_postgres
from .buildah import Buildah, BuildError, repository_of
from .capabilities import Capabilities, detect, helm_binary
from .gitserver import GitError, clone
from .registry import LocalRegistry, RegistryError, manifest_exists

GIT_IMAGE = r"git-init|(^|/)git(:|@|$)"
BUILDAH_IMAGE = r"buildah"
HELM_IMAGE = r"(^|/)helm(-kubectl)?(:|@|$)"
HELM_TIMEOUT_SECONDS = 900
DIGEST_REFERENCE = re.compile(r"(?P<repository>[a-z0-9][a-z0-9.:_/-]*)@(?P<digest>sha256:[0-9a-f]{64})")
CHART_IMAGE_VALUE = re.compile(
    r"images\.(?P<name>[A-Za-z0-9_]+)\.(?P<field>repository|digest)=(?P<value>[^\s,'\"]+)"
)


def _workspace(step: StepContext, *preferred: str) -> Path | None:
    for name in preferred:
        if name in step.workspaces:
            return Path(step.workspaces[name])
    return Path(next(iter(step.workspaces.values()))) if len(step.workspaces) == 1 else None


def _string(step: StepContext, name: str, default: str = "") -> str:
    value = step.params.get(name, default)
    return value if isinstance(value, str) else default


def _write_results(step: StepContext, results: dict[str, str]) -> None:
    """Only the results the Task declares are written, as a step can only write those paths."""
    for name, value in results.items():
        if name in step.result_names:
            (step.results_dir / name).write_text(value)


def local_path(image: str, registry_host: str) -> str:
    """`host/path[:tag]` → `registry_host/path[:tag]`; an image without a host keeps its whole name."""
    first, _, rest = image.partition("/")
    has_host = rest and ("." in first or ":" in first or first == "localhost")
    return f"{registry_host}/{rest if has_host else image}"


class GitCloneExecutor(StepExecutor):
    name = "git-clone"

    def run(self, step: StepContext) -> StepOutcome:
        url, revision = _string(step, "url"), _string(step, "revision") or "main"
        output = _workspace(step, "output", "source")
        if not url:
            step.log(
                "git-clone: the step has no 'url' param; give the Task the repository URL as param url.\n"
            )
            return StepOutcome(exit_code=1)
        if output is None:
            step.log(
                f"git-clone: no workspace 'output' or 'source' (has {sorted(step.workspaces)}); bind one.\n"
            )
            return StepOutcome(exit_code=1)
        target = output / _string(step, "subdirectory")
        if _string(step, "deleteExisting", "true") == "true" and target.is_dir():
            for entry in target.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        try:
            commit, log = clone(url, revision, target)
        except GitError as error:
            step.log(error.log or f"{error}\n")
            step.log(f"git-clone: {error}\n")
            return StepOutcome(exit_code=1)
        step.log(log)
        _write_results(step, {"commit": commit, "url": url})
        return StepOutcome()


class BuildahExecutor(StepExecutor):
    name = "buildah"

    def __init__(self, buildah: Buildah, registry: LocalRegistry):
        self.buildah = buildah
        self.registry = registry

    def run(self, step: StepContext) -> StepOutcome:
        image = _string(step, "IMAGE")
        source = _workspace(step, "source")
        if not image:
            step.log(
                "buildah: the step has no 'IMAGE' param; give the Task the image to build as param IMAGE.\n"
            )
            return StepOutcome(exit_code=1)
        if source is None:
            step.log(
                f"buildah: no workspace 'source' (has {sorted(step.workspaces)}); bind the cloned source.\n"
            )
            return StepOutcome(exit_code=1)
        build_args = {}
        for item in step.params.get("BUILD_ARGS") or []:
            name, separator, value = str(item).partition("=")
            if not separator:
                step.log(
                    f"buildah: BUILD_ARGS item {item!r} is not NAME=VALUE;"
                    " fix the PipelineTask's BUILD_ARGS.\n"
                )
                return StepOutcome(exit_code=1)
            build_args[name] = value
        destination = local_path(image, self.registry.host)
        if destination != image:
            step.log(
                f"buildah: pushing {image} to the local registry as {destination} "
                "(no remote registry is reachable from the emulator).\n"
            )
        context = source / _string(step, "CONTEXT", ".")
        dockerfile = source / _string(step, "DOCKERFILE", "./Dockerfile")
        try:
            result = self.buildah.build_and_push(
                context,
                dockerfile,
                destination,
                build_args=build_args,
                extra_args=shlex.split(_string(step, "BUILD_EXTRA_ARGS")),
            )
        except BuildError as error:
            step.log(error.log)
            step.log(f"buildah: {error}\n")
            return StepOutcome(exit_code=1)
        step.log(result.log)
        step.log(f"buildah: pushed {destination}@{result.digest} in {result.seconds:.1f} s\n")
        _write_results(step, {"IMAGE_DIGEST": result.digest, "IMAGE_URL": image})
        return StepOutcome()


def images_named(text: str) -> list[str]:
    """Every image a deploy names by digest: `repository@sha256:…` anywhere, and the chart's pairs
    `images.<n>.repository=R` + `images.<n>.digest=D` (as `--set` writes them)."""
    found = [m["repository"] + "@" + m["digest"] for m in DIGEST_REFERENCE.finditer(text)]
    pairs: dict[str, dict[str, str]] = {}
    for match in CHART_IMAGE_VALUE.finditer(text):
        pairs.setdefault(match["name"], {})[match["field"]] = match["value"]
    for name, fields in pairs.items():
        if "digest" in fields:
            found.append(f"{fields.get('repository', f'images.{name}.repository')}@{fields['digest']}")
    return list(dict.fromkeys(found))


def _flatten(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _flatten(v)]
    if isinstance(value, list):
        return [s for v in value for s in _flatten(v)]
    return [str(value)]


class HelmExecutor(StepExecutor):
    name = "helm"

    def __init__(self, registry: LocalRegistry | None, helm: Path | None = None):
        self.registry = registry
        self.helm = Path(helm) if helm else helm_binary()

    def missing_images(self, step: StepContext) -> list[str]:
        text = "\n".join([step.script, *step.command, *step.args, *_flatten(step.params)])
        missing = []
        for reference in images_named(text):
            repository, digest = reference.rsplit("@", 1)
            try:
                local = repository_of(local_path(repository, self.registry.host))
                if not manifest_exists(f"{local}@{digest}"):
                    missing.append(reference)
            except RegistryError as error:
                missing.append(f"{reference} ({error})")
        return missing

    def kubeconfig(self, step: StepContext) -> Path | None:
        for name in ("kubeconfig", "cluster-credentials", "credentials"):
            directory = step.workspaces.get(name)
            if directory and (Path(directory) / "kubeconfig").is_file():
                return Path(directory) / "kubeconfig"
        for directory in step.workspaces.values():
            if (Path(directory) / "kubeconfig").is_file():
                return Path(directory) / "kubeconfig"
        return None

    def run(self, step: StepContext) -> StepOutcome:
        if self.registry is None:
            step.log(
                "helm: image digests are not checked: builds are simulated, so no registry holds them.\n"
            )
        missing = self.missing_images(step) if self.registry is not None else []
        if missing:
            step.log(
                "helm: not deploying: these images are not in the registry: " + ", ".join(missing) + "\n"
            )
            return StepOutcome(exit_code=1)
        kubeconfig = self.kubeconfig(step)
        if kubeconfig is None:
            step.log(
                f"helm: no workspace holds a file named kubeconfig (workspaces: {sorted(step.workspaces)}); "
                "bind the deployer's cluster-credential Secret as workspace kubeconfig.\n"
            )
            return StepOutcome(exit_code=1)
        script = step.script or shlex.join(step.command + step.args)
        if not script.startswith("#!"):
            script = "#!/bin/sh\nset -e\n" + script
        with tempfile.TemporaryDirectory(prefix="helm-step-") as home:
            script_file = Path(home) / "script"
            script_file.write_text(script)
            script_file.chmod(0o700)
            environment = {
                # Only what the step declares, plus a private HOME: nothing of the host's own
                # environment (credentials, proxies, kubeconfigs) leaks into the deploy.
                **step.env,
                "PATH": f"{self.helm.parent}:/usr/local/bin:/usr/bin:/bin",
                "HOME": home,
                "KUBECONFIG": str(kubeconfig),
                "HELM_CACHE_HOME": f"{home}/cache",
                "HELM_CONFIG_HOME": f"{home}/config",
                "HELM_DATA_HOME": f"{home}/data",
            }
            working_dir = step.working_dir if step.working_dir and os.path.isdir(step.working_dir) else None
            working_dir = working_dir or str(_workspace(step, "source") or home)
            process = subprocess.Popen(
                # A script gets the step's args as its positional parameters ("$@"), as Tekton
                # passes them; a command's args are in the script already.
                [str(script_file), *(step.args if step.script else [])],
                cwd=working_dir,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            watcher = threading.Thread(target=self._kill_on_cancel, args=(step, process), daemon=True)
            watcher.start()
            for line in process.stdout:
                step.log(line)
            try:
                exit_code = process.wait(timeout=HELM_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                exit_code = process.wait()
        return StepOutcome(exit_code=exit_code)

    @staticmethod
    def _kill_on_cancel(step: StepContext, process: subprocess.Popen) -> None:
        # Wakes on cancellation, or every quarter second to notice that the script has ended.
        while process.poll() is None:
            if step.cancelled.wait(0.25):
                process.kill()
                return


def register_real_executors(
    table: ExecutorTable, capabilities: Capabilities, registry: LocalRegistry | None, say=print
) -> list[StepExecutor]:
    """Registers what this machine can do for real, in front of the simulated executor; says in
    one sentence each what stays simulated and why. Returns the executors registered."""
    chosen: list[tuple[str, StepExecutor, str]] = []
    if capabilities.git:
        chosen.append((GIT_IMAGE, GitCloneExecutor(), "git clone of a local repository"))
    else:
        say(f"emulator: git clone steps are simulated: {capabilities.git.reason}")
    if capabilities.builds and registry is not None:
        executor = BuildahExecutor(Buildah(capabilities.storage_dir), registry)
        chosen.append((BUILDAH_IMAGE, executor, "buildah build and push to the local registry"))
    else:
        reason = capabilities.builds.reason or "no local registry is running."
        say(f"emulator: image builds are simulated: {reason}")
    if capabilities.helm:
        chosen.append((HELM_IMAGE, HelmExecutor(registry), "the pinned helm, as the deployer"))
    else:
        say(f"emulator: helm deploy steps are simulated: {capabilities.helm.reason}")
    for image, executor, description in chosen:
        table.register(image, executor, description=description)
    return [executor for _image, executor, _description in chosen]


class RealSteps:
    """Real steps for an emulated cluster's Tekton controller, for as long as it is open:

    with RealSteps(cluster.tekton.executors) as real:
        real.registry.host           # the local registry (None when builds are simulated)
        real.postgres                # <registry>/library/postgres@sha256:… for the chart
        real.simulated               # one sentence per kind of step that stays simulated
    """

    def __init__(
        self, table: ExecutorTable, cache_dir=None, registry: LocalRegistry | None = None, say=print
    ):
        """`registry`: a running registry to use (and leave running); else one is started and
        stopped with these steps, when builds are real."""
        self.table = table
        self.capabilities = detect(cache_dir)
        self.say = say
        self._owns_registry = registry is None
        self.registry: LocalRegistry | None = registry
        self.postgres: str | None = None
        self.simulated: list[str] = []
        self._executors: list[StepExecutor] = []

    def start(self) -> RealSteps:
        if self.capabilities.builds:
            if self.registry is None:
                self.registry = LocalRegistry().start()
            self.postgres = publish_postgres(Buildah(self.capabilities.storage_dir), self.registry)
        else:
            self.registry = None

        def tell(sentence: str) -> None:
            self.simulated.append(sentence)
            self.say(sentence)

        self._executors = register_real_executors(self.table, self.capabilities, self.registry, say=tell)
        return self

    def stop(self) -> None:
        for executor in self._executors:
            self.table.unregister(executor)
        self._executors = []
        if self.registry is not None and self._owns_registry:
            self.registry.stop()
            self.registry = None

    def __enter__(self) -> RealSteps:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
