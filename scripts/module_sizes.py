#!/usr/bin/env python3
"""Code lines of each module in plugins/modules: the lines outside DOCUMENTATION, EXAMPLES and
RETURN that are not blank (comments and docstrings count: they are code a reader has to read).

    python scripts/module_sizes.py            # a table, largest first
    python scripts/module_sizes.py --check    # exit 1 when a module is over the limit

The limit keeps modules a declaration over the shared core (docs/architecture.md lists the sizes);
tests/unit/test_module_sizes.py runs the check.
"""

from __future__ import annotations

import ast
import pathlib
import sys

LIMIT = 150
DOC_BLOCKS = frozenset({"DOCUMENTATION", "EXAMPLES", "RETURN"})
MODULES_DIR = pathlib.Path(__file__).resolve().parent.parent / "plugins" / "modules"


def code_lines(source):
    """Non-blank lines of ``source`` outside its DOCUMENTATION / EXAMPLES / RETURN assignments."""
    documentation = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) in DOC_BLOCKS for t in node.targets):
            documentation.update(range(node.lineno, node.end_lineno + 1))
    return sum(1 for number, line in enumerate(source.splitlines(), 1)
               if line.strip() and number not in documentation)


def module_sizes(directory=MODULES_DIR):
    """{module name: code lines} for every module file in ``directory``."""
    return {path.stem: code_lines(path.read_text()) for path in sorted(directory.glob("*.py"))
            if path.stem != "__init__"}


def main(argv):
    sizes = module_sizes()
    for name, lines in sorted(sizes.items(), key=lambda item: -item[1]):
        print(f"{name:28} {lines:4}{'  over the limit' if lines > LIMIT else ''}")
    if "--check" in argv and any(lines > LIMIT for lines in sizes.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
