"""What built-in kinds' registry strategies do to objects: defaults applied while decoding (owned by
the writer, like the real server's SetDefaults), mutations at create time (not owned), and the
validation rules the emulator enforces. Each rule is a plain function of the object."""

from __future__ import annotations

import base64
import copy
import ipaddress
import re
import secrets

from emulator.kube.exceptions import FieldError, GoText

DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)

RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def validate_name(kind: str, name: str) -> list[FieldError]:
    """metadata.name rules per kind (namespaces: DNS label; services: DNS-1035; RBAC: path segment)."""
    if kind in RBAC_KINDS:
        for bad in ("/", "%"):
            if bad in name:
                return [FieldError.invalid("metadata.name", name, f"may not contain '{bad}'")]
        if name in (".", ".."):
            return [FieldError.invalid("metadata.name", name, f"may not be '{name}'")]
        return []
    if kind == "Namespace":
        pattern, message, limit = DNS1123_LABEL, LABEL_MESSAGE, 63
    elif kind == "Service":
        pattern, message, limit = DNS1035_LABEL, DNS1035_MESSAGE, 63
    else:
        pattern, message, limit = DNS1123_SUBDOMAIN, SUBDOMAIN_MESSAGE, 253
    errors = []
    if len(name) > limit:
        errors.append(FieldError.invalid("metadata.name", name, f"must be no more than {limit} characters"))
    if not pattern.fullmatch(name):
        errors.append(FieldError.invalid("metadata.name", name, message))
    return errors


def decode_defaults(obj: dict) -> None:
    """Defaults the real server sets while decoding a request body (SetDefaults_*): the writer of
    an Update owns them, an applier does not."""
    kind = obj.get("kind")
    metadata = obj.setdefault("metadata", {})
    if kind == "Namespace" and metadata.get("name"):
        metadata.setdefault("labels", {})["kubernetes.io/metadata.name"] = metadata["name"]
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        # stringData is write-only: folded into data (base64) before anything is stored.
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = obj.setdefault("data", {}) or {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif kind == "PersistentVolumeClaim":
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    spec = obj.get("spec")
    if isinstance(spec, dict):
        for field_name, value in WORKLOAD_DEFAULTS.get(kind, ()):
            spec.setdefault(field_name, copy.deepcopy(value))
        strategy = spec.get("strategy")
        if kind == "Deployment" and isinstance(strategy, dict) and strategy.get("type") == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
        if kind == "StatefulSet":
            for claim in spec.get("volumeClaimTemplates") or []:
                if isinstance(claim, dict):
                    claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    for pod_spec in _pod_specs(obj):
        _default_pod_spec(pod_spec, in_template=kind != "Pod")


# SetDefaults_* of the workload kinds (apps/v1, batch/v1), in the order the real server writes them.
WORKLOAD_DEFAULTS = {
    "Deployment": (
        ("replicas", 1),
        ("strategy", {"type": "RollingUpdate"}),
        ("revisionHistoryLimit", 10),
        ("progressDeadlineSeconds", 600),
    ),
    "StatefulSet": (
        ("replicas", 1),
        ("podManagementPolicy", "OrderedReady"),
        ("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
        ("revisionHistoryLimit", 10),
        ("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"}),
    ),
    "ReplicaSet": (("replicas", 1),),
    "Job": (
        ("parallelism", 1),
        ("completions", 1),
        ("backoffLimit", 6),
        ("completionMode", "NonIndexed"),
        ("suspend", False),
    ),
}
PROBE_DEFAULTS = (
    ("timeoutSeconds", 1),
    ("periodSeconds", 10),
    ("successThreshold", 1),
    ("failureThreshold", 3),
)
VOLUME_SOURCES_WITH_MODE = ("secret", "configMap", "downwardAPI", "projected")


def _default_pod_spec(pod_spec: dict, in_template: bool) -> None:
    for field_name, value in (
        ("restartPolicy", "Always"),
        ("terminationGracePeriodSeconds", 30),
        ("dnsPolicy", "ClusterFirst"),
        ("securityContext", {}),
        ("schedulerName", "default-scheduler"),
    ):
        pod_spec.setdefault(field_name, copy.deepcopy(value))
    if not in_template:
        pod_spec.setdefault("enableServiceLinks", True)
        for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
            resources = container.get("resources") if isinstance(container, dict) else None
            if isinstance(resources, dict) and resources.get("limits"):
                # SetDefaults_Pod: requests default to the limits
                requests = resources.setdefault("requests", {})
                for name, value in resources["limits"].items():
                    requests.setdefault(name, value)
    for container in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        container.setdefault("resources", {})
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("imagePullPolicy", _pull_policy(container.get("image", "")))
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
        for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = container.get(probe_name)
            if isinstance(probe, dict):
                for field_name, value in PROBE_DEFAULTS:
                    probe.setdefault(field_name, value)
                if isinstance(probe.get("httpGet"), dict):
                    probe["httpGet"].setdefault("scheme", "HTTP")
    for volume in pod_spec.get("volumes") or []:
        for source in VOLUME_SOURCES_WITH_MODE:
            if isinstance(volume, dict) and isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)


