"""Authentication (admin and TokenRequest tokens) and RBAC authorization, with the real wording."""

import base64
import json

import pytest

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def forbidden(message, details):
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Forbidden",
        "details": details,
        "code": 403,
    }


@pytest.fixture
def account(api, namespace):
    """(namespace, service account name, bearer token from TokenRequest)."""
    api.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "robot"}})
    status, body = api.post(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/robot/token",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 700},
        },
    )
    assert status == 201, body
    return namespace, "robot", body["status"]["token"]


def test_token_request_answer(api, namespace):
    api.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "tr"}})
    status, body = api.post(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/tr/token", {"spec": {"expirationSeconds": 3600}}
    )
    assert status == 201
    assert body["kind"] == "TokenRequest" and body["apiVersion"] == "authentication.k8s.io/v1"
    assert body["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert body["spec"]["expirationSeconds"] == 3600
    assert body["status"]["expirationTimestamp"].endswith("Z")
    header, payload, _ = body["status"]["token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == f"system:serviceaccount:{namespace}:tr"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["kubernetes.io"]["serviceaccount"]["name"] == "tr"


def test_token_request_rejects_short_lifetimes(api, namespace):
    api.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "short"}})
    status, body = api.post(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/short/token", {"spec": {"expirationSeconds": 100}}
    )
    assert status == 422
    assert body["message"] == (
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid '
        "value: 100: may not specify a duration less than 10 minutes"
    )
    assert body["details"] == {
        "group": "authentication.k8s.io",
        "kind": "TokenRequest",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: 100: may not specify a duration less than 10 minutes",
                "field": "spec.expirationSeconds",
            }
        ],
    }


def test_invalid_token_is_unauthorized(as_token):
    assert as_token("not-a-valid-token").get("/api/v1/namespaces") == (
        401,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        },
    )


def test_denials_have_the_real_wording(account, as_token):
    namespace, name, token = account
    user = f"system:serviceaccount:{namespace}:{name}"
    robot = as_token(token)
    assert robot.get(f"/api/v1/namespaces/{namespace}/secrets") == (
        403,
        forbidden(
            f'secrets is forbidden: User "{user}" cannot list resource "secrets" in API group "" '
            f'in the namespace "{namespace}"',
            {"kind": "secrets"},
        ),
    )
    assert robot.get(f"/api/v1/namespaces/{namespace}/secrets/x") == (
        403,
        forbidden(
            f'secrets "x" is forbidden: User "{user}" cannot get resource "secrets" in API group "" '
            f'in the namespace "{namespace}"',
            {"name": "x", "kind": "secrets"},
        ),
    )
    assert robot.get(f"/apis/apps/v1/namespaces/{namespace}/deployments") == (
        403,
        forbidden(
            f'deployments.apps is forbidden: User "{user}" cannot list resource "deployments" '
            f'in API group "apps" in the namespace "{namespace}"',
            {"group": "apps", "kind": "deployments"},
        ),
    )
    assert robot.get("/api/v1/namespaces") == (
        403,
        forbidden(
            f'namespaces is forbidden: User "{user}" cannot list resource "namespaces" '
            'in API group "" at the cluster scope',
            {"kind": "namespaces"},
        ),
    )
    assert robot.get("/") == (403, forbidden(f'forbidden: User "{user}" cannot get path "/"', {}))
    assert robot.post(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", {"spec": {}}) == (
        403,
        forbidden(
            f'serviceaccounts "{name}" is forbidden: User "{user}" cannot create resource '
            f'"serviceaccounts/token" in API group "" in the namespace "{namespace}"',
            {"name": name, "kind": "serviceaccounts"},
        ),
    )
    assert robot.get("/version")[0] == 200  # public info is open to every authenticated identity
    assert robot.get("/api")[0] == 200


