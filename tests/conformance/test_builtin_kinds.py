"""Per-kind rules of built-in objects that the pipeline's modules rely on (compared with 1.28.7)."""

from tests.conformance.helpers import strip_volatile

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def managed(body):
    return [strip_volatile(e) for e in body["metadata"].get("managedFields", [])]


def test_secret_string_data_is_folded_into_data(api, namespace):
    path = f"/api/v1/namespaces/{namespace}/secrets"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s1"},
        "type": "Opaque",
        "stringData": {"k": "v"},
    }
    status, body = api.apply(path + "/s1", secret)
    assert status == 201
    assert body["data"] == {"k": "dg=="} and "stringData" not in body
    assert managed(body)[0]["fieldsV1"] == {"f:stringData": {"f:k": {}}, "f:type": {}}
    status, again = api.apply(path + "/s1", secret)
    assert status == 200 and again["metadata"]["resourceVersion"] == body["metadata"]["resourceVersion"]
    status, posted = api.post(
        path, {"metadata": {"name": "s2"}, "stringData": {"k": "v"}, "data": {"d": "eA=="}}
    )
    assert status == 201
    assert posted["data"] == {"d": "eA==", "k": "dg=="} and posted["type"] == "Opaque"
    assert managed(posted)[0]["fieldsV1"] == {"f:data": {".": {}, "f:d": {}, "f:k": {}}, "f:type": {}}


def test_service_account_reference_lists(api, namespace):
    status, body = api.apply(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/sa",
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "sa"},
            "imagePullSecrets": [{"name": "pull"}],
            "secrets": [{"name": "s1"}],
        },
    )
    assert status == 201
    # secrets merge by name with atomic items; imagePullSecrets is atomic as a whole.
    assert managed(body)[0]["fieldsV1"] == {"f:imagePullSecrets": {}, "f:secrets": {'k:{"name":"s1"}': {}}}


def test_service_ports_are_keyed_with_the_default_protocol(api, namespace):
    status, body = api.apply(
        f"/api/v1/namespaces/{namespace}/services/svc",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "svc"},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    assert status == 201
    assert managed(body)[0]["fieldsV1"] == {
        "f:spec": {
            "f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}, "f:targetPort": {}}},
            "f:selector": {},
        }
    }
    assert body["spec"]["ports"] == [{"protocol": "TCP", "port": 80, "targetPort": 8080}] or body["spec"][
        "ports"
    ] == [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]
    assert body["spec"]["type"] == "ClusterIP" and body["spec"]["clusterIP"]


def test_namespace_apply_and_repeated_delete(api, cluster):
    name = cluster.unique_name("nsapply")
    status, body = api.apply(
        f"/api/v1/namespaces/{name}",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"team": "a"}}},
    )
    assert status == 201
    assert body["metadata"]["labels"] == {"kubernetes.io/metadata.name": name, "team": "a"}
    assert managed(body)[0]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}}}
    assert body["spec"] == {"finalizers": ["kubernetes"]} and body["status"] == {"phase": "Active"}
    first = api.delete(f"/api/v1/namespaces/{name}")
    second = api.delete(f"/api/v1/namespaces/{name}")
    assert first[0] == 200 and first[1]["status"] == {"phase": "Terminating"}
    assert second[0] in (200, 404)  # 200 with the object while terminating
    if second[0] == 200:
        assert second[1]["status"] == {"phase": "Terminating"}


def test_role_binding_role_ref_is_immutable(api, namespace):
    path = f"{RBAC}/namespaces/{namespace}/rolebindings/rb"
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "rb"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": namespace}],
    }
    assert api.apply(path, binding)[0] == 201
    changed = dict(
        binding, roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}
    )
    status, body = api.apply(path, changed)
    assert status == 422
    assert body["message"] == (
        'RoleBinding.rbac.authorization.k8s.io "rb" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: '
        "cannot change roleRef"
    )


