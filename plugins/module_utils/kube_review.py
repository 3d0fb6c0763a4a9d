"""Access reviews (module k8s_access_review): what an identity may and may not do, asked of the API
server's authorizer with one SubjectAccessReview per distinct question.

    review_access(params, check_mode) -> result    # the module's handler

Every input is checked before the first connection (plugins/plugin_utils/inputs_check.py relies on
it); only then is each action without a namespace placed, by discovery: a cluster-scoped resource
is asked about cluster-wide, as the API server asks about it, anything else in the default
namespace. With a record (a ConfigMap), a review that passed is remembered with a fingerprint of
every RBAC object, and the next run with the same questions asks nothing while it holds.
"""

from __future__ import annotations

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_args import option_at, requested
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_names import (
    check_verbs,
    is_dns_subdomain,
    is_rfc1123_label,
)
from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_runner import (
    connect_service,
    one_or_list,
)

REVIEW_API = "authorization.k8s.io/v1"
AUTHENTICATED = "system:authenticated"
QUESTION_KEYS = ("verb", "resource", "group", "subresource", "namespace", "name")
RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_KINDS = ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
RECORD_LABELS = {"app.kubernetes.io/part-of": "tekton-cd", "app.kubernetes.io/component": "access-review"}

ACTION_OPTIONS = {
    "verb": {"type": "str", "required": True},
    "resource": {"type": "str", "required": True},
    "group": {"type": "str", "default": ""},
    "subresource": {"type": "str"},
    "namespace": {"type": "str"},
    "name": {"type": "str"},
}
# The options of one identity's review: at the task level, or in each element of ``reviews``.
REVIEW_OPTIONS = {
    "service_account": {"type": "raw"},
    "user": {"type": "str"},
    "groups": {"type": "list", "elements": "str"},
    "allowed": {"type": "list", "elements": "dict", "default": [], "options": ACTION_OPTIONS},
    "denied": {"type": "list", "elements": "dict", "default": [], "options": ACTION_OPTIONS},
}


def review_access(params, check_mode):
    """The handler of k8s_access_review: every review of the task, asked (or remembered) at once."""
    plans = [(*identity_of(review, where), actions_of(review, where)) for where, review in reviews_of(params)]
    record = record_of(params)
    service = connect_service(params, check_mode)
    for _user, _groups, _described, actions in plans:
        place(actions, service)
    questions = {}
    for user, groups, _described, actions in plans:
        for action in actions:
            questions.setdefault(_question(user, groups, action), (user, groups, action))

    extra = {}
    if record is not None:
        # The fingerprint is taken before any question is asked: a change made while they are being
        # answered then shows up as a new fingerprint on the next run, never as a stale record.
        extra["fingerprint"] = rbac_fingerprint(service, asked_namespaces(plans))
        remembered = remembered_review(service, record, extra["fingerprint"], questions_digest(plans),
                                       params["record_max_age"])
        if remembered is not None:
            reason = f"as answered by the review of {remembered}; no RBAC object has changed since"
            answers = {question: (action["expected"] == "allowed", reason)
                       for question, (_user, _groups, action) in questions.items()}
            return report(params, plans, answers, reviewed=False, **extra)

    result = report(params, plans, answer_all(questions, service), reviewed=True, **extra)
    if record is not None and not result.get("failed") and not check_mode:
        warning = remember_review(service, record, extra["fingerprint"], questions_digest(plans))
        if warning:
            result.setdefault("warnings", []).append(warning)
    return result


# -- input -------------------------------------------------------------------------------------

def reviews_of(params):
    """The requested reviews as (option path for messages, review options) pairs."""
    reviews = requested(params, "reviews", REVIEW_OPTIONS, shared=("namespace",))
    if not reviews:
        raise KubeError.invalid("reviews", "the list is empty", "list at least one review")
    return reviews