def _pull_policy(image: str) -> str:
    """Always for untagged or :latest images, IfNotPresent otherwise (digests included)."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def storage_form(obj: dict) -> None:
    """What the Go types add when an object is stored and read back, owned by nobody: pod
    templates' `creationTimestamp: null`, a StatefulSet's claim templates as full objects."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    templates = [spec.get("template")]
    if obj.get("kind") == "CronJob":
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        templates = [job_spec.get("template"), spec.get("jobTemplate")]
    for template in templates:
        if isinstance(template, dict):
            template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    if obj.get("kind") == "StatefulSet":
        for n, claim in enumerate(spec.get("volumeClaimTemplates") or []):
            if isinstance(claim, dict):
                full = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", **claim}
                full.setdefault("metadata", {}).setdefault("creationTimestamp", None)
                full.setdefault("status", {"phase": "Pending"})
                spec["volumeClaimTemplates"][n] = full


def _pod_specs(obj: dict) -> list[dict]:
    kind, spec = obj.get("kind"), obj.get("spec")
    if not isinstance(spec, dict):
        return []
    if kind == "Pod":
        return [spec]
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "Job"):
        template = (spec.get("template") or {}).get("spec")
        return [template] if isinstance(template, dict) else []
    if kind == "CronJob":
        template = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
        return [template] if isinstance(template, dict) else []
    return []


def create_mutations(obj: dict, allocate_cluster_ip) -> None:
    """What PrepareForCreate does (not owned by anyone in managedFields)."""
    kind = obj.get("kind")
    if kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
            ip = allocate_cluster_ip()
            spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        obj["status"] = {"loadBalancer": {}}
    elif kind == "Pod":
        _admit_pod(obj)
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    elif kind == "PersistentVolumeClaim":
        obj["status"] = {"phase": "Pending"}
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if "kubernetes.io/pvc-protection" not in finalizers:
            finalizers.append("kubernetes.io/pvc-protection")
    elif kind == "StatefulSet":
        obj["status"] = {"replicas": 0, "availableReplicas": 0}
    elif kind == "Ingress":
        obj["status"] = {"loadBalancer": {}}
    elif kind == "Job":
        _label_job(obj)
        obj["status"] = {}
    elif kind in (
        "Deployment",
        "ReplicaSet",
        "CronJob",
        "PodDisruptionBudget",
    ):
        obj["status"] = {}


POD_DEFAULT_TOLERATIONS = [
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
]
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def _admit_pod(pod: dict) -> None:
    """What admission adds to a new Pod: priority, default tolerations and, unless automounting is
    off, the projected service-account token volume mounted in every container."""
    spec = pod.setdefault("spec", {})
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for toleration in POD_DEFAULT_TOLERATIONS:
        if not any(t.get("key") == toleration["key"] for t in tolerations):
            tolerations.append(dict(toleration))
    if spec.get("automountServiceAccountToken") is False:
        return
    suffix = "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    volume = f"kube-api-access-{suffix}"
    spec.setdefault("volumes", []).append(
        {
            "name": volume,
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "name": "kube-root-ca.crt",
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                }
                            ]
                        }
                    },
                ],
                "defaultMode": 420,
            },
        }
    )
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        mounts = container.setdefault("volumeMounts", [])
        if not any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in mounts):
            mounts.append({"name": volume, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH})


