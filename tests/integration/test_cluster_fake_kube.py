"""The fake Kubernetes API behaves like the real one where the cluster layer depends on it."""

from __future__ import annotations

import urllib.error

import pytest
from kubernetes import client, watch

from kale_argo.cluster.kube import api_client, default_namespace
from tests.fakes.kube import FakeKube, kube_fixture  # noqa: F401

WF = "argoproj.io/v1alpha1/workflows"


def workflow(name: str, **labels: str) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "labels": labels}, "spec": {"entrypoint": "main"}}


def test_kubeconfig_client_creates_lists_by_label_and_reads(kube: FakeKube) -> None:
    api = api_client(kubeconfig=kube.kubeconfig)
    assert api.kale_namespace == "default"
    co = client.CustomObjectsApi(api)
    created = co.create_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows",
                                                 workflow("a", pipeline="p1"))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    co.create_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows",
                                       workflow("b", pipeline="p2"))
    items = co.list_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows",
                                             label_selector="pipeline=p1")["items"]
    assert [i["metadata"]["name"] for i in items] == ["a"]
    patched = co.patch_namespaced_custom_object("argoproj.io", "v1alpha1", "default", "workflows", "a",
                                                {"spec": {"shutdown": "Stop"}})
    assert patched["spec"] == {"entrypoint": "main", "shutdown": "Stop"}
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


def test_context_namespace_and_missing_namespace(kube: FakeKube) -> None:
    assert default_namespace(context="other", kubeconfig=kube.kubeconfig) == "kubeflow"
    co = client.CustomObjectsApi(api_client(kubeconfig=kube.kubeconfig))
    with pytest.raises(client.ApiException) as info:
        co.create_namespaced_custom_object("argoproj.io", "v1alpha1", "nope", "workflows", workflow("a"))
    assert info.value.status == 404 and "namespaces" in info.value.body


def test_wrong_token_is_401_and_faults_fire(kube: FakeKube, tmp_path) -> None:
    bad = kube.write_kubeconfig(str(tmp_path / "bad"), token="wrong")
    v1 = client.CoreV1Api(api_client(kubeconfig=bad))
    with pytest.raises(client.ApiException) as info:
        v1.list_namespaced_pod("default")
    assert info.value.status == 401
    v1 = client.CoreV1Api(api_client(kubeconfig=kube.kubeconfig))
    kube.fail(r"GET .*/pods$", 500)
    with pytest.raises(client.ApiException):
        v1.list_namespaced_pod("default")
    assert v1.list_namespaced_pod("default").items == []


def test_watch_resumes_from_resource_version_and_drops(kube: FakeKube) -> None:
    co = client.CustomObjectsApi(api_client(kubeconfig=kube.kubeconfig))
    first = kube.create(WF, workflow("a"), "default")
    rv = first["metadata"]["resourceVersion"]
    kube.patch(WF, "default", "a", {"status": {"phase": "Running"}})
    kube.patch(WF, "default", "a", {"status": {"phase": "Succeeded"}})
    w = watch.Watch()
    phases = [e["object"].get("status", {}).get("phase") for e in w.stream(
        co.list_namespaced_custom_object, "argoproj.io", "v1alpha1", "default", "workflows",
        resource_version=rv, timeout_seconds=1)]
    assert phases == ["Running", "Succeeded"]
    kube.drop_watch(after=1)
    events = list(watch.Watch().stream(co.list_namespaced_custom_object, "argoproj.io", "v1alpha1",
                                       "default", "workflows", timeout_seconds=5))
    assert len(events) == 1


