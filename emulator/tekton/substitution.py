"""Tekton's variable substitution: `$(params.x)`, `$(params.x[*])`, `$(tasks.T.results.R)`,
`$(context.pipelineRun.name)`, `$(results.R.path)`, `$(workspaces.W.path)`, …

A `Replacements` holds what each variable stands for; `text()` substitutes inside a string and
`items()` inside a list, where a lone `$(params.x[*])` element expands to the array's elements (as
Tekton does in `args`, `command` and array params). Variables without a value are left as they are,
as Tekton leaves them (a later stage, e.g. the TaskRun for `$(results.R.path)`, fills them in).
The bracket forms `$(params["x"])` / `$(params['x'])` name the same variable as `$(params.x)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

VARIABLE = re.compile(r"\$\(([^()]+)\)")
_BRACKET = re.compile(r"""\[\s*(?:"([^"]*)"|'([^']*)')\s*\]""")
# $(tasks.<task>.results.<result>) with optional [index] / [*] / .key, dotted or bracket form.
RESULT_REFERENCE = re.compile(r"^tasks\.([^.\[\]]+)\.results\.([^.\[\]]+)")


def normalize(expression: str) -> str:
    """`params["a.b"]` and `params['x']` as the dotted name Tekton resolves them to."""
    return _BRACKET.sub(lambda m: "." + (m[1] if m[1] is not None else m[2]), expression.strip())


@dataclass
class Replacements:
    strings: dict[str, str] = field(default_factory=dict)
    arrays: dict[str, list[str]] = field(default_factory=dict)

    def add_param(self, prefix: str, name: str, value) -> None:
        """A param value (string, array or object) under `prefix.name` (e.g. "params.url")."""
        key = f"{prefix}.{name}"
        if isinstance(value, list):
            values = [str(v) for v in value]
            self.arrays[key] = values
            for index, item in enumerate(values):
                self.strings[f"{key}[{index}]"] = item
        elif isinstance(value, dict):
            for item_key, item in value.items():
                self.strings[f"{key}.{item_key}"] = str(item)
        else:
            self.strings[key] = "" if value is None else str(value)

    def merged(self, other: Replacements) -> Replacements:
        return Replacements({**self.strings, **other.strings}, {**self.arrays, **other.arrays})

    def text(self, value: str) -> str:
        def substitute(match: re.Match) -> str:
            key = normalize(match[1])
            # An unknown variable, or a whole array inside a string (legal only as a list element),
            # stays visible, so the mistake shows in the step's log.
            return self.strings.get(key, match[0])

        return VARIABLE.sub(substitute, value)

    def items(self, values: list) -> list:
        result = []
        for value in values:
            if isinstance(value, str):
                whole = VARIABLE.fullmatch(value.strip())
                if whole:
                    key = normalize(whole[1])
                    if key.endswith("[*]") and key[:-3] in self.arrays:
                        result.extend(self.arrays[key[:-3]])
                        continue
                    if key in self.arrays:  # $(params.arr) alone in a list: the whole array too
                        result.extend(self.arrays[key])
                        continue
                result.append(self.text(value))
            else:
                result.append(self.apply(value))
        return result

    def apply(self, value):
        """Substitute through a JSON-like structure: strings, lists (with expansion) and dicts."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return self.items(value)
        if isinstance(value, dict):
            return {k: self.apply(v) for k, v in value.items()}
        return value

    def param_value(self, value):
        """A param's value after substitution: a string, or an array (expanding `[*]` references),
        or an object."""
        if isinstance(value, list):
            return self.items(value)
        if isinstance(value, dict):
            return {k: self.text(str(v)) for k, v in value.items()}
        if isinstance(value, str):
            whole = VARIABLE.fullmatch(value.strip())
            if whole:
                key = normalize(whole[1])
                base = key[:-3] if key.endswith("[*]") else key
                if base in self.arrays and (key.endswith("[*]") or key not in self.strings):
                    return list(self.arrays[base])
            return self.text(value)
        return value


def variables(value) -> list[str]:
    """Every `$(…)` expression (normalized) found in a JSON-like structure, in order."""
    found: list[str] = []

    def walk(item):
        if isinstance(item, str):
            found.extend(normalize(m[1]) for m in VARIABLE.finditer(item))
        elif isinstance(item, list):
            for element in item:
                walk(element)
        elif isinstance(item, dict):
            for element in item.values():
                walk(element)

    walk(value)
    return found


def result_references(value) -> list[tuple[str, str]]:
    """(pipeline task, result) pairs referenced as `$(tasks.T.results.R…)` in a structure."""
    references: list[tuple[str, str]] = []
    for expression in variables(value):
        match = RESULT_REFERENCE.match(expression)
        if match and (match[1], match[2]) not in references:
            references.append((match[1], match[2]))
    return references


def pipeline_task_references(task: dict) -> list[tuple[str, str]]:
    """The result references a PipelineTask depends on: in its params, matrix and when expressions
    (what Tekton's PipelineTaskResultRefs reads)."""
    return result_references([task.get("params") or [], task.get("matrix") or {}, task.get("when") or []])
