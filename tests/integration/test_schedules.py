"""Schedules (CronWorkflows) and templates (WorkflowTemplates), over real HTTP against both fakes:
created from a pipeline with its parameters, listed, suspended, resumed, pushed twice (an update at
the version read), deleted with what they own; nothing left behind when publishing fails midway;
a bad cron expression or time zone is one line, exit 2, with nothing created."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kale_argo import app
from kale_argo.errors import AuthError, ClusterError, ConfigError
from kale_argo.labels import CODE_ANNOTATION, MARSHAL_KEY_ANNOTATION, PREVIOUS_CODE_ANNOTATION
from tests.fakes.drivers import Driver, driver_fixture  # noqa: F401
from tests.fakes.pipelines import demo_script, demo_spec
from tests.workflow_checks import check_cron_workflow, check_workflow_template

CRON, TEMPLATES = "argoproj.io/v1alpha1/cronworkflows", "argoproj.io/v1alpha1/workflowtemplates"
REST = {CRON: "cron-workflows", TEMPLATES: "workflow-templates"}


def stored(driver: Driver, resource: str) -> list[dict[str, Any]]:
    """What the fake holds, read over HTTP (kube) or from the fake Argo Server's state."""
    if driver.kind == "kubernetes":
        return driver.fake.list(resource, driver.namespace)
    return driver.fake.objects(REST[resource], driver.namespace)


def kube_objects(driver: Driver, resource: str) -> list[dict[str, Any]]:
    return driver.fake.list(resource, driver.namespace) if driver.kind == "kubernetes" else []