def identity_of(params, where=""):
    """(user, groups, description) of the identity to review; KubeError on a bad or missing one."""
    account, user = params.get("service_account"), params.get("user")
    extra_groups = params.get("groups") or []
    if account is not None and user is not None:
        raise KubeError.invalid(option_at(where, "user"), "service_account and user are both given",
                                "review one identity at a time: give service_account or user")
    if account is not None:
        namespace, name = _split_account(account, option_at(where, "service_account"))
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED]
        groups += [group for group in extra_groups if group not in groups]
        return f"system:serviceaccount:{namespace}:{name}", groups, f'ServiceAccount "{namespace}:{name}"'
    if user is None and not extra_groups:
        raise KubeError.invalid(option_at(where, "service_account"), "no identity is given",
                                "give service_account (namespace:name), or user and/or groups")
    groups = list(extra_groups) + ([AUTHENTICATED] if AUTHENTICATED not in extra_groups else [])
    if user is not None:
        described = f'user "{user}"'
    else:
        described = "groups " + ", ".join(f'"{group}"' for group in extra_groups)
    return user or "", groups, described


def _split_account(account, option):
    if isinstance(account, str):
        namespace, _sep, name = account.partition(":")
    elif isinstance(account, dict) and set(account) <= {"namespace", "name"}:
        namespace, name = account.get("namespace") or "", account.get("name") or ""
    else:
        raise KubeError.invalid(option, f"{account!r} is neither namespace:name nor a dict",
                                "give e.g. health-ci:deployer or {namespace: health-ci, name: deployer}")
    if not (is_rfc1123_label(namespace) and is_dns_subdomain(name)):
        raise KubeError.invalid(option, f"{account!r} does not name a namespace and an account",
                                "give namespace:name, e.g. health-ci:deployer")
    return namespace, name


def actions_of(params, where=""):
    """The actions to review as dicts (expected: allowed|denied), with defaults filled in. An action
    that gives no namespace keeps ``namespace`` None and the review's namespace in
    ``default_namespace`` until ``place`` decides between the two by discovery."""
    actions = []
    for expected in ("allowed", "denied"):
        for index, given in enumerate(params.get(expected) or []):
            option = option_at(where, f"{expected}[{index}]")
            verb, resource = given["verb"], given["resource"]
            check_verbs(f"{option}.verb", [verb])
            subresource = given.get("subresource") or ""
            if "/" in resource:
                if subresource:
                    raise KubeError.invalid(f"{option}.resource", f"{resource!r} names a subresource and so "
                                            "does subresource", "give the subresource only once")
                resource, _sep, subresource = resource.partition("/")
            if not resource or "/" in subresource:
                raise KubeError.invalid(f"{option}.resource", f"{given['resource']!r} is not a resource name",
                                        "give a plural resource name such as deployments, or pods/log")
            actions.append({
                "verb": verb, "resource": resource, "group": given.get("group") or "",
                "subresource": subresource, "namespace": given.get("namespace"),
                "name": given.get("name") or "", "expected": expected,
                "default_namespace": params.get("namespace") or "",
            })
    if not actions:
        raise KubeError.invalid(option_at(where, "allowed"), "there is nothing to review",
                                "list actions in allowed and/or denied")
    return actions


def place(actions, service):
    """Give every action without a namespace its own: none for a resource discovery reports as
    cluster-scoped (the API server asks about it without one, and a namespaced question would also
    count RoleBindings, which never grant it), else the default namespace. ``service`` needs only
    ``resource_named(group, plural)``; a resource the server does not serve (or ``*``) counts as
    namespaced."""
    for action in actions:
        default = action.pop("default_namespace", "")
        if action["namespace"] is None:
            wildcard = action["resource"] == "*"
            found = None if wildcard else service.resource_named(action["group"], action["resource"])
            action["namespace"] = "" if found is not None and not found.namespaced else default
    return actions