def _label_job(job: dict) -> None:
    """The Job strategy's generated selector and pod labels (the object's uid is set by then)."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    uid, name = job["metadata"].get("uid", ""), job["metadata"]["name"]
    labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template_metadata = spec.setdefault("template", {}).setdefault("metadata", {})
    template_metadata["labels"] = {**labels, **(template_metadata.get("labels") or {})}
    if not job["metadata"].get("labels"):
        job["metadata"]["labels"] = dict(labels)


def validate(obj: dict, old: dict | None) -> list[FieldError]:
    """The built-in validation rules the emulator enforces (a subset of the real ones)."""
    kind = obj.get("kind")
    errors: list[FieldError] = []
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        ref = obj.get("roleRef") or {}
        if not ref.get("name"):
            errors.append(FieldError.required("roleRef.name"))
        if kind == "ClusterRoleBinding" and ref.get("kind") != "ClusterRole":
            errors.append(FieldError.not_supported("roleRef.kind", ref.get("kind", ""), ["ClusterRole"]))
        elif kind == "RoleBinding" and ref.get("kind") not in ("Role", "ClusterRole"):
            errors.append(
                FieldError.not_supported("roleRef.kind", ref.get("kind", ""), ["Role", "ClusterRole"])
            )
        if ref.get("apiGroup") != "rbac.authorization.k8s.io":
            errors.append(
                FieldError.not_supported(
                    "roleRef.apiGroup", ref.get("apiGroup", ""), ["rbac.authorization.k8s.io"]
                )
            )
        for n, subject in enumerate(obj.get("subjects") or []):
            if subject.get("kind") not in ("ServiceAccount", "User", "Group"):
                errors.append(
                    FieldError.not_supported(
                        f"subjects[{n}].kind", subject.get("kind", ""), ["ServiceAccount", "User", "Group"]
                    )
                )
            if not subject.get("name"):
                errors.append(FieldError.required(f"subjects[{n}].name"))
            if (
                subject.get("kind") == "ServiceAccount"
                and not subject.get("namespace")
                and kind == "ClusterRoleBinding"
            ):
                errors.append(FieldError.required(f"subjects[{n}].namespace"))
        if old is not None and old.get("roleRef") != obj.get("roleRef"):
            errors.append(
                FieldError.invalid("roleRef", _go_struct(obj.get("roleRef") or {}), "cannot change roleRef")
            )
    elif kind in ("Role", "ClusterRole"):
        for n, rule in enumerate(obj.get("rules") or []):
            if not rule.get("verbs"):
                errors.append(
                    FieldError.required(f"rules[{n}].verbs", "verbs must contain at least one value")
                )
            if rule.get("nonResourceURLs") and kind == "Role":
                errors.append(
                    FieldError.invalid(
                        f"rules[{n}].nonResourceURLs",
                        rule["nonResourceURLs"],
                        "namespaced rules cannot apply to non-resource URLs",
                    )
                )
            if not rule.get("nonResourceURLs") and not rule.get("apiGroups"):
                errors.append(
                    FieldError.required(
                        f"rules[{n}].apiGroups", "resource rules must supply at least one api group"
                    )
                )
            if not rule.get("nonResourceURLs") and not rule.get("resources"):
                errors.append(
                    FieldError.required(
                        f"rules[{n}].resources", "resource rules must supply at least one resource"
                    )
                )
    elif kind in ("Secret", "ConfigMap"):
        if old is not None and old.get("immutable"):
            for field in ("data", "binaryData", "stringData"):
                if obj.get(field) != old.get(field):
                    errors.append(FieldError.forbidden(field, "field is immutable when `immutable` is set"))
                    break
    elif kind == "Pod":
        containers = (obj.get("spec") or {}).get("containers")
        if not containers:
            errors.append(FieldError.required("spec.containers"))
        for n, container in enumerate(containers or []):
            if not container.get("name"):
                errors.append(FieldError.required(f"spec.containers[{n}].name"))
            if not container.get("image"):
                errors.append(FieldError.required(f"spec.containers[{n}].image"))
    elif kind == "Service":
        spec = obj.get("spec") or {}
        if spec.get("type") != "ExternalName" and not spec.get("ports"):
            errors.append(FieldError.required("spec.ports"))
        ip = spec.get("clusterIP")
        if ip and ip != "None":
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                errors.append(FieldError.invalid("spec.clusterIPs[0]", ip, "must be a valid IP address"))
    return errors


def _go_struct(ref: dict) -> str:
    """roleRef printed as Go prints the struct inside the immutability error."""
    return GoText(
        f'rbac.RoleRef{{APIGroup:"{ref.get("apiGroup", "")}", Kind:"{ref.get("kind", "")}", '
        f'Name:"{ref.get("name", "")}"}}'
    )