def test_self_subject_rules_review(api, namespace):
    status, body = api.post(
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", {"spec": {"namespace": namespace}}
    )
    assert status == 201
    assert body["metadata"] == {"creationTimestamp": None} and body["spec"] == {}
    assert {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]} in body["status"]["resourceRules"]
    assert {"verbs": ["*"], "nonResourceURLs": ["*"]} in body["status"]["nonResourceRules"]
    assert body["status"]["incomplete"] is False


TASK_LIKE_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "description": {"type": "string"},
                "params": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "type": {"type": "string"},
                            "default": {"x-kubernetes-preserve-unknown-fields": True},
                        },
                    },
                },
                "steps": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "image": {"type": "string"},
                            "timeout": {"type": "string"},
                            "env": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def test_tekton_like_custom_resource_apply(api, namespace, cluster):
    """Shaped like Tekton's Task CRD (atomic lists, a preserve-unknown-fields leaf); the same answers
    were compared against tasks.tekton.dev on a real 1.28.7 server."""
    group = cluster.unique_name("t") + ".conformance.example.com"
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/jobspecs.{group}"
    api.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        {
            "metadata": {"name": f"jobspecs.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "jobspecs", "kind": "JobSpec"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": TASK_LIKE_SCHEMA},
                    }
                ],
            },
        },
    )
    try:
        assert api.wait_until(lambda: api.get(f"/apis/{group}/v1")[0] == 200)
        path = f"/apis/{group}/v1/namespaces/{namespace}/jobspecs"
        task = {
            "apiVersion": f"{group}/v1",
            "kind": "JobSpec",
            "metadata": {"name": "build"},
            "spec": {
                "params": [
                    {"name": "IMAGE", "type": "string"},
                    {"name": "ARGS", "type": "array", "default": ["a"]},
                ],
                "steps": [{"name": "build", "image": "buildah:1", "env": [{"name": "A", "value": "1"}]}],
            },
        }
        status, body = api.apply(path + "/build", task)
        assert status == 201
        assert managed(body) == [
            {
                "manager": "tekton-cd",
                "operation": "Apply",
                "apiVersion": f"{group}/v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:params": {}, "f:steps": {}}},
            }
        ]
        status, again = api.apply(path + "/build", task)
        assert status == 200 and again == body
        bad = {**task, "metadata": {"name": "bad"}, "spec": {"steps": [{"name": "s", "timeout": 5}]}}
        status, answer = api.apply(path + "/bad", bad)
        assert status == 500
        assert answer == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "code": 500,
            "message": f"failed to create typed patch object (/bad; {group}/v1, Kind=JobSpec): "
            ".spec.steps[0].timeout: expected string, got "
            "&value.valueUnstructured{Value:5}",
        }
        status, answer = api.apply(path + "/bad", {**bad, "spec": {"params": [{"type": "string"}]}})
        assert status == 422
        assert answer["message"] == f'JobSpec.{group} "bad" is invalid: spec.params[0].name: Required value'
    finally:
        api.delete(crd_path)


def test_hand_edited_role_conflicts_with_the_applier_until_forced(api, namespace):
    """The tampering scenario: someone edits a Role's rules; the next apply meets a conflict on the
    atomic `rules` list and takes it back with force."""
    path = f"{RBAC}/namespaces/{namespace}/roles/deployer"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "deployer"},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}],
    }
    assert api.apply(path, role)[0] == 201
    tampered = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch", "delete"]}]
    status, body = api.merge_patch(path, {"rules": tampered})
    assert status == 200
    assert [(e["manager"], e["operation"], e["fieldsV1"]) for e in body["metadata"]["managedFields"]] == [
        ("conformance", "Update", {"f:rules": {}})
    ]
    status, body = api.apply(path, role)
    assert status == 409
    assert body["message"] == (
        'Apply failed with 1 conflict: conflict with "conformance" using rbac.authorization.k8s.io/v1: .rules'
    )
    status, body = api.apply(path, role, force="true")
    assert status == 200 and body["rules"] == role["rules"]
    assert [(e["manager"], e["operation"]) for e in body["metadata"]["managedFields"]] == [
        ("tekton-cd", "Apply")
    ]


