"""What the scripts that generate files under docs/ share: write the file, or with --check say
that the committed one is out of date (the unit tests and `make docs` use both)."""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(output: Path, text: str, root: Path, script: str, argv: list[str]) -> int:
    shown = output.relative_to(root)
    if "--check" in argv:
        if not output.exists() or output.read_text() != text:
            print(f"{shown} is out of date: run `make docs` (python scripts/{script}).", file=sys.stderr)
            return 1
        return 0
    output.write_text(text)
    print(f"wrote {shown}")
    return 0