def record_of(params):
    """(namespace, name) of the record ConfigMap, or None; KubeError on a bad name or age."""
    record = params.get("record")
    if (params.get("record_max_age") or 0) < 0:
        raise KubeError.invalid("record_max_age", f"{params['record_max_age']} is negative",
                                "give a number of seconds, or 0 to never use the record")
    if record is None:
        return None
    if not is_rfc1123_label(record["namespace"]):
        raise KubeError.invalid("record.namespace", f"{record['namespace']!r} is not a namespace name",
                                "give a lowercase RFC 1123 label, e.g. health-ci")
    if not is_dns_subdomain(record["name"]):
        raise KubeError.invalid("record.name", f"{record['name']!r} is not a ConfigMap name",
                                "give a lowercase DNS subdomain, e.g. tekton-cd-access-review")
    return record["namespace"], record["name"]


# -- sentences -----------------------------------------------------------------------------------

def describe(action):
    """'create deployments.apps in namespace "health"' — how messages name an action."""
    what = action["resource"] + (f".{action['group']}" if action["group"] else "")
    if action["subresource"]:
        what += f"/{action['subresource']}"
    if action["name"]:
        what += f' "{action["name"]}"'
    where = f' in namespace "{action["namespace"]}"' if action["namespace"] else " cluster-wide"
    return f"{action['verb']} {what}{where}"


def mismatch_sentence(row):
    reason = f" ({row['reason']})" if row["reason"] else ""
    if row["expected"] == "allowed":
        return f"may not {describe(row)} but should{reason}"
    return f"may {describe(row)} but should not{reason}"


def _failure_sentence(entry):
    total, wrong = len(entry["results"]), len(entry["mismatches"])
    count = f"{wrong} of {total} answers differ" if wrong > 1 else f"1 of {total} answers differs"
    return (f"Access review of {entry['described']}: {count} from what is expected: "
            f"{'; '.join(entry['mismatches'])}; fix its roles and bindings (k8s_rbac) or the expectations "
            "in allowed/denied.")


# -- asking --------------------------------------------------------------------------------------

def review_body(user, groups, action):
    attributes = {key: action[key] for key in QUESTION_KEYS if action[key]}
    spec = {"groups": groups, "resourceAttributes": attributes}
    if user:
        spec["user"] = user
    return {"apiVersion": REVIEW_API, "kind": "SubjectAccessReview", "spec": spec}


def ask(service, user, groups, action):
    """(allowed, reason) from one SubjectAccessReview. A review stores nothing; in check mode it is
    sent with dryRun=All all the same (the API server answers it identically), so that no request of
    a check run is a write."""
    status = service.create(review_body(user, groups, action)).get("status") or {}
    if status.get("evaluationError") and not status.get("allowed"):
        reason = f"evaluation error: {status['evaluationError']}"
    else:
        reason = status.get("reason") or ""
    return bool(status.get("allowed")) and not status.get("denied"), reason


def answer_all(questions, service):
    """Answers to the distinct questions ({question: (user, groups, action)}), as
    {question: (allowed, reason)}. There is no batch review API: each question is one request, and
    many of them are spread over several connections (KubeService.map_concurrently)."""
    answers = service.map_concurrently(lambda on, asked: ask(on, *asked), questions.values())
    return dict(zip(questions, answers, strict=True))


def _question(user, groups, action):
    return (user, tuple(groups), *(action[key] for key in QUESTION_KEYS))