def params(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj["spec"].get("workflowSpec") or obj["spec"]
    return {
        p["name"]: p["value"] for p in spec["arguments"]["parameters"] if not p["name"].startswith("kale-")
    }


def mounted(obj: dict[str, Any], source: str) -> list[str]:
    spec = obj["spec"].get("workflowSpec") or obj["spec"]
    key = "name" if source == "configMap" else "secretName"
    return [v[source][key] for v in spec.get("volumes") or [] if source in v]


def check_owned(driver: Driver, obj: dict[str, Any]) -> None:
    """With the Kubernetes API: one code ConfigMap and one key Secret, both mounted by the object's
    runs and owned by it (so Kubernetes deletes them with it)."""
    if driver.kind != "kubernetes":
        assert mounted(obj, "configMap") == [] and mounted(obj, "secret") == []  # inline, unsigned
        return
    meta = obj["metadata"]
    names = {
        "configMap": meta["annotations"][CODE_ANNOTATION],
        "secret": meta["annotations"][MARSHAL_KEY_ANNOTATION],
    }
    for source, resource in (("configMap", "v1/configmaps"), ("secret", "v1/secrets")):
        assert mounted(obj, source) == [names[source]]
        owned = driver.fake.get(resource, driver.namespace, names[source])
        [owner] = owned["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == (obj["kind"], meta["name"], meta["uid"])


def test_schedule_creates_a_cron_workflow_with_the_pipeline_and_its_parameters(
    driver: Driver, tmp_path: Path
) -> None:
    spec = demo_spec(tmp_path)
    when = app.Schedule("0 3 * * 1-5", "Europe/Paris", "forbid")
    made = app.schedule(
        spec, app.resolve(spec, {"lr": "0.25"}), when, app.PublishOptions(), driver.backend, out=io.StringIO()
    )
    [cron] = stored(driver, CRON)
    assert (made.kind, made.name, cron["metadata"]["name"]) == ("CronWorkflow", "demo-pipe", "demo-pipe")
    assert cron["spec"]["schedules"] == ["0 3 * * 1-5"]
    assert (cron["spec"]["timezone"], cron["spec"]["concurrencyPolicy"]) == ("Europe/Paris", "Forbid")
    assert params(cron) == {"n": "4", "lr": "0.25"}
    assert cron["spec"]["workflowMetadata"]["labels"]["kale-argo.io/pipeline"] == "demo-pipe"
    assert cron["spec"]["workflowSpec"]["templates"] and "suspend" not in cron["spec"]
    check_owned(driver, cron)
    check_cron_workflow(
        {k: v for k, v in cron.items() if k != "status"}
        | {
            "metadata": {
                k: v
                for k, v in cron["metadata"].items()
                if k in ("name", "namespace", "labels", "annotations")
            }
        }
    )
    assert "schedule demo-pipe created" in str(made) and "0 3 * * 1-5 (Europe/Paris)" in str(made)


def test_schedules_are_listed_suspended_resumed_and_deleted_with_what_they_own(
    driver: Driver, tmp_path: Path
) -> None:
    spec = demo_spec(tmp_path)
    for name in ("nightly", "hourly"):
        app.schedule(
            spec,
            {},
            app.Schedule("@hourly"),
            app.PublishOptions(name=name),
            driver.backend,
            out=io.StringIO(),
        )
    assert [o["metadata"]["name"] for o in app.list_published(driver.backend, "CronWorkflow")] == [
        "hourly",
        "nightly",
    ]
    assert app.suspend_schedule(driver.backend, "nightly", True)["spec"]["suspend"] is True
    assert {o["metadata"]["name"]: o["spec"].get("suspend", False) for o in stored(driver, CRON)} == {
        "nightly": True,
        "hourly": False,
    }
    assert app.suspend_schedule(driver.backend, "nightly", False)["spec"]["suspend"] is False
    configmaps_before = len(kube_objects(driver, "v1/configmaps"))
    app.delete_published(driver.backend, "CronWorkflow", "nightly")
    assert [o["metadata"]["name"] for o in stored(driver, CRON)] == ["hourly"]
    if driver.kind == "kubernetes":  # its ConfigMap and Secret went with it; the other's stay
        assert len(kube_objects(driver, "v1/configmaps")) == configmaps_before - 1 == 1
        check_owned(driver, stored(driver, CRON)[0])
        assert len(kube_objects(driver, "v1/secrets")) == 1
    with pytest.raises(ClusterError, match=r"schedule 'nightly'.*not found.*kale-argo schedule list"):
        app.suspend_schedule(driver.backend, "nightly", True)


def test_a_second_schedule_of_the_same_name_is_refused_and_leaves_nothing(
    driver: Driver, tmp_path: Path
) -> None:
    spec = demo_spec(tmp_path)
    app.schedule(spec, {}, app.Schedule("@daily"), None, driver.backend, out=io.StringIO())
    before = [stored(driver, CRON), kube_objects(driver, "v1/configmaps"), kube_objects(driver, "v1/secrets")]
    with pytest.raises(ClusterError, match="already exists"):
        app.schedule(spec, {}, app.Schedule("@hourly"), None, driver.backend, out=io.StringIO())
    assert [
        stored(driver, CRON),
        kube_objects(driver, "v1/configmaps"),
        kube_objects(driver, "v1/secrets"),
    ] == before


def test_template_push_creates_then_updates_at_the_version_read(driver: Driver, tmp_path: Path) -> None:
    spec = demo_spec(tmp_path)
    first = app.push_template(spec, {}, None, driver.backend, out=io.StringIO())
    [template] = stored(driver, TEMPLATES)
    assert (first.updated, template["kind"], params(template)) == (
        False,
        "WorkflowTemplate",
        {"n": "4", "lr": "0.5"},
    )
    check_owned(driver, template)
    check_workflow_template(
        {k: template[k] for k in ("apiVersion", "kind", "spec")}
        | {
            "metadata": {
                k: v
                for k, v in template["metadata"].items()
                if k in ("name", "namespace", "labels", "annotations")
            }
        }
    )
    second = app.push_template(spec, app.resolve(spec, {"n": "9"}), None, driver.backend, out=io.StringIO())
    [updated] = stored(driver, TEMPLATES)
    assert second.updated and "template demo-pipe updated" in str(second)
    assert updated["metadata"]["uid"] == template["metadata"]["uid"]
    assert updated["metadata"]["resourceVersion"] != template["metadata"]["resourceVersion"]
    assert params(updated) == {"n": "9", "lr": "0.5"}
    check_owned(driver, updated)
    if driver.kind == "kubernetes":
        old_code = template["metadata"]["annotations"][CODE_ANNOTATION]
        annotations = updated["metadata"]["annotations"]
        assert annotations[PREVIOUS_CODE_ANNOTATION] == old_code != annotations[CODE_ANNOTATION]
        assert (
            annotations[MARSHAL_KEY_ANNOTATION] == template["metadata"]["annotations"][MARSHAL_KEY_ANNOTATION]
        )
        app.push_template(spec, {}, None, driver.backend, out=io.StringIO())  # a third push
        names = {c["metadata"]["name"] for c in kube_objects(driver, "v1/configmaps")}
        assert old_code not in names and len(names) == 2  # the current one and the one before it
        assert len(kube_objects(driver, "v1/secrets")) == 1
    assert [t["metadata"]["name"] for t in app.list_published(driver.backend, "WorkflowTemplate")] == [
        "demo-pipe"
    ]
    app.delete_published(driver.backend, "WorkflowTemplate", "demo-pipe")
    assert stored(driver, TEMPLATES) == []
    assert kube_objects(driver, "v1/configmaps") == [] and kube_objects(driver, "v1/secrets") == []


def test_a_template_changed_meanwhile_is_a_conflict_not_overwritten(driver: Driver, tmp_path: Path) -> None:
    spec = demo_spec(tmp_path)
    app.push_template(spec, {}, None, driver.backend, out=io.StringIO())
    [template] = stored(driver, TEMPLATES)
    # someone else updates it between our read and our write: the GET answers the old version
    backend = driver.backend
    original = backend.get_object

    def stale(plural: str, name: str) -> dict[str, Any]:
        answer = original(plural, name)
        app.push_template(spec, app.resolve(spec, {"n": "7"}), None, driver.make_backend(), out=io.StringIO())
        return answer

    backend.get_object = stale
    try:
        with pytest.raises(ClusterError, match="changed by someone else"):
            app.push_template(spec, app.resolve(spec, {"n": "1"}), None, backend, out=io.StringIO())
    finally:
        backend.get_object = original
    [now] = stored(driver, TEMPLATES)
    assert params(now)["n"] == "7" and now["metadata"]["uid"] == template["metadata"]["uid"]
    if driver.kind == "kubernetes":  # the refused push's ConfigMap was deleted again
        assert {c["metadata"]["name"] for c in kube_objects(driver, "v1/configmaps")} == {
            now["metadata"]["annotations"][CODE_ANNOTATION],
            now["metadata"]["annotations"][PREVIOUS_CODE_ANNOTATION],
        }


@pytest.mark.parametrize("step", ["object", "adopt"])
def test_a_failure_midway_leaves_nothing_behind(driver: Driver, tmp_path: Path, step: str) -> None:
    spec = demo_spec(tmp_path)
    if step == "object":  # the CronWorkflow's create is refused after the Secret and ConfigMap exist
        path = (
            "/apis/argoproj.io/v1alpha1/namespaces/default/cronworkflows"
            if driver.kind == "kubernetes"
            else "/api/v1/cron-workflows/argo"
        )
        driver.fake.fail(f"^POST {path}$", 403, message="forbidden")
    else:  # the CronWorkflow exists, but making it the ConfigMap's owner fails
        if driver.kind != "kubernetes":
            pytest.skip("through the Argo Server there is nothing to own")
        driver.fake.fail("^PATCH /api/v1/namespaces/default/configmaps/", 403, message="forbidden")
    with pytest.raises(AuthError):
        app.schedule(spec, {}, app.Schedule("@daily"), None, driver.backend, out=io.StringIO())
    assert stored(driver, CRON) == []
    assert kube_objects(driver, "v1/configmaps") == [] and kube_objects(driver, "v1/secrets") == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--cron", "61 3 * * *"],
            "--cron: cron schedule '61 3 * * *': minute '61': 61 is out of range 0-59",
        ),
        (["--cron", "0 3 * *"], "4 fields, Argo expects 5"),
        (["--cron", "@sometimes"], "unknown descriptor '@sometimes'"),
        (
            ["--cron", "0 3 * * *", "--timezone", "Europe/Pariss"],
            "--timezone: unknown time zone 'Europe/Pariss'",
        ),
        (["--cron", "0 3 * * *", "--concurrency-policy", "Never"], "unknown concurrency policy 'Never'"),
        (
            ["--cron", "0 3 * * *", "--name", "Nightly_Train"],
            "--name: CronWorkflow name 'Nightly_Train' is not valid",
        ),
    ],
)
def test_a_bad_schedule_is_one_line_exit_2_and_creates_nothing(
    driver: Driver, tmp_path: Path, flags: list[str], message: str
) -> None:
    cli = _cli(driver, ["schedule", demo_script(tmp_path), *flags], tmp_path)
    assert cli.returncode == 2, cli.stderr
    [line] = cli.stderr.splitlines()
    assert line.startswith("kale-argo: error: ") and message in line and "hint:" in line
    assert stored(driver, CRON) == [] and kube_objects(driver, "v1/configmaps") == []
    assert not [r for r in driver.fake.requests() if r[0] != "GET"]  # nothing was even attempted


