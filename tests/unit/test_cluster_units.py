"""Pure parts of the cluster layer: pod names, retry formulation, URLs, redaction, create-once, errors."""

from __future__ import annotations

import io
import logging

import pytest

from kale_argo.cluster.argo_server import server_url
from kale_argo.cluster.backend import create_once, label_selector
from kale_argo.cluster.failures import Call, HTTPFailure, Transient, cluster_error, with_retries
from kale_argo.cluster.kubernetes import formulate_retry
from kale_argo.cluster.redact import MASK, Secret, redact, register_secret
from kale_argo.cluster.status import failed_step, fnv32a, pod_name, steps
from kale_argo.errors import AuthError, ClusterError, ConfigError, ConnectionFailed, NotFoundError
from kale_argo.labels import EXPERIMENT_LABEL, PIPELINE_LABEL, SUBMISSION_LABEL
from kale_argo.views.runs import LiveView
from kale_argo.views.text import format_duration
from tests.fakes.kube import field_selector_matches, label_selector_matches

NO_SLEEP = lambda _s: None  # noqa: E731


def test_fnv32a_matches_the_reference_vectors() -> None:
    assert fnv32a("") == 0x811C9DC5
    assert fnv32a("a") == 0xE40C292C
    assert fnv32a("foobar") == 0xBF9CF968


def test_pod_names_follow_argo_v1_and_v2() -> None:
    wf = {"metadata": {"name": "wf"}}
    node = {"id": "wf-123", "name": "wf.train", "templateName": "train"}
    assert pod_name(wf, node) == f"wf-train-{fnv32a('wf.train')}"
    assert pod_name(wf, {"id": "wf", "name": "wf", "templateName": "x"}) == "wf"
    v1 = {"metadata": {"name": "wf", "annotations": {"workflows.argoproj.io/pod-name-format": "v1"}}}
    assert pod_name(v1, node) == "wf-123"
    long = {"metadata": {"name": "w" * 250}}
    assert len(pod_name(long, node).rsplit("-", 1)[0]) == 253 - 10 - 1


def failed_workflow() -> dict:
    return {"metadata": {"name": "wf", "labels": {"workflows.argoproj.io/completed": "true"}},
            "spec": {"activeDeadlineSeconds": 0},
            "status": {"phase": "Failed", "message": "child failed", "finishedAt": "2026-01-01T00:01:00Z",
                       "nodes": {
                           "wf": {"id": "wf", "name": "wf", "type": "DAG", "phase": "Failed"},
                           "a": {"name": "wf.load", "displayName": "load", "type": "Pod",
                                 "phase": "Succeeded", "templateName": "load"},
                           "b": {"name": "wf.train", "displayName": "train", "type": "Pod", "phase": "Failed",
                                 "templateName": "train", "finishedAt": "2026-01-01T00:00:30Z"},
                           "c": {"name": "wf.onExit", "type": "Pod", "phase": "Succeeded",
                                 "templateName": "e"},
                       }}}


def test_formulate_retry_keeps_succeeded_resets_dags_drops_failed() -> None:
    patch, pods = formulate_retry(failed_workflow())
    assert patch["status"]["phase"] == "Running"
    assert patch["status"]["message"] is None and patch["status"]["finishedAt"] is None
    assert patch["status"]["nodes"] == {"wf": {"phase": "Running", "message": None, "finishedAt": None},
                                        "b": None, "c": None}
    assert patch["metadata"]["labels"]["workflows.argoproj.io/completed"] is None
    assert patch["spec"] == {"activeDeadlineSeconds": None}
    assert pods == [f"wf-train-{fnv32a('wf.train')}", f"wf-e-{fnv32a('wf.onExit')}"]


def test_formulate_retry_refuses_running_runs_and_running_nodes() -> None:
    running = failed_workflow()
    running["status"]["phase"] = "Running"
    with pytest.raises(ClusterError, match="only a Failed or Error run"):
        formulate_retry(running)
    busy = failed_workflow()
    busy["status"]["nodes"]["a"]["phase"] = "Running"
    with pytest.raises(ClusterError, match="load is Running"):
        formulate_retry(busy)


