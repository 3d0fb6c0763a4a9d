"""The application's source as a real git repository, for the pipeline's clone step.

`GitServer(source_dir)` makes a temporary bare repository whose `main` branch holds the files
of `source_dir` (as on disk, ignoring what the project's .gitignore ignores) in one commit with
a fixed author, committer and date, so the same files always give the same commit id. It is
served by a file:// URL, which `git clone` and `git fetch` use like any remote (no daemon, no
port). `publish()` adds a commit for changed files, as a push would.

    with GitServer("examples/health") as repository:
        repository.url, repository.head            # file:///…/health.git, <commit id>
        commit = clone(repository.url, "main", destination)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# Fixed identity and time: a commit id depends only on the files and the parent commit.
AUTHOR = ("tekton-cd", "tekton-cd@example.invalid")
COMMIT_DATE = "2026-01-01T00:00:00+0000"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class GitError(Exception):
    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


def _git(*args: str, cwd: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> str:
    environment = {
        # Neither the user's nor the machine's git configuration may change what is committed.
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        **(env or {}),
    }
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise GitError(
            f"git {args[0]} failed (exit status {done.returncode}): {done.stdout.strip()}", done.stdout
        )
    return done.stdout


class GitServer:
    def __init__(
        self,
        source_dir: str | os.PathLike,
        name: str | None = None,
        branch: str = "main",
        message: str = "The application's source, as served to the pipeline",
    ):
        self.source_dir = Path(source_dir).resolve()
        if not self.source_dir.is_dir():
            raise GitError(f"{self.source_dir} is not a directory; GitServer serves a directory's files.")
        self.name = name or self.source_dir.name
        self.branch = branch
        self.message = message
        self._scratch: str | None = None
        self.repository: Path | None = None
        self.head: str | None = None

    @property
    def url(self) -> str:
        if self.repository is None:
            raise GitError(
                "the repository is not made yet; use GitServer as a context manager or call start()."
            )
        return self.repository.as_uri()

    def start(self) -> GitServer:
        self._scratch = tempfile.mkdtemp(prefix="gitserver-")
        self.repository = Path(self._scratch) / f"{self.name}.git"
        _git("init", "--quiet", "--bare", f"--initial-branch={self.branch}", str(self.repository))
        # A step may fetch a commit by id, as Tekton's git-clone does.
        _git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=self.repository)
        self.publish()
        return self

    def publish(self, source_dir: str | os.PathLike | None = None, message: str | None = None) -> str:
        """Commits the files of `source_dir` (default: the served one) on top of the branch, unless
        they are what it holds already; returns the branch's commit id."""
        source = Path(source_dir).resolve() if source_dir else self.source_dir
        index = Path(self._scratch) / "index"
        env = {
            "GIT_DIR": str(self.repository),
            "GIT_WORK_TREE": str(source),
            "GIT_INDEX_FILE": str(index),
            "GIT_AUTHOR_NAME": AUTHOR[0],
            "GIT_AUTHOR_EMAIL": AUTHOR[1],
            "GIT_AUTHOR_DATE": COMMIT_DATE,
            "GIT_COMMITTER_NAME": AUTHOR[0],
            "GIT_COMMITTER_EMAIL": AUTHOR[1],
            "GIT_COMMITTER_DATE": COMMIT_DATE,
        }
        index.unlink(missing_ok=True)
        excludes = PROJECT_ROOT / ".gitignore"
        _git(
            "-c",
            f"core.excludesFile={excludes if excludes.is_file() else os.devnull}",
            "add",
            "--all",
            ".",
            cwd=source,
            env=env,
        )
        tree = _git("write-tree", env=env).strip()
        parent = self.head
        if parent and _git("rev-parse", f"{parent}^{{tree}}", env=env).strip() == tree:
            return parent
        parent_args = ["-p", parent] if parent else []
        commit = _git("commit-tree", tree, *parent_args, "-m", message or self.message, env=env).strip()
        _git("update-ref", f"refs/heads/{self.branch}", commit, env=env)
        self.head = commit
        return commit

    def stop(self) -> None:
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
        self._scratch = self.repository = self.head = None

    def __enter__(self) -> GitServer:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


def clone(url: str, revision: str, destination: str | os.PathLike) -> tuple[str, str]:
    """Checks out `revision` (a branch, tag or commit id) of `url` into `destination` (empty or
    absent), as Tekton's git-clone task does (init, fetch of that one revision, checkout).
    Returns (commit id, log)."""
    target = Path(destination)
    if target.exists() and any(target.iterdir()):
        raise GitError(
            f"clone destination {target} is not empty; give the step an empty workspace directory."
        )
    target.mkdir(parents=True, exist_ok=True)
    log = _git("init", "--quiet", str(target))
    log += _git("fetch", "--quiet", "--depth", "1", url, revision, cwd=target)
    log += _git("-c", "advice.detachedHead=false", "checkout", "--quiet", "FETCH_HEAD", cwd=target)
    commit = _git("rev-parse", "HEAD", cwd=target).strip()
    return commit, log + f"Successfully cloned {url} @ {commit} (revision {revision}) in path {target}\n"