def _cli(driver: Driver, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    connection = (
        ["--backend", "kubernetes", "--kubeconfig", driver.fake.kubeconfig, "-n", "default"]
        if driver.kind == "kubernetes"
        else ["--backend", "argo-server", "--argo-server", driver.fake.url, "-n", "argo"]
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ARGO_TOKEN": driver.fake.token}
    return subprocess.run(
        [sys.executable, "-m", "kale_argo.cli.main", *args, *connection],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def test_the_cli_creates_lists_suspends_resumes_and_deletes(driver: Driver, tmp_path: Path) -> None:
    script = demo_script(tmp_path)
    made = _cli(
        driver,
        ["schedule", script, "--cron", "30 2 * * *", "-p", "n=6", "--name", "nightly", "-o", "name"],
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout == "nightly\n"
    assert params(stored(driver, CRON)[0]) == {"n": "6", "lr": "0.5"}
    listed = _cli(driver, ["cron", "list"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPENDED"]
    assert row.split()[:7] == ["nightly", "30", "2", "*", "*", "*", "no"]
    for verb, value in (("suspend", True), ("resume", False)):
        done = _cli(driver, ["schedule", verb, "nightly"], tmp_path)
        assert (done.returncode, done.stdout) == (
            0,
            f"schedule nightly {verb}ed\n".replace("suspended", "suspended").replace("resumeed", "resumed"),
        ), done.stderr
        assert stored(driver, CRON)[0]["spec"]["suspend"] is value
    as_json = _cli(driver, ["schedule", "ls", "-o", "json"], tmp_path)
    assert [o["metadata"]["name"] for o in json.loads(as_json.stdout)] == ["nightly"]
    gone = _cli(driver, ["schedule", "rm", "nightly"], tmp_path)
    assert (gone.returncode, gone.stdout) == (0, "schedule nightly deleted\n"), gone.stderr
    assert stored(driver, CRON) == [] and kube_objects(driver, "v1/configmaps") == []
    missing = _cli(driver, ["schedule", "delete", "nightly"], tmp_path)
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1


def test_the_cli_pushes_a_template_twice_lists_and_deletes_it(driver: Driver, tmp_path: Path) -> None:
    script = demo_script(tmp_path)
    first = _cli(driver, ["template", "push", script, "-p", "lr=0.1"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "template demo-pipe created" in first.stdout
    assert "argo submit --from workflowtemplate/demo-pipe" in first.stdout
    second = _cli(driver, ["template", script, "-p", "lr=0.2", "-o", "yaml"], tmp_path)
    assert second.returncode == 0, second.stderr
    assert (
        params(yaml.safe_load(second.stdout))
        == {"n": "4", "lr": "0.2"}
        == params(stored(driver, TEMPLATES)[0])
    )
    listed = _cli(driver, ["template", "list", "-o", "name"], tmp_path)
    assert listed.stdout == "demo-pipe\n"
    gone = _cli(driver, ["template", "delete", "demo-pipe"], tmp_path)
    assert gone.returncode == 0 and stored(driver, TEMPLATES) == []


def test_the_python_api_schedules_and_pushes_a_template(
    driver: Driver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kale_argo.sdk.loader import load_pipeline

    pipe = load_pipeline(demo_script(tmp_path))
    where = {
        "backend": driver.kind,
        "namespace": driver.namespace,
        **(
            {"kubeconfig": driver.fake.kubeconfig}
            if driver.kind == "kubernetes"
            else {"argo_server": driver.fake.url, "token": driver.fake.token}
        ),
    }
    made = pipe.schedule("*/15 * * * *", concurrency_policy="Replace", name="quarter", lr=0.75, **where)
    assert (made.kind, made.name) == ("CronWorkflow", "quarter")
    [cron] = stored(driver, CRON)
    assert params(cron) == {"n": "4", "lr": "0.75"} and cron["spec"]["concurrencyPolicy"] == "Replace"
    pushed = pipe.push_template(n=2, **where)
    assert "template demo-pipe created" in str(pushed)
    assert params(stored(driver, TEMPLATES)[0]) == {"n": "2", "lr": "0.5"}
    with pytest.raises(ConfigError, match="minute '60'"):
        pipe.schedule("60 * * * *", **where)
    assert len(stored(driver, CRON)) == 1


def _compile(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kale_argo.cli.main", "compile", demo_script(tmp_path), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )


def test_compile_writes_a_cron_workflow_and_a_workflow_template_argo_accepts(tmp_path: Path) -> None:
    cron = _compile(
        [
            "--cron",
            "0 3 * * MON-FRI",
            "--timezone",
            "Asia/Tokyo",
            "--concurrency-policy",
            "Forbid",
            "-p",
            "lr=0.3",
            "-n",
            "team-a",
        ],
        tmp_path,
    )
    assert cron.returncode == 0, cron.stderr
    configmap, manifest = yaml.safe_load_all(cron.stdout)
    assert cron.stdout.startswith("# The code every run mounts") and "argo cron create" in cron.stdout
    assert (configmap["kind"], manifest["kind"], manifest["metadata"]["namespace"]) == (
        "ConfigMap",
        "CronWorkflow",
        "team-a",
    )
    assert manifest["spec"]["schedules"] == ["0 3 * * MON-FRI"] and params(manifest)["lr"] == "0.3"
    assert mounted(manifest, "configMap") == [configmap["metadata"]["name"]]
    check_cron_workflow(manifest)
    template = _compile(["--kind", "workflowtemplate", "--name", "train-v2"], tmp_path)
    assert template.returncode == 0, template.stderr
    _, manifest = yaml.safe_load_all(template.stdout)
    assert (manifest["kind"], manifest["metadata"]["name"], params(manifest)) == (
        "WorkflowTemplate",
        "train-v2",
        {"n": "4", "lr": "0.5"},
    )
    check_workflow_template(manifest)
    assert _compile(["--kind", "workflowtemplate", "--name", "train-v2"], tmp_path).stdout == template.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cron", "0 25 * * *"], "hour '25': 25 is out of range 0-23"),
        (["--kind", "cronworkflow"], "a CronWorkflow needs a schedule"),
        (["--kind", "workflowtemplate", "--cron", "@daily"], "a WorkflowTemplate has no schedule"),
        (["--name", "x"], "are for --kind cronworkflow or workflowtemplate"),
        (["--cron", "@daily", "--name", "a" * 53], "CronWorkflow name"),
    ],
)
def test_compile_refuses_a_bad_kind_or_schedule_writing_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out.yaml"
    done = _compile([*args, "--output-file", str(out)], tmp_path)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    assert not out.exists()


def test_the_workflow_checks_reject_what_argo_would(tmp_path: Path) -> None:
    from kale_argo.argo.kinds import Schedule, cron_workflow, workflow_template
    from kale_argo.argo.output import compile_dict

    workflow = compile_dict(demo_spec(tmp_path), {})
    good = cron_workflow(workflow, "nightly", Schedule("0 3 * * *"))
    check_cron_workflow(good)
    for broken, why in (
        ({"schedules": ["0 3 * *"]}, "exactly 5 fields"),
        ({"schedules": ["0 3 32 * *"]}, "out of range"),
        ({"concurrencyPolicy": "Sometimes"}, "concurrencyPolicy"),
        ({"suspended": True}, "schema"),
    ):
        with pytest.raises(AssertionError, match=why):
            check_cron_workflow({**good, "spec": {**good["spec"], **broken}})
    with pytest.raises(AssertionError, match="at most 52"):
        check_cron_workflow({**good, "metadata": {"name": "n" * 53}})
    template = workflow_template(workflow, "train")
    check_workflow_template(template)
    with pytest.raises(AssertionError, match="entrypoint"):
        check_workflow_template({**template, "spec": {**template["spec"], "entrypoint": "nope"}})


def test_the_runner_role_grants_exactly_the_calls_schedules_and_templates_make(tmp_path: Path) -> None:
    """Every request the kubernetes backend makes for schedules and templates, as the RBAC verb it
    needs, is granted by manifests/base/runner-role.yaml; nothing reads Secrets or ConfigMaps."""
    from tests.fakes.drivers import kube_driver

    driver, close = kube_driver(tmp_path)
    try:
        spec = demo_spec(tmp_path)
        app.schedule(spec, {}, app.Schedule("@daily"), None, driver.backend, out=io.StringIO())
        app.suspend_schedule(driver.backend, "demo-pipe", True)
        app.suspend_schedule(driver.backend, "demo-pipe", False)
        app.list_published(driver.backend, "CronWorkflow")
        app.delete_published(driver.backend, "CronWorkflow", "demo-pipe")
        for _ in range(3):
            app.push_template(spec, {}, None, driver.backend, out=io.StringIO())
        app.list_published(driver.backend, "WorkflowTemplate")
        app.delete_published(driver.backend, "WorkflowTemplate", "demo-pipe")
        used = set()
        for method, path, _ in driver.fake.requests():
            parts = path.strip("/").split("/")
            group = "" if parts[0] == "api" else parts[1]
            rest = parts[parts.index("namespaces") + 2 :] if "namespaces" in parts else parts[-1:]
            named = len(rest) > 1
            verb = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}.get(
                method, "get" if named else "list"
            )
            used.add((group, rest[0], verb))
    finally:
        close()
    role = yaml.safe_load((Path(__file__).parents[2] / "manifests" / "base" / "runner-role.yaml").read_text())
    granted = {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    assert used - granted == set()
    assert {
        ("argoproj.io", "cronworkflows", "patch"),
        ("argoproj.io", "workflowtemplates", "update"),
        ("", "configmaps", "delete"),
        ("", "secrets", "create"),
    } <= used
    assert not {(g, r, v) for g, r, v in used if r in ("secrets", "configmaps") and v in ("get", "list")}


def test_a_run_started_from_the_template_shows_the_pipelines_steps(driver: Driver, tmp_path: Path) -> None:
    """``argo submit --from workflowtemplate/NAME`` makes a Workflow that only references the
    template; Argo keeps the template's spec in its status, and kale-argo reads the steps there."""
    from kale_argo.cluster.status import planned_steps

    app.push_template(demo_spec(tmp_path), {}, None, driver.backend, out=io.StringIO())
    [template] = stored(driver, TEMPLATES)
    run = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "demo-pipe-x1", "labels": template["spec"]["workflowMetadata"]["labels"]},
        "spec": {"workflowTemplateRef": {"name": "demo-pipe"}},
        "status": {"phase": "Running", "storedWorkflowTemplateSpec": template["spec"]},
    }
    if driver.kind == "kubernetes":
        driver.fake.create("argoproj.io/v1alpha1/workflows", run, driver.namespace)
    else:
        driver.fake.add_run(run, driver.namespace)
    got = app.status(driver.backend, "demo-pipe-x1")
    assert [(s.name, s.phase) for s in planned_steps(got)] == [("load", "Pending"), ("train", "Pending")]
    listed = app.list_runs(driver.backend, pipeline="demo-pipe")
    assert [w["metadata"]["name"] for w in listed] == ["demo-pipe-x1"]


def test_a_create_whose_answer_was_lost_is_not_duplicated(driver: Driver, tmp_path: Path) -> None:
    path = (
        "/apis/argoproj.io/v1alpha1/namespaces/default/cronworkflows"
        if driver.kind == "kubernetes"
        else "/api/v1/cron-workflows/argo"
    )
    driver.fake.fail(f"^POST {path}$", 503, after_write=True)
    made = app.schedule(
        demo_spec(tmp_path), {}, app.Schedule("@daily"), None, driver.backend, out=io.StringIO()
    )
    [cron] = stored(driver, CRON)
    assert made.manifest["metadata"]["uid"] == cron["metadata"]["uid"]
    assert len([r for r in driver.fake.requests("POST", path)]) == 1
    check_owned(driver, cron)


def test_compile_json_is_one_document_per_object(tmp_path: Path) -> None:
    done = _compile(["--cron", "@weekly", "-o", "json"], tmp_path)
    assert done.returncode == 0, done.stderr
    decoder, text, docs = json.JSONDecoder(), done.stdout, []
    while text.strip():
        doc, end = decoder.raw_decode(text.lstrip())
        docs.append(doc)
        text = text.lstrip()[end:]
    assert [d["kind"] for d in docs] == ["ConfigMap", "CronWorkflow"]
    check_cron_workflow(docs[1])


def test_every_run_of_a_schedule_or_template_gets_its_own_identity(driver: Driver, tmp_path: Path) -> None:
    """Nothing run-specific is baked into what Argo reuses: each run's steps learn their run from
    Argo (``{{workflow.uid}}``), which binds their values and names their marshal folder, and the
    submission label that recognises a lost create stays on the object, off its runs."""
    from kale_argo.labels import SUBMISSION_LABEL
    from kale_argo.runtime.marshal.binding import RUN_ID_ENV

    spec = demo_spec(tmp_path)
    app.schedule(spec, {}, app.Schedule("@daily"), None, driver.backend, out=io.StringIO())
    app.push_template(spec, {}, None, driver.backend, out=io.StringIO())
    for obj in (stored(driver, CRON)[0], stored(driver, TEMPLATES)[0]):
        run_spec = obj["spec"].get("workflowSpec") or obj["spec"]
        run_labels = obj["spec"]["workflowMetadata"].get("labels") or {}
        assert SUBMISSION_LABEL in obj["metadata"]["labels"] and SUBMISSION_LABEL not in run_labels
        containers = [t["container"] for t in run_spec["templates"] if "container" in t]
        assert containers
        for container in containers:
            env = {e["name"]: e.get("value") for e in container.get("env") or []}
            assert env[RUN_ID_ENV] == "{{workflow.uid}}"
            argv = json.dumps(container.get("command", []) + container.get("args", []))
            assert "/{{workflow.uid}}" in argv  # the run's own marshal folder