POD_TEMPLATE = {
    "metadata": {"labels": {"app": "d"}},
    "spec": {"containers": [{"name": "c", "image": "nginx:1.2", "ports": [{"containerPort": 80}]}]},
}


def test_workload_defaults_and_who_owns_them(api, namespace):
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    spec = {"selector": {"matchLabels": {"app": "d"}}, "template": POD_TEMPLATE}
    status, posted = api.post(path, {"metadata": {"name": "posted"}, "spec": spec})
    assert status == 201
    assert posted["spec"]["replicas"] == 1 and posted["spec"]["progressDeadlineSeconds"] == 600
    assert posted["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    template = posted["spec"]["template"]
    assert template["metadata"]["creationTimestamp"] is None
    assert template["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert template["spec"]["dnsPolicy"] == "ClusterFirst" and template["spec"]["securityContext"] == {}
    owned = posted["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
    assert owned["f:strategy"] == {
        "f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
        "f:type": {},
    }
    assert owned["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']["f:resources"] == {}
    status, applied = api.apply(
        path + "/applied",
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "applied"}, "spec": spec},
    )
    assert status == 201 and applied["spec"]["revisionHistoryLimit"] == 10
    assert "f:revisionHistoryLimit" not in applied["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]


def test_job_pvc_and_pod_additions(api, namespace):
    api.wait_until(lambda: api.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/default")[0] == 200)
    status, job = api.post(
        f"/apis/batch/v1/namespaces/{namespace}/jobs",
        {
            "metadata": {"name": "j"},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
                }
            },
        },
    )
    assert status == 201
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["metadata"]["labels"]["job-name"] == "j"
    assert job["spec"]["backoffLimit"] == 6 and job["spec"]["completionMode"] == "NonIndexed"
    assert job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    status, claim = api.post(
        f"/api/v1/namespaces/{namespace}/persistentvolumeclaims",
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    assert status == 201
    assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    status, pod = api.post(
        f"/api/v1/namespaces/{namespace}/pods",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox:latest"}]}},
    )
    assert status == 201
    assert pod["spec"]["serviceAccountName"] == "default" and pod["spec"]["priority"] == 0
    assert [t["key"] for t in pod["spec"]["tolerations"]] == [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    [volume] = pod["spec"]["volumes"]
    assert volume["name"].startswith("kube-api-access-")
    assert pod["spec"]["containers"][0]["volumeMounts"] == [
        {
            "name": volume["name"],
            "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        }
    ]
    api.delete(f"/api/v1/namespaces/{namespace}/pods/p", gracePeriodSeconds="0")


def test_update_ownership_of_new_list_items_and_probes(api, namespace):
    """Inside a new list item every map is owned as a member; probes and requests get defaults."""
    api.wait_until(lambda: api.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/default")[0] == 200)
    status, pod = api.post(
        f"/api/v1/namespaces/{namespace}/pods",
        {
            "metadata": {"name": "probed"},
            "spec": {
                "securityContext": {"runAsUser": 1000},
                "imagePullSecrets": [{"name": "pull"}],
                "containers": [
                    {
                        "name": "c",
                        "image": "x:1",
                        "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
                        "securityContext": {"runAsNonRoot": True},
                        "resources": {"limits": {"cpu": "1"}},
                    }
                ],
            },
        },
        dryRun="All",
    )
    assert status == 201
    container = pod["spec"]["containers"][0]
    assert container["livenessProbe"] == {
        "httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert container["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}
    owned = pod["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
    assert owned["f:containers"]['k:{"name":"c"}']["f:resources"] == {
        ".": {},
        "f:limits": {".": {}, "f:cpu": {}},
        "f:requests": {".": {}, "f:cpu": {}},
    }
    assert owned["f:imagePullSecrets"] == {".": {}, 'k:{"name":"pull"}': {}}
    assert owned["f:securityContext"] == {".": {}, "f:runAsUser": {}}
