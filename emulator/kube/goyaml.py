"""YAML request bodies decoded the way the real server decodes them, errors included.

kube-apiserver decodes an apply body with sigs.k8s.io/yaml: go-yaml v2 turns the first YAML
document into JSON, then encoding/json unmarshals it into a map. Its errors are therefore go-yaml's
(libyaml's wording, `yaml: line N: problem`) or encoding/json's. The emulator parses with PyYAML,
a port of the same libyaml design, so the problems line up one to one; this module rewrites
PyYAML's texts and line numbers into go-yaml's. Compared with v1.28.7 for the errors listed in
`tests/conformance/test_apply.py`; a PyYAML problem this table does not know keeps PyYAML's words
after the real prefix.
"""

from __future__ import annotations

import re

import yaml

CONVERT_PREFIX = "error converting YAML to JSON: yaml: "
# PyYAML problem (a regular expression matched in full) -> go-yaml's problem, for scanner errors.
SCANNER_PROBLEMS = (
    (r"mapping values are not allowed here", "mapping values are not allowed in this context"),
    (r"found character .* that cannot start any token", "found character that cannot start any token"),
    (r"found unknown escape character.*", "found unknown escape character"),
    (
        r"expected alphabetic or numeric character, but found .*",
        "did not find expected alphabetic or numeric character",
    ),
    (r"expected '>', but found .*", "did not find the expected '>'"),
    (r"found unexpected end of stream", "found unexpected end of stream"),
    (r"could not find expected ':'", "could not find expected ':'"),
)
# (PyYAML context, PyYAML problem) -> go-yaml's problem, for parser errors.
PARSER_PROBLEMS = (
    (r".*", r"expected ',' or '\]', but got .*", "did not find expected ',' or ']'"),
    (r".*", r"expected ',' or '}', but got .*", "did not find expected ',' or '}'"),
    (r".*", r"expected the node content, but found .*", "did not find expected node content"),
    (r"while parsing a block mapping", r"expected <block end>, but found .*", "did not find expected key"),
    (
        r"while parsing a block collection",
        r"expected <block end>, but found .*",
        "did not find expected '-' indicator",
    ),
    (r".*", r"expected '<document start>', but found .*", "did not find expected <document start>"),
)
JSON_TYPES = ((bool, "bool"), (int, "number"), (float, "number"), (str, "string"), (list, "array"))


class DecodeError(ValueError):
    """The text after "error decoding YAML: " in the real server's 400."""


def decode_object(raw: bytes) -> dict:
    """The first YAML document of `raw` as a JSON object (None, an empty or null document, is {})."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise DecodeError(CONVERT_PREFIX + "invalid leading UTF-8 octet") from None
    try:
        documents = yaml.safe_load_all(text)
        value = next(documents, None)
    except yaml.MarkedYAMLError as error:
        raise DecodeError(CONVERT_PREFIX + _go_yaml_problem(error, text)) from None
    except yaml.YAMLError as error:
        raise DecodeError(CONVERT_PREFIX + str(error)) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        json_type = next(name for kind, name in JSON_TYPES if isinstance(value, kind))
        raise DecodeError(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "
            f"{json_type} into Go value of type map[string]interface {{}}"
        )
    return value


def _go_yaml_problem(error: yaml.MarkedYAMLError, text: str) -> str:
    """`line N: problem` as go-yaml prints it: scanner errors on a later line count lines from 1,
    parser errors from 0; a problem at the end of a stream that lacks a final newline is one line
    further (libyaml adds the newline); no line at all when the mark is on the first line."""
    problem, context = error.problem or "", error.context or ""
    if isinstance(error, yaml.composer.ComposerError):
        alias = re.fullmatch(r"found undefined alias '(.*)'", problem)
        return f"unknown anchor '{alias[1]}' referenced" if alias else problem
    scanner = isinstance(error, yaml.scanner.ScannerError)
    table = ((None, p, go) for p, go in SCANNER_PROBLEMS) if scanner else PARSER_PROBLEMS
    go_problem = next(
        (
            go
            for wanted_context, wanted_problem, go in table
            if re.fullmatch(wanted_problem, problem)
            and (wanted_context is None or re.fullmatch(wanted_context, context))
        ),
        problem,
    )
    line = 0
    mark = error.problem_mark
    if mark is not None and mark.line != 0:
        line = mark.line + (1 if scanner else 0)
    elif error.context_mark is not None and error.context_mark.line != 0:
        line = error.context_mark.line
    if not scanner and "'<stream end>'" in problem and text and not text.endswith(("\n", "\r")):
        line = (mark.line if mark is not None else line) + 1
    return f"line {line}: {go_problem}" if line else go_problem
