"""Contract tests: both backends over real HTTP against their stateful fakes (no client is patched)."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest

import kale_argo.cluster.follow as follow_module
from kale_argo import app
from kale_argo.app.submitting import follow
from kale_argo.cluster.follow import wait
from kale_argo.errors import AuthError, ClusterError, ConfigError, ConnectionFailed, NotFoundError, RunFailed
from kale_argo.labels import SUBMISSION_LABEL
from tests.fakes.drivers import Driver, driver_fixture  # noqa: F401
from tests.fakes.pipelines import demo_spec
from tests.workflow_checks import check_workflow


def submit_pipeline(spec, params, *, backend, out, **options) -> str:
    """Submit without a workspace through the application layer; the run's name."""
    options = app.SubmitOptions(workspace=app.WorkspaceOptions(mode="none"), **options)
    return app.submit(spec, params, options, backend, out=out).name


def submit(driver: Driver, tmp_path, **kwargs) -> str:
    out = io.StringIO()
    name = submit_pipeline(demo_spec(tmp_path), {"n": 3}, backend=driver.backend, out=out, **kwargs)
    assert f"Submitted run {name}" in out.getvalue()
    return name


def test_submit_creates_one_valid_labelled_workflow(driver: Driver, tmp_path) -> None:
    name = submit(driver, tmp_path)
    [stored] = driver.stored()
    assert stored["metadata"]["name"] == name
    labels = stored["metadata"]["labels"]
    assert labels["kale-argo.io/pipeline"] == "demo-pipe" and labels["kale-argo.io/experiment"] == "exp-one"
    assert labels[SUBMISSION_LABEL]
    manifest = {k: v for k, v in stored.items() if k in ("apiVersion", "kind", "spec")}
    manifest["metadata"] = {"name": name, "labels": labels}
    check_workflow(manifest)


def test_run_to_success_with_live_view(driver: Driver, tmp_path) -> None:
    name = submit(driver, tmp_path)
    driver.later((name, "Running", {"load": "Running"}),
                 (name, "Running", {"load": "Succeeded", "train": "Running"}),
                 (name, "Succeeded", {"load": "Succeeded", "train": "Succeeded"}))
    out = io.StringIO()
    workflow = follow(driver.backend, name, out, timeout=20)
    assert workflow["status"]["phase"] == "Succeeded"
    text = out.getvalue()
    assert "load" in text and "train" in text and text.rstrip().endswith(f"run {name} Succeeded")
    assert [line.split()[1] for line in text.splitlines() if line.strip().startswith("train")] == \
        ["Running", "Succeeded"]


def test_run_to_failure_names_step_and_log_tail(driver: Driver, tmp_path) -> None:
    name = submit(driver, tmp_path)
    log = "".join(f"line {i}\n" for i in range(40)) + "ValueError: boom\n"
    driver.later((name, "Running", {"load": "Running"}),
                 (name, "Failed", {"load": "Succeeded", "train": "Failed"},
                  {"messages": {"train": "Error (exit code 1)"}, "logs": {"train": log}}))
    out = io.StringIO()
    with pytest.raises(RunFailed, match="step 'train' Failed"):
        follow(driver.backend, name, out, timeout=20)
    text = out.getvalue()
    assert "ValueError: boom" in text and "line 39" in text and "line 5\n" not in text


def test_submit_with_watch_raises_on_failure(driver: Driver, tmp_path) -> None:
    spec = demo_spec(tmp_path)
    out = io.StringIO()
    seen: list[str] = []

    class Watching(io.StringIO):
        def write(self, text: str) -> int:
            if text.startswith("Submitted run "):
                name = text.split()[2]
                seen.append(name)
                driver.later((name, "Failed", {"load": "Failed"}))
            return out.write(text)

    with pytest.raises(RunFailed):
        submit_pipeline(spec, {}, backend=driver.backend, watch=True, out=Watching(),
                        timeout=20)
    assert seen and "load" in out.getvalue()


def test_ambiguous_create_failure_is_not_duplicated(driver: Driver, tmp_path) -> None:
    driver.fail("POST", "", 500, after_write=True)
    name = submit(driver, tmp_path)
    assert [w["metadata"]["name"] for w in driver.stored()] == [name]


def test_create_refused_with_5xx_is_retried_once_known_absent(driver: Driver, tmp_path) -> None:
    driver.fail("POST", "", 503, times=2)
    name = submit(driver, tmp_path)
    assert [w["metadata"]["name"] for w in driver.stored()] == [name]


