"""What a cluster's Tekton install is, and installing a downloaded Tekton release file.

    found = detect(service)                  # TektonInstall: api_versions, release, feature_flags,
                                             # triggers (Triggers API versions served)
    require_v1(found)                        # KubeError, one sentence, unless tekton.dev/v1 is served
    release = read_manifest(path)            # ReleaseFile: documents (install order), what it installs
    changes = install(service, release, timeout=300)   # server-side applied; CRDs waited for
    selected = read_labelled(service, kinds, namespace, "a=b")   # LiveObjects, one LIST per kind

Detection costs nothing with a warm discovery cache when tekton.dev/v1 is served (the shared
core's cached list of API groups answers), else one GET of /apis/tekton.dev, which also names the
older versions an outdated install serves. The release comes from the ``pipelines-info``
ConfigMap, which Tekton's own RBAC lets every authenticated user read; ``feature-flags`` may not be
readable, in which case the validator assumes the current release's defaults and says so. Both
come from one label-selected LIST where it is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_errors import KubeError

GROUP = "tekton.dev"
TRIGGERS_GROUP = "triggers.tekton.dev"
TEKTON_NAMESPACE = "tekton-pipelines"
# Tekton Pipelines v0.43.0 set `served: true` on the tekton.dev/v1 versions of its CRDs; v0.42 and
# earlier declare v1 but serve only v1beta1.
FIRST_V1_RELEASE = "v0.43.0"
# The versions each group has had, the one these definitions need first.
KNOWN_VERSIONS = {GROUP: ("v1", "v1beta1", "v1alpha1"), TRIGGERS_GROUP: ("v1beta1", "v1alpha1")}
RECOMMENDED = "v1.15 (the current LTS line)"
CRD_API = "apiextensions.k8s.io/v1"
ESTABLISHED = "status.conditions[?type=='Established'].status | [0] == 'True'"
# Applied first, so that what follows has its namespace and its kinds served.
INSTALL_ORDER = {"Namespace": 0, "CustomResourceDefinition": 1}


@dataclass
class TektonInstall:
    """Tekton as found on the cluster (or as a release file will leave it)."""

    api_versions: list = field(default_factory=list)  # served tekton.dev versions, e.g. ["v1", "v1beta1"]
    release: str | None = None  # pipelines-info's version, None when unknown
    feature_flags: dict | None = None  # feature-flags data, None when not readable
    triggers: list = field(default_factory=list)  # served triggers.tekton.dev versions

    def over(self, other):
        """What is known after installing this (a release file's plan) over ``other`` (the cluster)."""
        return TektonInstall(
            self.api_versions or other.api_versions,
            self.release or other.release,
            self.feature_flags if self.feature_flags is not None else other.feature_flags,
            self.triggers or other.triggers,
        )

    def as_result(self):
        return {
            "api_versions": self.api_versions,
            "release": self.release,
            "feature_flags": self.feature_flags,
            "triggers_api_versions": self.triggers,
        }


def served_versions(client, group, *, fresh=False, confirm_absence=True):
    """The versions of ``group`` the API server serves, as its discovery lists them; [] if none.
    When the version needed is served, the shared core's cached discovery answers (no request);
    otherwise one GET of the group confirms it, unless ``confirm_absence`` is false."""
    needed, *older = KNOWN_VERSIONS[group]
    if not fresh and (client.serves(f"{group}/{needed}") or not confirm_absence):
        return [version for version in (needed, *older) if client.serves(f"{group}/{version}")]
    try:
        answer = client.request_json("GET", f"/apis/{group}", action="read", target=f"API group {group}")
    except KubeError as exc:
        if exc.status != 404:  # a group that is not served is a bare 404 ("404 page not found")
            raise
        answer = None
    return [version["version"] for version in (answer or {}).get("versions") or [] if version.get("version")]


def detect(service, namespace=TEKTON_NAMESPACE, *, fresh=False, with_triggers=False):
    """TektonInstall of the cluster behind ``service``; ``fresh`` ignores cached discovery.
    ``with_triggers``: also the Triggers versions, "required" to confirm with a request that a
    Triggers API missing from cached discovery is really not served."""
    found = TektonInstall(api_versions=served_versions(service.client, GROUP, fresh=fresh))
    if found.api_versions:
        configs = _tekton_config_maps(service, namespace, ("pipelines-info", "feature-flags"))
        found.release = ((configs["pipelines-info"] or {}).get("data") or {}).get("version") or None
        flags = configs["feature-flags"]
        found.feature_flags = dict(flags.get("data") or {}) if flags is not None else None
    if with_triggers:
        found.triggers = served_versions(
            service.client, TRIGGERS_GROUP, fresh=fresh, confirm_absence=with_triggers == "required"
        )
    return found


def _tekton_config_maps(service, namespace, names):
    """{name: ConfigMap, or None when absent or not readable} of Tekton's own ConfigMaps: one LIST
    of the namespace, whose ConfigMaps are nearly all Tekton's (a label selector would leave out
    only kube-root-ca.crt, and would need a GET for each ConfigMap it missed, as on a cluster with
    Tekton's CRDs and no controller). Where that LIST is Forbidden (everyone may read
    pipelines-info, few may list the namespace), a GET of each."""
    try:
        listed = {item["metadata"]["name"]: item for item in service.list("v1", "ConfigMap", namespace)}
    except KubeError as exc:
        if exc.status != 403:
            raise
        return {name: _readable_config_map(service, name, namespace) for name in names}
    return {name: listed.get(name) for name in names}


def _readable_config_map(service, name, namespace):
    try:
        return service.get("v1", "ConfigMap", name, namespace)
    except KubeError as exc:
        if exc.status == 403:
            return None  # not ours to read: the release / flags stay unknown
        raise


def require_v1(found, *, manifest=None):
    """KubeError (one sentence: what is there, what is needed, what to do) unless v1 is served;
    ``manifest``: the release file whose install ``found`` anticipates."""
    if "v1" in found.api_versions:
        return
    if not found.api_versions:
        also = f", and install_manifest {manifest} holds no Tekton Pipelines CRDs" if manifest else ""
        raise KubeError(
            f"Tekton Pipelines is not installed: the cluster serves no {GROUP} API{also}; install "
            f"Tekton Pipelines {RECOMMENDED} with its release file (kubectl apply -f release.yaml), "
            "or download that file and give its path as install_manifest.",
            reason="NotInstalled",
        )
    release = f" (Tekton Pipelines {found.release})" if found.release else ""
    versions = ", ".join(f"{GROUP}/{v}" for v in found.api_versions)
    source = f"install_manifest {manifest}" if manifest else "The cluster"
    raise KubeError(
        f"{source} serves only {versions}{release}, and these definitions need {GROUP}/v1, which "
        f"Tekton Pipelines serves from {FIRST_V1_RELEASE} on; upgrade Tekton Pipelines to "
        f"{RECOMMENDED}, or give install_manifest the release file of such a version.",
        reason="TooOld",
    )


# -- release files -------------------------------------------------------------------------------


@dataclass
class ReleaseFile:
    path: str
    documents: list  # in install order
    planned: TektonInstall  # what the cluster serves once it is applied (Tekton CRDs it holds)

    def crd_names(self):
        return [d["metadata"]["name"] for d in self.documents if d.get("kind") == "CustomResourceDefinition"]


def read_manifest(path, namespace=TEKTON_NAMESPACE):
    """The documents of a downloaded release file; KubeError naming the file when it is unusable."""
    import yaml

    try:
        with open(path) as handle:
            loaded = list(yaml.safe_load_all(handle))
    except OSError as exc:
        raise KubeError.invalid(
            "install_manifest",
            f"{path} cannot be read ({exc.strerror})",
            "give the path of the downloaded release file",
        ) from None
    except yaml.YAMLError as exc:
        raise KubeError.invalid(
            "install_manifest", f"{path} is not valid YAML ({exc})", "download the release file again"
        ) from None
    documents = []
    for index, doc in enumerate(loaded):
        if doc is None:
            continue
        if (
            not isinstance(doc, dict)
            or not doc.get("apiVersion")
            or not doc.get("kind")
            or not (doc.get("metadata") or {}).get("name")
        ):
            raise KubeError.invalid(
                "install_manifest",
                f"document {index + 1} of {path} is not a "
                "Kubernetes object with apiVersion, kind and metadata.name",
                "give the release file as Tekton publishes it",
            )
        documents.append(doc)
    if not documents:
        raise KubeError.invalid(
            "install_manifest", f"{path} holds no objects", "give the release file as Tekton publishes it"
        )
    documents.sort(key=lambda doc: INSTALL_ORDER.get(doc["kind"], 2))  # stable: file order otherwise
    return ReleaseFile(path, documents, _planned(documents, namespace))


def _planned(documents, namespace):
    planned = TektonInstall()
    for doc in documents:
        name, kind = doc["metadata"]["name"], doc["kind"]
        if kind == "CustomResourceDefinition" and name in (
            f"tasks.{GROUP}",
            f"eventlisteners.{TRIGGERS_GROUP}",
        ):
            served = [v["name"] for v in (doc.get("spec") or {}).get("versions") or [] if v.get("served")]
            if name.endswith(TRIGGERS_GROUP):
                planned.triggers = served
            else:
                planned.api_versions = sorted(served, key=lambda v: v != "v1")
        elif kind == "ConfigMap" and doc["metadata"].get("namespace", namespace) == namespace:
            if name == "pipelines-info":
                planned.release = (doc.get("data") or {}).get("version")
            elif name == "feature-flags":
                planned.feature_flags = dict(doc.get("data") or {})
    return planned


def install(service, release, *, timeout):
    """Server-side apply every document of ``release`` (a ReleaseFile), then watch its CRDs until
    they are Established. In check mode, documents bound for a namespace that does not exist yet
    are shown as they would be created, since a dry run cannot create into it."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import Change

    live = service.read_all(release.documents)
    pending = set(service.missing_namespaces(release.documents, live)) if service.check_mode else set()
    changes = []
    for doc in release.documents:
        if (doc.get("metadata") or {}).get("namespace") in pending:
            changes.append(Change(True, None, doc))
        else:
            changes.append(service.apply(doc, live=live.of(doc), live_known=True))
    if not service.check_mode:
        for name in release.crd_names():
            service.wait_for(
                CRD_API,
                "CustomResourceDefinition",
                name,
                condition=ESTABLISHED,
                timeout=timeout,
                description="be Established",
            )
    return changes


def read_labelled(service, kinds, namespace, label_selector):
    """LiveObjects of every object of ``kinds`` ((apiVersion, kind) pairs) in ``namespace`` that
    ``label_selector`` selects: one LIST per kind, for applying a labelled set and pruning it."""
    from ansible_collections.tekton_cd.pipeline.plugins.module_utils.kube_service import LiveObjects, named

    live = LiveObjects(_key)
    for api_version, kind in kinds:
        for item in service.list(api_version, kind, namespace, label_selector=label_selector):
            live[_key(named(api_version, kind, item["metadata"]["name"], namespace))] = item
    return live


def _key(obj):
    metadata = obj.get("metadata") or {}
    return obj["apiVersion"], obj["kind"], metadata.get("name"), metadata.get("namespace")