def test_steps_and_failed_step() -> None:
    wf = failed_workflow()
    assert [s.name for s in steps(wf)] == ["load", "train", "wf.onExit"]  # none started: by name
    assert failed_step(wf).name == "train"
    assert format_duration(75) == "1m15s" and format_duration(None) == "-"


def test_live_view_prints_only_changes() -> None:
    out = io.StringIO()
    view = LiveView(out)
    wf = failed_workflow()
    view.update(wf)
    first = out.getvalue()
    view.update(wf)
    assert out.getvalue() == first and "train" in first and "Failed" in first


@pytest.mark.parametrize(("server", "env", "expected"), [
    ("localhost:2746", {}, "https://localhost:2746/"),
    ("localhost:2746", {"secure": False}, "http://localhost:2746/"),
    ("https://h.example/argo", {}, "https://h.example/argo/"),
    ("https://h.example", {"base_href": "/argo/"}, "https://h.example/argo/"),
    ("http://h:1/", {"base_href": "x"}, "http://h:1/x/"),
])
def test_server_url(server: str, env: dict, expected: str) -> None:
    assert server_url(server, **env) == expected


def test_label_selector_uses_label_safe_values_and_the_instance_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGO_INSTANCEID", raising=False)
    instance = "workflows.argoproj.io/controller-instanceid"
    assert label_selector("My Pipe", "exp 1") == (f"{PIPELINE_LABEL}=My-Pipe,{EXPERIMENT_LABEL}=exp-1,"
                                                  f"!{instance}")
    monkeypatch.setenv("ARGO_INSTANCEID", "team-a")
    assert label_selector(selector="a=b") == f"a=b,{instance}=team-a"


def test_redaction_of_text_reprs_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = register_secret("s3cr3t-value-for-unit-test")
    assert repr(secret) == "Secret('***')" and isinstance(secret, Secret)
    assert redact("token s3cr3t-value-for-unit-test here") == f"token {MASK} here"
    assert redact("Authorization: Bearer abc.def-ghi") == f"Authorization: Bearer {MASK}"
    handler_logger = logging.getLogger("kale_argo.test")
    with caplog.at_level(logging.DEBUG):
        handler_logger.debug("header %s", "s3cr3t-value-for-unit-test")
    assert "s3cr3t" not in caplog.text and MASK in caplog.text


def workflow(token: str = "mine") -> dict:
    return {"metadata": {"name": "run-1", "labels": {SUBMISSION_LABEL: token}}}


def test_create_once_finds_its_own_run_after_an_ambiguous_failure() -> None:
    attempts: list[int] = []

    def create() -> dict:
        attempts.append(1)
        raise Transient("connection reset")

    found = create_once(create, lambda: workflow(), workflow(), Call("create", "workflows", "ns", "run-1"),
                        server="s", sleep=NO_SLEEP)
    assert found == workflow() and len(attempts) == 1


def test_create_once_retries_when_absent_and_refuses_others_runs() -> None:
    answers = iter([HTTPFailure(503, "busy"), workflow()])

    def create() -> dict:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert create_once(create, lambda: None, workflow(), Call("create", "workflows", "ns", "run-1"),
                       server="s", sleep=NO_SLEEP) == workflow()

    def conflict() -> dict:
        raise HTTPFailure(409, "exists")

    with pytest.raises(ClusterError, match="already exists"):
        create_once(conflict, lambda: workflow("theirs"), workflow(),
                    Call("create", "workflows", "ns", "run-1"), server="s", sleep=NO_SLEEP)

    def forbidden() -> dict:
        raise HTTPFailure(403, "no")

    with pytest.raises(AuthError):
        create_once(forbidden, lambda: pytest.fail("no lookup on 403"), workflow(),
                    Call("create", "workflows", "ns", "run-1"), server="s", sleep=NO_SLEEP)


def test_with_retries_only_for_safe_calls_and_tls_never() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise HTTPFailure(502, "bad gateway")
        return "ok"

    assert with_retries(flaky, Call("get", "workflows", "ns"), server="s", sleep=NO_SLEEP) == "ok"
    calls.clear()
    with pytest.raises(ClusterError, match="502"):
        with_retries(flaky, Call("update", "workflows", "ns"), server="s", safe=False, sleep=NO_SLEEP)
    assert len(calls) == 1

    def tls() -> str:
        calls.append(1)
        raise Transient("CERTIFICATE_VERIFY_FAILED", tls=True)

    calls.clear()
    with pytest.raises(ConnectionFailed, match="--insecure-skip-verify"):
        with_retries(tls, Call("get", "workflows", "ns"), server="s", sleep=NO_SLEEP)
    assert len(calls) == 1