def report(params, plans, answers, **extra):
    """The module result: one row per action, the mismatches as sentences, failed (through the
    result, not a KubeError, so the table of answers stays in the output) when one differs and
    fail_on_mismatch is set. The single form's review is at the top level, the list form's in
    ``reviews``."""
    entries = []
    for user, groups, described, actions in plans:
        rows = []
        for action in actions:
            allowed, reason = answers[_question(user, groups, action)]
            rows.append({**action, "allowed": allowed, "reason": reason,
                         "ok": allowed == (action["expected"] == "allowed")})
        entries.append({"identity": {"user": user, "groups": groups}, "described": described, "results": rows,
                        "mismatches": [mismatch_sentence(row) for row in rows if not row["ok"]]})

    list_form = params.get("reviews") is not None
    shaped = one_or_list(list_form, [{key: entry[key] for key in ("identity", "results", "mismatches")}
                                     for entry in entries], key="review")
    result = {"changed": False, **shaped.pop("review", {}), **shaped, **extra}
    if list_form:
        result["mismatches"] = [f"{entry['described']} {mismatch}" for entry in entries
                                for mismatch in entry["mismatches"]]
    failing = [entry for entry in entries if entry["mismatches"]]
    if failing and params["fail_on_mismatch"]:
        result.update(failed=True, msg=" ".join(_failure_sentence(entry) for entry in failing))
    return result


# -- the record of the last passing review ------------------------------------------------------

def asked_namespaces(plans):
    """The namespaces the questions are about (a cluster-wide question is about none)."""
    return {action["namespace"] for _user, _groups, _described, actions in plans for action in actions
            if action["namespace"]}


def rbac_fingerprint(service, namespaces):
    """Digest of (kind, namespace, name, uid, resourceVersion) of every RBAC object that can change
    an answer: every ClusterRole and ClusterRoleBinding, and the Roles and RoleBindings of the
    ``namespaces`` asked about. A Role elsewhere grants nothing there, so another tenant's RBAC
    does not void this review's record (50 tenants would otherwise void each other's records).

    An object's resourceVersion changes on every write to it, and a deleted and re-made object has a
    new uid; a list's own resourceVersion would not do, since a real API server answers with the
    store's revision, which every write of any kind (events, leases) moves on. One cluster-wide LIST
    per kind, filtered here, costs fewer requests than a LIST per namespace."""
    import hashlib

    entries = []
    for kind in RBAC_KINDS:
        for item in service.list(RBAC_API, kind):
            metadata = item.get("metadata") or {}
            if kind in ("Role", "RoleBinding") and metadata.get("namespace") not in namespaces:
                continue
            entries.append("\t".join((kind, metadata.get("namespace") or "", metadata.get("name") or "",
                                      metadata.get("uid") or "", metadata.get("resourceVersion") or "")))
    return "sha256:" + hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


def questions_digest(plans):
    """Digest of every identity, action and expectation: a record is valid only for the same ones."""
    import hashlib
    import json

    keys = (*QUESTION_KEYS, "expected")
    canonical = [[user, list(groups), [[action[key] for key in keys] for action in actions]]
                 for user, groups, _described, actions in plans]
    return "sha256:" + hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


def remembered_review(service, record, fingerprint, asked, max_age):
    """The time of the remembered passing review when it still holds (same fingerprint, same
    questions, younger than max_age), else None."""
    import datetime

    namespace, name = record
    live = service.get("v1", "ConfigMap", name, namespace)
    data = (live or {}).get("data") or {}
    if max_age == 0 or data.get("fingerprint") != fingerprint or data.get("questions") != asked:
        return None
    try:
        reviewed_at = datetime.datetime.fromisoformat(data.get("reviewed-at") or "")
    except ValueError:
        return None
    if reviewed_at.tzinfo is None:
        return None
    age = (datetime.datetime.now(datetime.UTC) - reviewed_at).total_seconds()
    return data["reviewed-at"] if 0 <= age < max_age else None


def remember_review(service, record, fingerprint, asked):
    """Store the passing review's fingerprint (server-side apply); a warning instead when it cannot
    be stored, since the review itself passed."""
    import datetime

    namespace, name = record
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(RECORD_LABELS)},
            "data": {"fingerprint": fingerprint, "questions": asked, "reviewed-at": now}}
    try:
        service.apply(body)
    except KubeError as error:
        return (f"The review passed but could not be recorded in ConfigMap {namespace}/{name}, so the next "
                f"run asks every question again: {error.msg}")
    return None
