"""The health chart rendered with the pinned helm: lint, offline validation against the
Kubernetes 1.28 schemas, and what each values case must (and must not) produce."""

import base64
import copy
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.chart.helm import (
    CHART,
    KUBE_VERSION,
    NAMESPACE,
    VALUES,
    by_kind,
    pod_specs,
    requires_helm,
    run_helm,
    template,
    value_args,
)

pytestmark = requires_helm

CASES = {
    "defaults": ("digests.yaml",),
    "ibmcloud": ("digests.yaml", "ibmcloud.yaml"),
    "openshift": ("digests.yaml", "openshift.yaml"),
}
ROUTE_SCHEMA = json.loads((Path(__file__).resolve().parent / "route.schema.json").read_text())
# Every kind the chart may create; all are namespaced, so a Role in the release namespace covers them.
NAMESPACED_KINDS = {"Secret", "Service", "StatefulSet", "Deployment", "Job", "Ingress", "Route"}
IMAGE_KEYS = ("api", "frontend", "databaseMigration", "postgres")


@pytest.fixture(scope="session")
def helm_home(tmp_path_factory):
    return tmp_path_factory.mktemp("helm-home")


@pytest.fixture(scope="session")
def rendered(helm_home):
    """Documents of each values case, rendered once per session."""
    cases = {}
    for case, files in CASES.items():
        result, documents = template(helm_home, files)
        assert result.returncode == 0, f"{case}: helm template failed: {result.stderr}"
        cases[case] = documents
    return cases


def digests():
    return yaml.safe_load((VALUES / "digests.yaml").read_text())["images"]


