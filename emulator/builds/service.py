"""Real steps for a running emulated cluster (`python -m emulator start --tekton --real-steps`).

`serving_real_steps(cluster, state_dir)` is a context manager the emulator's `serve` command
holds for as long as it serves: it plugs `RealSteps` into the cluster's Tekton controller (a local
registry on 127.0.0.1, postgres published to it), serves the project's `examples/health` by a
file:// URL with `GitServer`, and writes what a playbook needs into `<state dir>/real-steps.json`:

    {"registry": "127.0.0.1:P" | null,        # where builds push (null: builds are simulated)
     "git_url": "file:///…/health.git" | null, "git_revision": "main", "git_commit": "…",
     "postgres": "127.0.0.1:P/library/postgres@sha256:…" | null,   # the chart's images.postgres
     "real": {"builds": true, "git": true, "helm": true},
     "simulated": ["emulator: image builds are simulated: …", …]}  # one sentence per kind

The file is written last, so its presence means everything is ready.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from .capabilities import detect
from .executors import RealSteps
from .gitserver import GitServer
from .registry import LocalRegistry

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIR = PROJECT_ROOT / "examples" / "health"
STATE_FILE = "real-steps.json"


@contextlib.contextmanager
def serving_real_steps(cluster, state_dir: Path, source_dir: Path = SOURCE_DIR, say=print):
    state_file = Path(state_dir) / STATE_FILE
    state_file.unlink(missing_ok=True)
    with contextlib.ExitStack() as stack:
        registry = None
        if detect().builds:
            # The registry's blobs live in the state directory, next to its log, for inspection;
            # they go when the state directory is removed (the demo removes it before each run).
            registry = stack.enter_context(LocalRegistry(Path(state_dir) / "registry"))
        steps = RealSteps(cluster.tekton.executors, registry=registry, say=lambda line: say(line, flush=True))
        stack.enter_context(steps)
        git = stack.enter_context(GitServer(source_dir)) if steps.capabilities.git else None
        state = {
            "registry": registry.host if registry else None,
            "git_url": git.url if git else None,
            "git_revision": git.branch if git else None,
            "git_commit": git.head if git else None,
            "postgres": steps.postgres,
            "real": {
                "builds": registry is not None,
                "git": git is not None,
                "helm": bool(steps.capabilities.helm),
            },
            "simulated": list(steps.simulated),
        }
        partial = state_file.with_suffix(".partial")
        partial.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(partial, state_file)
        say(
            f"emulator: real steps ready: registry {state['registry'] or '(none: builds simulated)'}, "
            f"git {state['git_url'] or '(none: clone simulated)'}",
            flush=True,
        )
        try:
            yield state
        finally:
            state_file.unlink(missing_ok=True)
