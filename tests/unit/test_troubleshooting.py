"""docs/troubleshooting.md quotes the messages a user meets; each quoted message (the bold `code`
that opens an entry) must still be produced by the modules, module_utils or roles, so that the
page does not describe sentences that no longer exist. Messages are composed from pieces (f-string
fields, a status code, "...: ..." joins), so the check is that the longest literal run of words of
each quoted message (between placeholders like <name>, "...", numbers, ':' and ';') occurs in the
source; the few messages that are Ansible's own are marked so on the page and skipped."""

from __future__ import annotations

import re

from tests.playbook import ROOT

PAGE = ROOT / "docs" / "troubleshooting.md"
ENTRY = re.compile(r"^\*\*`([^`]+)`\*\*(.*)$", re.MULTILINE)


def words(text: str) -> str:
    """Text without quotes, commas and brackets, one space between words (source and page alike)."""
    return " ".join(re.sub(r"[\"'`,(){}]", " ", text).split())


def sources() -> str:
    texts = [p.read_text() for p in (ROOT / "plugins").rglob("*.py")]
    texts += [p.read_text() for p in (ROOT / "roles").rglob("*.yml")]
    return words(" ".join(texts))


def longest_run(message: str) -> str:
    """The longest literal run of words of a quoted message."""
    pieces = re.split(r"<[^>]+>|\.\.\.|\S*\d\S*|[:;]", message)
    return max((words(piece) for piece in pieces), key=lambda run: len(run.split()))


def test_the_page_has_entries():
    assert len(ENTRY.findall(PAGE.read_text())) >= 20


def test_every_quoted_message_is_still_produced_by_the_code():
    code = sources()
    missing = []
    for message, rest in ENTRY.findall(PAGE.read_text()):
        if "Ansible's own message" in rest:
            continue
        run = longest_run(message)
        if len(run.split()) < 3 or run not in code:
            missing.append(f"{message!r}: {run!r}")
    assert missing == []


def test_every_stop_of_the_roles_is_on_the_page():
    """Each ansible.builtin.fail of a role: the start of each of its messages is quoted on the page."""
    page = " ".join(PAGE.read_text().split())
    fails = []
    for tasks in (ROOT / "roles").glob("*/tasks/*.yml"):
        text = tasks.read_text()
        for found in re.finditer(r"ansible\.builtin\.fail:\s*\n\s*msg: >-\n((?:\s{6}.*\n)+)", text):
            message = " ".join(found.group(1).split())
            # A stop that tells several cases apart has one sentence per {% if %} branch.
            for branch in re.split(r"\{%.*?%\}", message):
                if branch.strip():
                    fails.append((tasks.relative_to(ROOT), re.split(r"\{\{|:", branch)[0].strip()))
    assert fails, "no role stops were found: the pattern above is stale"
    assert [f for f in fails if f[1] not in page] == []