def test_conflict_with_someone_elses_run(driver: Driver, tmp_path) -> None:
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "taken", "labels": {SUBMISSION_LABEL: "someone-else"}},
                "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "x"}}]}}
    driver.backend.create(workflow)
    mine = {**workflow, "metadata": {"name": "taken", "labels": {SUBMISSION_LABEL: "mine"}}}
    with pytest.raises(ClusterError, match="already exists"):
        driver.backend.create(mine)
    assert len(driver.stored()) == 1


def test_forbidden_names_verb_resource_and_namespace(driver: Driver, tmp_path) -> None:
    driver.fail("POST", "", 403, message="forbidden")
    with pytest.raises(AuthError) as info:
        submit(driver, tmp_path)
    text = info.value.one_line()
    assert "cannot create workflows" in text and repr(driver.namespace) in text
    assert driver.stored() == []


def test_unauthorized(driver: Driver, tmp_path) -> None:
    driver.fail("GET", "/nope", 401)
    with pytest.raises(AuthError, match="401"):
        driver.backend.get("nope")


def test_missing_run_and_missing_namespace(driver: Driver, tmp_path) -> None:
    with pytest.raises(NotFoundError, match="'nope' in namespace"):
        driver.backend.get("nope")
    other = driver.make_backend(namespace="missing-ns")
    with pytest.raises(NotFoundError, match="namespace 'missing-ns' does not exist"):
        submit_pipeline(demo_spec(tmp_path), {}, backend=other, out=io.StringIO())


def test_safe_calls_retry_5xx_then_give_up(driver: Driver, tmp_path) -> None:
    name = submit(driver, tmp_path)
    driver.fail("GET", f"/{name}", 500, times=2)
    assert driver.backend.get(name)["metadata"]["name"] == name
    driver.fail("GET", f"/{name}", 500, times=10, message="database is down")
    with pytest.raises(ClusterError, match=r"500.*database is down"):
        driver.backend.get(name)


def test_slow_answers_are_waited_for(driver: Driver, tmp_path) -> None:
    name = submit(driver, tmp_path)
    driver.slow("GET", f"/{name}", 0.5)
    assert driver.backend.get(name)["metadata"]["name"] == name


def test_watch_resumes_after_dropped_streams(driver: Driver, tmp_path) -> None:
    name = submit(driver, tmp_path)
    driver.drop_stream(after=1, times=3)
    driver.later((name, "Running", {"load": "Running"}),
                 (name, "Running", {"load": "Succeeded"}),
                 (name, "Running", {"load": "Succeeded", "train": "Running"}),
                 (name, "Succeeded", {"load": "Succeeded", "train": "Succeeded"}))
    assert wait(driver.backend, name, timeout=20)["status"]["phase"] == "Succeeded"


def test_wait_times_out_with_the_current_phase(driver: Driver, tmp_path) -> None:
    name = submit(driver, tmp_path)
    driver.advance(name, "Running", {"load": "Running"})
    with pytest.raises(ClusterError, match=r"did not finish within 1s .it is Running"):
        wait(driver.backend, name, timeout=1)


def test_list_by_pipeline_experiment_and_phase(driver: Driver, tmp_path) -> None:
    first = submit(driver, tmp_path)
    second = submit(driver, tmp_path)
    driver.advance(second, "Failed", {"load": "Failed"})
    names = lambda runs: sorted(w["metadata"]["name"] for w in runs)  # noqa: E731
    assert names(driver.backend.list(pipeline="demo-pipe")) == sorted([first, second])
    assert names(driver.backend.list(experiment="exp-one", phases=["failed"])) == [second]
    assert names(driver.backend.list(phases=["Pending"])) == [first]
    assert driver.backend.list(pipeline="other") == []


def test_stop_terminate_retry_delete(driver: Driver, tmp_path) -> None:
    name = submit(driver, tmp_path)
    assert driver.backend.stop(name)["spec"]["shutdown"] == "Stop"
    assert driver.backend.terminate(name)["spec"]["shutdown"] == "Terminate"
    with pytest.raises(ClusterError):
        driver.backend.retry(name)  # not failed yet
    driver.advance(name, "Failed", {"load": "Succeeded", "train": "Failed"})
    retried = driver.backend.retry(name)
    assert retried["status"]["phase"] == "Running"
    kept = {n.get("displayName"): n["phase"] for n in retried["status"]["nodes"].values()}
    assert kept.get("load") == "Succeeded" and "train" not in kept
    driver.backend.delete(name)
    with pytest.raises(NotFoundError):
        driver.backend.get(name)


