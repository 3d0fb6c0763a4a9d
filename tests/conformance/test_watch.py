"""Watch streams: event shapes, resuming from a resourceVersion, selectors."""

CM = "/api/v1/namespaces/{ns}/configmaps"


def test_watch_from_a_resource_version_sees_later_events(api, namespace):
    _, listing = api.get(CM.format(ns=namespace))
    start = listing["metadata"]["resourceVersion"]
    api.post(CM.format(ns=namespace), {"metadata": {"name": "w1", "labels": {"w": "yes"}}})
    api.merge_patch(CM.format(ns=namespace) + "/w1", {"data": {"a": "1"}})
    api.delete(CM.format(ns=namespace) + "/w1")
    # by name: the namespace's kube-root-ca.crt may appear meanwhile (a controller creates it)
    events = api.watch(
        CM.format(ns=namespace),
        resourceVersion=start,
        fieldSelector="metadata.name=w1",
        stop=lambda e: len(e) >= 3,
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w1"),
        ("MODIFIED", "w1"),
        ("DELETED", "w1"),
    ]
    first = events[0]["object"]
    assert first["kind"] == "ConfigMap" and first["apiVersion"] == "v1"
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(start)
    assert events[1]["object"]["data"] == {"a": "1"}


def test_watch_without_version_starts_with_existing_objects(api, namespace):
    api.post(CM.format(ns=namespace), {"metadata": {"name": "exists", "labels": {"pick": "me"}}})
    events = api.watch(CM.format(ns=namespace), labelSelector="pick=me", stop=lambda e: len(e) >= 1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "exists")]


def test_watch_with_label_selector_reports_objects_leaving_it(api, namespace):
    _, listing = api.get(CM.format(ns=namespace))
    start = listing["metadata"]["resourceVersion"]
    api.post(CM.format(ns=namespace), {"metadata": {"name": "mover", "labels": {"stage": "a"}}})
    api.post(CM.format(ns=namespace), {"metadata": {"name": "other", "labels": {"stage": "b"}}})
    api.merge_patch(CM.format(ns=namespace) + "/mover", {"metadata": {"labels": {"stage": "b"}}})
    events = api.watch(
        CM.format(ns=namespace), resourceVersion=start, labelSelector="stage=a", stop=lambda e: len(e) >= 2
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "mover"),
        ("DELETED", "mover"),
    ]


def test_watch_by_field_selector_ends_at_timeout(api, namespace):
    api.post(CM.format(ns=namespace), {"metadata": {"name": "named"}})
    events = api.watch(CM.format(ns=namespace), timeout=1, fieldSelector="metadata.name=named")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "named")]


def test_python_client_watch(cluster, namespace):
    from kubernetes import client, watch

    core = client.CoreV1Api(cluster.api_client())
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "pyw"}})
    seen = []
    stream = watch.Watch()
    for event in stream.stream(
        core.list_namespaced_config_map, namespace, field_selector="metadata.name=pyw", timeout_seconds=5
    ):
        seen.append((event["type"], event["object"].metadata.name))
        stream.stop()
    assert seen == [("ADDED", "pyw")]


def test_watch_list_streaming_is_refused_as_on_1_28(api, namespace):
    """WatchList is off by default in 1.28; clients fall back to list + watch on this answer."""
    status, body = api.get(
        f"/api/v1/namespaces/{namespace}/configmaps",
        watch="true",
        sendInitialEvents="true",
        resourceVersionMatch="NotOlderThan",
        allowWatchBookmarks="true",
        timeoutSeconds="1",
    )
    assert status == 422
    assert body["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: '
        "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"
    )
    status, body = api.get(f"/api/v1/namespaces/{namespace}/configmaps", resourceVersionMatch="NotOlderThan")
    assert status == 422
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "field": "resourceVersionMatch",
            "message": "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        }
    ]