def schema_problems(document):
    """Validation errors of one rendered object: Kubernetes kinds against the 1.28 strict schemas
    of kubernetes-validate (offline), the OpenShift Route against tests/chart/route.schema.json."""
    name = f"{document.get('kind')}/{document.get('metadata', {}).get('name')}"
    if document.get("apiVersion") == "route.openshift.io/v1":
        validator = jsonschema.Draft7Validator(ROUTE_SCHEMA)
        return [f"{name}: {'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)]
    try:
        used = kubernetes_validate.validate(document, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{name}: {'.'.join(map(str, error.path))}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [f"{name}: {error.message}"]
    return [] if used == "1.28" else [f"{name}: validated against Kubernetes {used}, not 1.28"]


@pytest.mark.parametrize("case", CASES)
def test_lint_strict_passes(helm_home, case):
    result = run_helm(helm_home, "lint", "--strict", str(CHART), *value_args(CASES[case]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_lint_strict_fails_on_a_broken_template(helm_home, tmp_path):
    """The lint step can fail: a chart copy with an unclosed action is rejected."""
    broken = tmp_path / "health"
    for path in CHART.rglob("*"):
        if path.is_file():
            target = broken / path.relative_to(CHART)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (broken / "templates" / "api.yaml").write_text("kind: Service\nmetadata:\n  name: {{ .Release.Name\n")
    result = run_helm(helm_home, "lint", "--strict", str(broken), *value_args(CASES["defaults"]))
    assert result.returncode != 0


@pytest.mark.parametrize("case", CASES)
def test_every_object_is_valid_for_kubernetes_1_28(rendered, case):
    problems = [problem for document in rendered[case] for problem in schema_problems(document)]
    assert problems == []


def test_validation_rejects_what_the_api_server_would():
    """The offline validation is strict: an unknown field and a wrong type are both caught."""
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    assert schema_problems(deployment) == []
    unknown_field = copy.deepcopy(deployment)
    unknown_field["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    assert schema_problems(unknown_field)
    assert schema_problems(wrong_type)
    route = {
        "apiVersion": "route.openshift.io/v1",
        "kind": "Route",
        "metadata": {"name": "r"},
        "spec": {"to": {"kind": "Service", "name": "s"}, "tls": {"termination": "edgy"}},
    }
    assert schema_problems(route)


@pytest.mark.parametrize("case", CASES)
def test_objects_are_namespaced_to_the_release(rendered, case):
    """Installable by a service account whose Role covers only the release namespace."""
    outside = [
        f"{doc['kind']}/{doc['metadata']['name']} (namespace {doc['metadata'].get('namespace')})"
        for doc in rendered[case]
        if doc["kind"] not in NAMESPACED_KINDS or doc["metadata"].get("namespace") != NAMESPACE
    ]
    assert outside == []


@pytest.mark.parametrize("case", CASES)
def test_components(rendered, case):
    documents = rendered[case]
    kinds = {kind: sorted(by_kind(documents, kind)) for kind in {doc["kind"] for doc in documents}}
    exposure = (
        {"Route": ["health-api", "health-frontend"]} if case == "openshift" else {"Ingress": ["health-web"]}
    )
    assert kinds == {
        "Secret": ["health-postgres"],
        "Service": ["health-api", "health-frontend", "health-postgres"],
        "StatefulSet": ["health-postgres"],
        "Deployment": ["health-api", "health-frontend"],
        "Job": ["health-migration"],
        **exposure,
    }


@pytest.mark.parametrize("case", CASES)
def test_images_are_pinned_by_repository_and_digest(rendered, case):
    pinned = {f"{image['repository']}@{image['digest']}" for image in digests().values()}
    used = {
        container["image"]
        for _, spec in pod_specs(rendered[case])
        for container in spec.get("initContainers", []) + spec["containers"]
    }
    assert used == pinned


@pytest.mark.parametrize("case", CASES)
def test_pods_meet_the_restricted_pod_security_profile(rendered, case):
    for name, spec in pod_specs(rendered[case]):
        pod = spec["securityContext"]
        assert spec["automountServiceAccountToken"] is False, name
        assert pod["runAsNonRoot"] is True, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["readOnlyRootFilesystem"] is True, name
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, name


@pytest.mark.parametrize("case", CASES)
def test_long_running_containers_have_probes(rendered, case):
    for name, spec in pod_specs(rendered[case]):
        if name.startswith("Job/"):
            continue
        for container in spec["containers"]:
            assert {"readinessProbe", "livenessProbe"} <= set(container), name


def test_uids_are_fixed_on_kubernetes_and_left_to_the_scc_on_openshift(rendered):
    fixed = {name: spec["securityContext"].get("runAsUser") for name, spec in pod_specs(rendered["defaults"])}
    assert fixed == {
        "Deployment/health-api": 10001,
        "Deployment/health-frontend": 10001,
        "StatefulSet/health-postgres": 70,
        "Job/health-migration": 10001,
    }
    for name, spec in pod_specs(rendered["openshift"]):
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(spec["securityContext"]), name


def test_postgres_keeps_its_data_in_a_claim_per_pod(rendered):
    documents = rendered["defaults"]
    statefulset = by_kind(documents, "StatefulSet")["health-postgres"]
    service = by_kind(documents, "Service")[statefulset["spec"]["serviceName"]]
    assert service["spec"]["clusterIP"] == "None"
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    mounts = {
        m["name"]: m["mountPath"]
        for m in statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert mounts[claim["metadata"]["name"]] == "/var/lib/postgresql/data"
    assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"


def test_password_is_generated_and_referenced_not_inlined(helm_home, rendered):
    """Without a live Secret to read back (helm template has no cluster), a new random password
    is generated; workloads only reference the Secret."""
    secret = by_kind(rendered["defaults"], "Secret")["health-postgres"]
    password = base64.b64decode(secret["data"]["password"]).decode()
    assert len(password) == 32 and password.isalnum()
    _, again = template(helm_home, CASES["defaults"])
    assert (
        base64.b64decode(by_kind(again, "Secret")["health-postgres"]["data"]["password"]).decode() != password
    )
    rendered_text = yaml.safe_dump_all(rendered["defaults"])
    assert rendered_text.count(secret["data"]["password"]) == 1
    users = {
        "StatefulSet/health-postgres": "POSTGRES_PASSWORD",
        "Deployment/health-api": "PGPASSWORD",
        "Job/health-migration": "PGPASSWORD",
    }
    for name, spec in pod_specs(rendered["defaults"]):
        env = {e["name"]: e for c in spec["containers"] for e in c.get("env", [])}
        if name in users:
            assert env[users.pop(name)]["valueFrom"]["secretKeyRef"] == {
                "name": "health-postgres",
                "key": "password",
            }
    assert users == {}


def test_migration_runs_as_a_hook_after_install_and_before_upgrade(rendered):
    job = by_kind(rendered["defaults"], "Job")["health-migration"]
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "post-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    spec = job["spec"]
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    env = {e["name"]: e.get("value") for e in spec["template"]["spec"]["containers"][0]["env"]}
    assert env["PGHOST"] == "health-postgres"
    assert int(env["MIGRATION_CONNECT_TIMEOUT"]) < spec["activeDeadlineSeconds"]


def test_default_ingress_matches_any_host_without_tls(rendered):
    ingress = by_kind(rendered["defaults"], "Ingress")["health-web"]
    assert "tls" not in ingress["spec"] and "ingressClassName" not in ingress["spec"]
    (rule,) = ingress["spec"]["rules"]
    assert "host" not in rule


def test_ibm_cloud_ingress_uses_the_cluster_subdomain_and_secret(rendered):
    documents = rendered["ibmcloud"]
    ingress = by_kind(documents, "Ingress")["health-web"]
    host = "health.mycluster-0000.region.containers.appdomain.test"
    assert ingress["spec"]["ingressClassName"] == "public-iks-k8s-nginx"
    assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": "mycluster-0000"}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == host
    services = by_kind(documents, "Service")
    backends = {}
    for path in rule["http"]["paths"]:
        service = path["backend"]["service"]
        assert service["port"]["name"] in {p["name"] for p in services[service["name"]]["spec"]["ports"]}
        backends[path["path"]] = service["name"]
    assert backends == {"/api": "health-api", "/": "health-frontend"}
    for _, spec in pod_specs(documents):
        assert spec["imagePullSecrets"] == [{"name": "all-icr-io"}]


def test_openshift_routes_share_the_host_and_terminate_tls_at_the_edge(rendered):
    documents = rendered["openshift"]
    routes = by_kind(documents, "Route")
    services = by_kind(documents, "Service")
    host = "health.myroks-0000.region.containers.appdomain.test"
    assert {name: (r["spec"]["host"], r["spec"]["path"]) for name, r in routes.items()} == {
        "health-api": (host, "/api"),
        "health-frontend": (host, "/"),
    }
    for route in routes.values():
        assert route["spec"]["to"]["name"] in services
        assert route["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}


def test_expose_disabled_renders_services_only(helm_home):
    result, documents = template(helm_home, sets={"expose.enabled": False})
    assert result.returncode == 0, result.stderr
    assert not by_kind(documents, "Ingress") and not by_kind(documents, "Route")
    assert set(by_kind(documents, "Service")) == {"health-api", "health-frontend", "health-postgres"}


@pytest.mark.parametrize("image", IMAGE_KEYS)
def test_missing_digest_fails_with_what_to_set(helm_home, image):
    result, documents = template(helm_home, sets={f"images.{image}.digest": ""})
    assert result.returncode != 0 and documents == []
    assert f"image values not set: images.{image}.digest." in result.stderr
    assert f"--set images.{image}.digest=sha256:<64 hex digits>" in result.stderr


def test_chart_defaults_alone_do_not_render(helm_home):
    """Nothing deploys by tag: without the pipeline's digests the chart refuses to render, and
    names every value still missing at once."""
    result, _ = template(helm_home, values_files=())
    assert result.returncode != 0
    missing = [f"images.{key}.{part}" for key in IMAGE_KEYS for part in ("repository", "digest")]
    missing.remove("images.postgres.repository")  # the chart defaults it to the official image
    assert f"image values not set: {', '.join(missing)}." in result.stderr


def test_missing_repository_fails_with_what_to_set(helm_home):
    result, _ = template(helm_home, sets={"images.api.repository": ""})
    assert result.returncode != 0
    assert "image values not set: images.api.repository." in result.stderr
    assert "--set images.api.repository=<registry>/<namespace>/<image>" in result.stderr


def test_registry_port_is_not_mistaken_for_a_tag(helm_home):
    result, documents = template(helm_home, sets={"images.api.repository": "127.0.0.1:5000/health/api"})
    assert result.returncode == 0, result.stderr
    (container,) = by_kind(documents, "Deployment")["health-api"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"127.0.0.1:5000/health/api@{digests()['api']['digest']}"


@pytest.mark.parametrize(
    ("sets", "complaint"),
    [
        ({"images.api.digest": "sha256:abc"}, "digest"),
        ({"images.api.digest": "latest"}, "digest"),
        ({"images.api.repository": "registry.test/api:latest@sha256:" + "0" * 64}, "repository"),
        ({"images.api.repository": "registry.test/api:latest"}, "repository"),
        ({"images.api.tag": "latest"}, "tag"),
        ({"platform": "gke"}, "platform"),
    ],
    ids=[
        "short-digest",
        "tag-as-digest",
        "reference-as-repository",
        "tag-in-repository",
        "unknown-key",
        "unknown-platform",
    ],
)
def test_values_schema_rejects_bad_values(helm_home, sets, complaint):
    result, _ = template(helm_home, sets=sets)
    assert result.returncode != 0
    assert "schema" in result.stderr and complaint in result.stderr


def test_tls_without_a_host_fails_with_what_to_set(helm_home):
    result, _ = template(helm_home, sets={"expose.tlsSecretName": "some-secret"})
    assert result.returncode != 0
    assert "expose.tlsSecretName is set but the Ingress has no host" in result.stderr


def test_openshift_refuses_an_ingress_tls_secret(helm_home):
    result, _ = template(
        helm_home,
        values_files=("digests.yaml", "openshift.yaml"),
        sets={"expose.tlsSecretName": "some-secret"},
    )
    assert result.returncode != 0
    assert "unset expose.tlsSecretName" in result.stderr