def test_live_watch_sees_later_changes(kube: FakeKube) -> None:
    co = client.CustomObjectsApi(api_client(kubeconfig=kube.kubeconfig))
    kube.create(WF, workflow("a"), "default")
    kube.create(WF, workflow("b"), "default")
    seen: list[tuple[str, str, str | None, int]] = []
    w = watch.Watch()
    for event in w.stream(co.list_namespaced_custom_object, "argoproj.io", "v1alpha1", "default",
                          "workflows", field_selector="metadata.name=a", timeout_seconds=5):
        obj = event["object"]
        phase = obj.get("status", {}).get("phase")
        seen.append((event["type"], obj["metadata"]["name"], phase, int(obj["metadata"]["resourceVersion"])))
        if len(seen) == 1:  # the stream is open and has sent the current state: change things now
            kube.patch(WF, "default", "b", {"status": {"phase": "Succeeded"}})
            kube.patch(WF, "default", "a", {"status": {"phase": "Running"}})
            kube.patch(WF, "default", "a", {"status": {"phase": "Failed"}})
        if phase == "Failed":
            w.stop()
    # The current state first, then each later change of `a` in order (none of `b`), each newer.
    assert [event[:3] for event in seen] == [
        ("ADDED", "a", None), ("MODIFIED", "a", "Running"), ("MODIFIED", "a", "Failed")]
    versions = [event[3] for event in seen]
    assert versions == sorted(set(versions))


def test_pod_logs_and_access_review(kube: FakeKube) -> None:
    api = api_client(kubeconfig=kube.kubeconfig)
    kube.create("v1/pods", {"metadata": {"name": "p"}, "spec": {"containers": []}}, "default")
    kube.set_log("default", "p", "one\ntwo\nthree\n")
    v1 = client.CoreV1Api(api)
    assert v1.read_namespaced_pod_log("p", "default", container="main", tail_lines=2) == "two\nthree\n"
    kube.deny("create", "volumesnapshots", "default")
    auth = client.AuthorizationV1Api(api)
    review = auth.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            verb="create", resource="volumesnapshots", group="snapshot.storage.k8s.io",
            namespace="default"))))
    assert review.status.allowed is False
    with pytest.raises(urllib.error.HTTPError):
        kube.request("GET", "/api/v1/namespaces/default/pods/missing")


def test_deleting_an_owner_deletes_what_it_alone_owns(kube: FakeKube) -> None:
    crons, templates = "argoproj.io/v1alpha1/cronworkflows", "argoproj.io/v1alpha1/workflowtemplates"
    cron = kube.create(crons, {"metadata": {"name": "c"}, "spec": {}}, "default")
    other = kube.create(templates, {"metadata": {"name": "t"}, "spec": {}}, "default")

    def ref(obj: dict) -> dict:
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": obj["kind"], "name": obj["metadata"]["name"],
                "uid": obj["metadata"]["uid"]}

    kube.create("v1/configmaps", {"metadata": {"name": "only", "ownerReferences": [ref(cron)]}}, "default")
    kube.create("v1/configmaps", {"metadata": {"name": "both", "ownerReferences": [ref(cron), ref(other)]}},
                "default")
    kube.create("v1/secrets", {"metadata": {"name": "free"}}, "default")
    kube.delete(crons, "default", "c")
    assert [c["metadata"]["name"] for c in kube.list("v1/configmaps", "default")] == ["both"]
    kube.delete(templates, "default", "t")
    assert kube.list("v1/configmaps", "default") == []
    assert [s["metadata"]["name"] for s in kube.list("v1/secrets", "default")] == ["free"]


def test_replace_is_at_the_version_read(kube: FakeKube) -> None:
    path = "/apis/argoproj.io/v1alpha1/namespaces/default/workflowtemplates/t"
    templates = "argoproj.io/v1alpha1/workflowtemplates"
    first = kube.create(templates, {"metadata": {"name": "t"}, "spec": {"a": 1}}, "default")
    second = kube.request("PUT", path, {**first, "spec": {"a": 2}})
    assert second["spec"] == {"a": 2} and second["metadata"]["uid"] == first["metadata"]["uid"]
    with pytest.raises(urllib.error.HTTPError) as stale:
        kube.request("PUT", path, {**first, "spec": {"a": 3}})
    assert stale.value.code == 409
    assert kube.get(templates, "default", "t")["spec"] == {"a": 2}