def test_logs_of_one_step_and_unknown_step(driver: Driver, tmp_path) -> None:
    name = submit(driver, tmp_path)
    driver.advance(name, "Succeeded", {"load": "Succeeded", "train": "Succeeded"},
                   logs={"load": "loading\ndone\n", "train": "fit\n"})
    lines = [(line.step, line.text) for line in driver.backend.logs(name, step="load")]
    assert lines == [("load", "loading"), ("load", "done")]
    every = list(itertools.chain(driver.backend.logs(name)))
    assert {line.step for line in every} == {"load", "train"}
    with pytest.raises(NotFoundError, match=r"no step 'nope'.*steps: "):
        list(driver.backend.logs(name, step="nope"))


def test_wrong_host_is_one_connection_error(driver: Driver, tmp_path) -> None:
    if driver.kind == "kubernetes":
        path = driver.fake.write_kubeconfig(str(tmp_path / "kc"))
        kubeconfig = Path(path)
        kubeconfig.write_text(kubeconfig.read_text().replace(driver.fake.url, "http://127.0.0.1:9"))
        backend = driver.make_backend(kubeconfig=path)
    else:
        backend = driver.make_backend(argo_server="http://127.0.0.1:9")
    with pytest.raises(ConnectionFailed, match=r"127\.0\.0\.1:9"):
        backend.list()


def pending_claim(driver: Driver, name: str) -> str:
    """A run whose first step waits on its marshal claim, stuck Pending; returns the claim's name."""
    driver.advance(name, "Running", {"load": "Pending"})
    claim = f"{name}-marshal"
    driver.fake.create("v1/persistentvolumeclaims", {
        "metadata": {"name": claim},
        "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "standard"},
        "status": {"phase": "Pending"}}, "default")
    return claim


def provisioning_failed(driver: Driver, claim: str) -> None:
    """The warning event a provisioner records for storage without ReadWriteMany."""
    driver.fake.create("v1/events", {
        "metadata": {"name": f"{claim}.1"}, "type": "Warning", "reason": "ProvisioningFailed",
        "message": "NodePublish: access mode ReadWriteMany is not supported",
        "involvedObject": {"kind": "PersistentVolumeClaim", "name": claim, "namespace": "default"}},
        "default")


def test_wait_timeout_explains_a_claim_stuck_pending(driver: Driver, tmp_path) -> None:
    if driver.kind != "kubernetes":
        pytest.skip("claims are read through the Kubernetes API")
    name = submit(driver, tmp_path)
    claim = pending_claim(driver, name)
    provisioning_failed(driver, claim)
    with pytest.raises(ClusterError, match=rf"{claim} .*stuck Pending: ProvisioningFailed"):
        wait(driver.backend, name, timeout=1)


def test_wait_without_timeout_fails_on_a_claim_stuck_pending(driver: Driver, tmp_path, monkeypatch) -> None:
    if driver.kind != "kubernetes":
        pytest.skip("claims are read through the Kubernetes API")
    monkeypatch.setattr(follow_module, "STUCK_CHECK", 1.0)
    name = submit(driver, tmp_path)
    claim = pending_claim(driver, name)
    # no warning event yet: normal provisioning, so it keeps waiting until its timeout
    with pytest.raises(ClusterError, match="did not finish within"):
        wait(driver.backend, name, timeout=2.5)
    provisioning_failed(driver, claim)
    with pytest.raises(ClusterError, match=rf"cannot start: claim {claim} .*ProvisioningFailed"):
        wait(driver.backend, name)


def test_colocate_and_bad_flags_before_any_request(driver: Driver, tmp_path) -> None:
    name = submit(driver, tmp_path, colocate=True, volume_claim_gc="OnWorkflowCompletion")
    [stored] = driver.stored()
    assert stored["spec"]["volumeClaimGC"] == {"strategy": "OnWorkflowCompletion"}
    claims = stored["spec"]["volumeClaimTemplates"]
    assert claims and all(c["spec"]["accessModes"] == ["ReadWriteOnce"] for c in claims)
    assert stored["metadata"]["name"] == name
    served = len(driver.fake.requests())
    with pytest.raises(ConfigError, match="--image"):
        submit(driver, tmp_path, image="bad image")
    assert len(driver.fake.requests()) == served and len(driver.stored()) == 1