def test_cluster_errors_name_what_is_missing() -> None:
    call = Call("create", "workflows", "team-a", "run-1")
    forbidden = cluster_error(HTTPFailure(403, "x"), call, server="s").one_line()
    assert "cannot create workflows (API group 'argoproj.io') in namespace 'team-a'" in forbidden
    missing = cluster_error(HTTPFailure(404, 'namespaces "team-a" not found'), call, server="s")
    assert isinstance(missing, NotFoundError) and "namespace 'team-a' does not exist" in str(missing)
    assert missing.exit_code == 2


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("a=1", {"a": "1"}, True), ("a=1,b", {"a": "1"}, False), ("a!=1", {"a": "2"}, True),
    ("a in (1, 2)", {"a": "2"}, True), ("a notin (1,2)", {"a": "2"}, False), ("!a", {}, True),
])
def test_fake_label_selectors(selector: str, labels: dict, expected: bool) -> None:
    assert label_selector_matches(selector, labels) is expected


def test_fake_field_selectors() -> None:
    obj = {"metadata": {"name": "x", "namespace": "n"}}
    assert field_selector_matches("metadata.name=x,metadata.namespace=n", obj)
    assert not field_selector_matches("metadata.name!=x", obj)


def test_tls_hints_name_the_right_switch() -> None:
    from kale_argo.cluster.failures import connection_error

    argo = connection_error(Transient("bad cert", tls=True), server="the Argo Server at https://a/").one_line()
    kube = connection_error(Transient("bad cert", tls=True), server="the Kubernetes API at https://k").one_line()
    assert "--insecure-skip-verify" in argo and "ARGO_INSECURE_SKIP_VERIFY" in argo
    assert "insecure-skip-tls-verify" in kube and "--insecure-skip-verify" not in kube


def test_in_cluster_config_and_namespace_from_the_service_account(tmp_path, monkeypatch) -> None:
    from kale_argo.cluster.kube import api_client, default_namespace, in_cluster

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.delenv("KUBECONFIG", raising=False)
    (tmp_path / "token").write_text("sa-token-unit-0123456789")
    (tmp_path / "ca.crt").write_text("not checked here")
    (tmp_path / "namespace").write_text("kubeflow-user\n")
    monkeypatch.setenv("KALE_ARGO_SERVICEACCOUNT_DIR", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    assert in_cluster() and default_namespace() == "kubeflow-user"
    client = api_client()
    assert client.configuration.host == "https://10.0.0.1:443"
    assert client.kale_namespace == "kubeflow-user"
    assert "sa-token-unit-0123456789" not in redact(client.configuration.api_key)


def test_auto_backend_follows_argo_server(monkeypatch) -> None:
    from kale_argo.cluster.backend import get_backend

    monkeypatch.setenv("ARGO_SERVER", "argo.example:2746")
    monkeypatch.setenv("ARGO_NAMESPACE", "team")
    backend = get_backend("auto")
    assert backend.kind == "argo-server" and backend.url == "https://argo.example:2746/"
    assert backend.namespace == "team"
    with pytest.raises(ConfigError, match="unknown backend"):
        get_backend("kfp")


def test_a_token_over_plain_http_to_another_machine_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    from kale_argo.cluster.argo_server import ArgoServerBackend

    with caplog.at_level(logging.WARNING, logger="kale_argo"):
        ArgoServerBackend("http://127.0.0.1:2746/", "argo", token="t0ken-value-123")
        assert "plain HTTP" not in caplog.text  # a port-forward on this machine
        ArgoServerBackend("http://argo.example.com:2746/", "argo", token="t0ken-value-123")
        ArgoServerBackend("http://argo.example.com:2746/", "argo")  # no token, nothing to warn about
    assert caplog.text.count("sent over plain HTTP") == 1 and "t0ken-value-123" not in caplog.text