def test_role_binding_grants_exactly_its_rules(api, account, as_token):
    namespace, name, token = account
    api.post(
        f"{RBAC}/namespaces/{namespace}/roles",
        {
            "metadata": {"name": "cm-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        },
    )
    api.post(
        f"{RBAC}/namespaces/{namespace}/rolebindings",
        {
            "metadata": {"name": "robot-reads"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    )
    robot = as_token(token)
    assert robot.wait_until(lambda: robot.get(f"/api/v1/namespaces/{namespace}/configmaps")[0] == 200)
    status, _ = robot.post(f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "nope"}})
    assert status == 403
    assert robot.get("/api/v1/namespaces/default/configmaps")[0] == 403


def test_subject_access_reviews(api, account, as_token):
    namespace, name, token = account
    user = f"system:serviceaccount:{namespace}:{name}"
    api.post(
        f"{RBAC}/namespaces/{namespace}/rolebindings",
        {
            "metadata": {"name": "robot-views"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    )

    def review(verb, resource, ns=namespace, group=""):
        status, body = api.post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": user,
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
                    "resourceAttributes": {
                        "namespace": ns,
                        "verb": verb,
                        "resource": resource,
                        "group": group,
                    },
                },
            },
        )
        assert status == 201, body
        assert body["kind"] == "SubjectAccessReview"
        return body["status"]

    assert api.wait_until(lambda: review("list", "pods")["allowed"])
    allowed = review("get", "configmaps")
    assert allowed == {
        "allowed": True,
        "reason": f'RBAC: allowed by RoleBinding "robot-views/{namespace}" of '
        f'ClusterRole "view" to ServiceAccount "{name}/{namespace}"',
    }
    assert review("get", "secrets") == {"allowed": False}  # view does not read secrets
    assert review("create", "configmaps") == {"allowed": False}
    assert review("list", "pods", ns="default") == {"allowed": False}
    assert review("list", "deployments", group="apps")["allowed"] is True
    status, body = as_token(token).post(
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        {"spec": {"resourceAttributes": {"namespace": namespace, "verb": "watch", "resource": "services"}}},
    )
    assert status == 201 and body["status"]["allowed"] is True


def test_default_cluster_roles_exist(api):
    for name in ("cluster-admin", "admin", "edit", "view"):
        status, body = api.get(f"{RBAC}/clusterroles/{name}")
        assert status == 200 and body["rules"], name
    _, admin = api.get(f"{RBAC}/clusterroles/cluster-admin")
    assert admin["rules"] == [
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
        {"verbs": ["*"], "nonResourceURLs": ["*"]},
    ]


def test_token_of_a_deleted_service_account_stops_working(api, namespace, as_token):
    api.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "temp"}})
    _, body = api.post(f"/api/v1/namespaces/{namespace}/serviceaccounts/temp/token", {"spec": {}})
    temp = as_token(body["status"]["token"])
    assert (
        temp.post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}},
        )[0]
        == 201
    )
    api.delete(f"/api/v1/namespaces/{namespace}/serviceaccounts/temp")
    # A real server caches token authentication for 10 s.
    assert temp.wait_until(lambda: temp.get("/api")[0] == 401, timeout=30, interval=0.5)


def test_escalation_is_refused(api, account, as_token):
    namespace, name, token = account
    api.post(
        f"{RBAC}/namespaces/{namespace}/roles",
        {
            "metadata": {"name": "role-writer"},
            "rules": [
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["create"]}
            ],
        },
    )
    api.post(
        f"{RBAC}/namespaces/{namespace}/rolebindings",
        {
            "metadata": {"name": "robot-writes-roles"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "role-writer"},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    )
    robot = as_token(token)
    status, body = robot.wait_until(
        lambda: (lambda r: r if r[0] != 403 or "attempting" in r[1]["message"] else None)(
            robot.post(
                f"{RBAC}/namespaces/{namespace}/roles",
                {
                    "metadata": {"name": "greedy"},
                    "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
                },
            )
        )
    )
    assert status == 403
    assert body["message"].startswith(
        f'roles.rbac.authorization.k8s.io "greedy" is forbidden: '
        f'user "system:serviceaccount:{namespace}:{name}" '
        '(groups=["system:serviceaccounts" "system:serviceaccounts:'
        + namespace
        + '" "system:authenticated"]) '
        "is attempting to grant RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
    )


@pytest.mark.emulator_only
def test_expired_tokens_are_refused(cluster, account, as_token, emulator):
    _, _, token = account
    robot = as_token(token)
    assert robot.get("/api")[0] == 200
    emulator.advance_time(701)
    try:
        assert robot.get("/api")[0] == 401
    finally:
        emulator.advance_time(-701)
