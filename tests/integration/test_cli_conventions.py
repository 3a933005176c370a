"""The run commands as argo/kubectl users script them, against the fakes over HTTP: results alone
on stdout, the Workflow as ``-o json``, selectors, global flags anywhere, ARGO_INSTANCEID, logs
of every step followed at once, retries reported, and messages that name the fix."""

from __future__ import annotations

import datetime
import json
import re
import threading
from pathlib import Path

import pytest

from kale_argo.app.manage import follow_logs
from kale_argo.cli.main import main
from tests.fakes.argo_server import FakeArgoServer
from tests.fakes.argo_status import pod_for
from tests.fakes.drivers import Driver, driver_fixture  # noqa: F401
from tests.fakes.pipelines import demo_script

ARGO_ENV = ("ARGO_SERVER", "ARGO_TOKEN", "ARGO_NAMESPACE", "ARGO_SECURE", "ARGO_INSECURE_SKIP_VERIFY",
            "ARGO_BASE_HREF", "ARGO_INSTANCEID", "KUBECONFIG", "REQUESTS_CA_BUNDLE", "NO_COLOR")
INSTANCE_LABEL = "workflows.argoproj.io/controller-instanceid"

UNDERSCORES = '''
from kale_argo import pipeline, step

@step
def load_data(n):
    return list(range(n))

@step
def train_model(data):
    return sum(data)

@pipeline(name="under-pipe")
def under(n=3):
    train_model(load_data(n))
'''


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ARGO_ENV:
        monkeypatch.delenv(name, raising=False)


def flags(driver: Driver) -> list[str]:
    if driver.kind == "kubernetes":
        return ["--backend", "kubernetes", "--kubeconfig", driver.fake.kubeconfig]
    return ["--argo-server", driver.fake.url, "--token", driver.fake.token]


def test_scripts_as_argo_users_write_them(driver: Driver, tmp_path, capsys) -> None:
    script = demo_script(tmp_path)
    ns = ["-n", driver.namespace]
    # NAME=$(kale-argo submit -o name ...): only the name on stdout; -n before the subcommand
    assert main([*ns, "submit", script, "--workspace", "none", "-o", "name", *flags(driver)]) == 0
    captured = capsys.readouterr()
    name = captured.out.strip()
    assert captured.out == f"{name}\n" and name in {w["metadata"]["name"] for w in driver.stored()}
    driver.advance(name, "Failed", {"load": "Succeeded", "train": "Failed"})
    # kale-argo get "$NAME" -o json | jq -r .status.phase; -n after the subcommand, --debug anywhere
    assert main(["get", name, "-o", "json", *flags(driver), *ns, "--debug"]) == 0
    assert json.loads(capsys.readouterr().out)["status"]["phase"] == "Failed"
    assert main(["status", name, "-o", "yaml", *ns, *flags(driver)]) == 0
    assert "phase: Failed" in capsys.readouterr().out
    assert main(["get", name, "-o", "name", *ns, *flags(driver)]) == 0
    assert capsys.readouterr().out == f"{name}\n"
    # list -l SELECTOR -o name, --completed / --running, --since
    selector = "kale-argo.io/pipeline=demo-pipe"
    assert main(["list", "-l", selector, "-o", "name", *ns, *flags(driver)]) == 0
    assert capsys.readouterr().out == f"{name}\n"
    assert main(["list", "-l", "kale-argo.io/pipeline=other", "-o", "name", *ns, *flags(driver)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["list", "--running", "-o", "name", *ns, *flags(driver)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["list", "--completed", "--since", "1h", "-o", "name", *ns, *flags(driver)]) == 0
    assert capsys.readouterr().out == f"{name}\n"
    assert main(["list", "-o", "wide", *ns, *flags(driver)]) == 0
    out = capsys.readouterr().out
    assert "NAMESPACE" in out.splitlines()[0] and "1/2" in out and "n=4" in out
    # a Succeeded run: retry is refused, resubmit makes a new run
    driver.advance(name, "Succeeded", {"load": "Succeeded", "train": "Succeeded"})
    assert main(["retry", name, *ns, *flags(driver)]) == 2
    err = capsys.readouterr().err
    assert f"run '{name}' Succeeded: there is nothing to retry" in err and "kale-argo resubmit" in err
    assert main(["resubmit", name, "-o", "name", *ns, *flags(driver)]) == 0
    again = capsys.readouterr().out.strip()
    assert again != name and again.startswith("demo-pipe-")
    [copy] = [w for w in driver.stored() if w["metadata"]["name"] == again]
    assert copy["metadata"]["labels"]["workflows.argoproj.io/resubmitted-from-workflow"] == name
    # errors about one run say "run", not "workflows"
    assert main(["get", "no-such-run", *ns, *flags(driver)]) == 2
    assert "run 'no-such-run'" in capsys.readouterr().err


def test_list_all_namespaces_shows_runs_of_every_namespace(driver: Driver, tmp_path, capsys) -> None:
    script = demo_script(tmp_path)
    names = {}
    for namespace in (driver.namespace, "kubeflow"):
        assert main(["submit", script, "--workspace", "none", "-o", "name", "-n", namespace,
                     *flags(driver)]) == 0
        names[namespace] = capsys.readouterr().out.strip()
    assert main(["list", "-o", "name", "-n", driver.namespace, *flags(driver)]) == 0
    assert capsys.readouterr().out == f"{names[driver.namespace]}\n"
    assert main(["list", "-A", "-o", "name", *flags(driver)]) == 0
    assert sorted(capsys.readouterr().out.split()) == sorted(names.values())
    assert main(["list", "-A", "-l", "kale-argo.io/pipeline=other", "-o", "name", *flags(driver)]) == 0
    assert capsys.readouterr().out == ""
    assert main(["list", "--all-namespaces", "-o", "wide", *flags(driver)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert "NAMESPACE" in rows[0] and any("kubeflow" in row for row in rows[1:])


def test_argo_instanceid_labels_created_runs_and_selects_listed_ones(driver: Driver, tmp_path, capsys,
                                                                     monkeypatch) -> None:
    script = demo_script(tmp_path)
    ns = ["-n", driver.namespace]
    assert main(["submit", script, "--workspace", "none", "-o", "name", *ns, *flags(driver)]) == 0
    plain = capsys.readouterr().out.strip()
    monkeypatch.setenv("ARGO_INSTANCEID", "team-a")
    assert main(["submit", script, "--workspace", "none", "-o", "name", *ns, *flags(driver)]) == 0
    mine = capsys.readouterr().out.strip()
    labels = {w["metadata"]["name"]: w["metadata"].get("labels") or {} for w in driver.stored()}
    assert labels[mine][INSTANCE_LABEL] == "team-a" and INSTANCE_LABEL not in labels[plain]
    assert main(["list", "-o", "name", *ns, *flags(driver)]) == 0
    assert capsys.readouterr().out == f"{mine}\n"
    monkeypatch.delenv("ARGO_INSTANCEID")
    assert main(["list", "-o", "name", *ns, *flags(driver)]) == 0
    assert capsys.readouterr().out == f"{plain}\n"


def test_step_names_as_written_with_the_argo_task_name_in_wide(driver: Driver, tmp_path, capsys) -> None:
    script = tmp_path / "under.py"
    script.write_text(UNDERSCORES)
    ns = ["-n", driver.namespace]
    assert main(["submit", str(script), "--workspace", "none", "-o", "name", *ns, *flags(driver)]) == 0
    name = capsys.readouterr().out.strip()
    driver.advance(name, "Running", {"load-data": "Succeeded"}, logs={"load-data": "loaded\n"})
    assert main(["get", name, *ns, *flags(driver)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    steps = [row[:2] for row in rows if row and row[0] in ("load_data", "train_model")]
    assert steps == [["load_data", "Succeeded"], ["train_model", "Pending"]]  # pipeline order
    assert main(["get", name, "-o", "wide", *ns, *flags(driver)]) == 0
    assert "load-data" in capsys.readouterr().out
    assert main(["logs", name, *ns, *flags(driver)]) == 0
    assert capsys.readouterr().out == "[load_data] loaded\n"
    assert main(["logs", name, "--step", "load_data", "--grep", "^x", *ns, *flags(driver)]) == 0
    assert capsys.readouterr().out == ""


def test_logs_follow_every_step_including_those_that_start_later(driver: Driver, tmp_path, capsys) -> None:
    assert main(["submit", demo_script(tmp_path), "--workspace", "none", "-o", "name", "-n", driver.namespace,
                 *flags(driver)]) == 0
    name = capsys.readouterr().out.strip()
    driver.advance(name, "Running", {"load": "Running"}, logs={"load": "load says hi\n"})
    lines = follow_logs(driver.backend, name)
    got: list[tuple[str, str]] = []
    first = threading.Event()

    def read() -> None:
        for line in lines:
            got.append((line.step, line.text))
            first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert first.wait(20), "no line of the first step"
    driver.advance(name, "Running", {"load": "Succeeded", "train": "Running"},
                   logs={"load": "load says hi\n", "train": "train started later\n"})
    driver.advance(name, "Succeeded", {"load": "Succeeded", "train": "Succeeded"},
                   logs={"load": "load says hi\n", "train": "train started later\n"})
    reader.join(30)
    assert not reader.is_alive(), "logs -f did not end with the run"
    assert ("load", "load says hi") in got and ("train", "train started later") in got


def test_logs_since_and_timestamps_are_asked_of_the_server(tmp_path, capsys) -> None:
    fake = FakeArgoServer(tmp_path)
    try:
        connection = ["-n", "argo", "--argo-server", fake.url, "--token", fake.token]
        assert main(["submit", demo_script(tmp_path), "--workspace", "none", "-o", "name", *connection]) == 0
        name = capsys.readouterr().out.strip()
        fake.advance(name, "Succeeded", {"load": "Succeeded", "train": "Succeeded"},
                     logs={"load": "loaded\n", "train": "trained\n"})
        assert main(["logs", name, "--timestamps", *connection]) == 0
        stamped = r"\[{}\] \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{9}}Z {}"
        lines = capsys.readouterr().out.splitlines()
        wanted = [("load", "loaded"), ("train", "trained")]
        assert all(re.fullmatch(stamped.format(*p), line) for p, line in zip(wanted, lines, strict=True))
        load_pod = ("argo", pod_for(fake.workflow(name), "load"))
        fake.state.logged_at[load_pod] -= datetime.timedelta(hours=1)  # load logged an hour ago
        assert main(["logs", name, "--since", "10m", *connection]) == 0
        assert capsys.readouterr().out == "[train] trained\n"
        assert main(["logs", name, "--since", "2h", *connection]) == 0
        assert capsys.readouterr().out == "[load] loaded\n[train] trained\n"
    finally:
        fake.close()


def test_retries_are_reported_on_stderr(tmp_path, capsys) -> None:
    fake = FakeArgoServer(tmp_path)
    try:
        fake.fail("^GET /api/v1/workflows/argo$", 503, times=2)
        argo = ["--argo-server", fake.url, "--token", fake.token, "-n", "argo"]
        assert main(["list", "-o", "name", *argo]) == 0
        captured = capsys.readouterr()
        retries = captured.err.strip().splitlines()
        assert len(retries) == 2 and captured.out == "", captured.err
        assert retries[0].startswith("kale-argo: retrying in ") and "(attempt 2/5)" in retries[0]
        assert "answered 503" in retries[0] and "(attempt 3/5)" in retries[1]
        fake.fail("^GET /api/v1/workflows/argo$", 503, times=2)
        assert main(["list", "-q", "--argo-server", fake.url, "--token", fake.token, "-n", "argo"]) == 0
        assert capsys.readouterr().err == ""  # -q: results and errors only
    finally:
        fake.close()


def test_messages_name_the_fix(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    for name in ("KUBERNETES_SERVICE_HOST", "NB_PREFIX", "KALE_ARGO_NAMESPACE_FILE"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeArgoServer(tmp_path)  # plain HTTP
    script = demo_script(tmp_path)
    try:
        monkeypatch.setenv("ARGO_SERVER", fake.address)  # https by default: the wrong protocol
        assert main(["list", "-n", "argo", "--token", fake.token]) == 2
        err = capsys.readouterr().err
        assert "does not speak HTTPS" in err and "ARGO_SECURE=false" in err and "http://" in err
        assert "--insecure-skip-verify" not in err
        # a malformed --volume is a format error, before any connection
        before = len(fake.requests())
        assert main(["submit", script, "--volume", "data-pvc", "-n", "argo", "--token", fake.token]) == 2
        err = capsys.readouterr().err
        assert "--volume data-pvc" in err and "kubeconfig" not in err and len(fake.requests()) == before
        # ARGO_NAMESPACE is checked like --namespace
        monkeypatch.setenv("ARGO_SECURE", "false")
        monkeypatch.setenv("ARGO_NAMESPACE", "Bad_NS")
        assert main(["list", "--token", fake.token]) == 2
        err = capsys.readouterr().err
        assert "ARGO_NAMESPACE: namespace 'Bad_NS' is not a valid Kubernetes namespace" in err
        monkeypatch.delenv("ARGO_NAMESPACE")
        # the workspace needs the Kubernetes API even with ARGO_SERVER, and says why
        volume = ["--volume", "data-pvc:/data"]
        assert main(["submit", script, *volume, "-n", "argo", "--token", fake.token]) == 2
        err = capsys.readouterr().err
        assert "needs the Kubernetes API even with an Argo Server" in err and "--workspace none" in err
        # no ARGO_SERVER and no kubeconfig: both ways are named
        monkeypatch.delenv("ARGO_SERVER")
        assert main(["list"]) == 2
        err = capsys.readouterr().err
        assert "KUBECONFIG" in err and "ARGO_SERVER" in err
    finally:
        fake.close()


def test_plain_http_to_a_tls_server_and_a_failed_verification_name_their_fixes(tmp_path, capsys) -> None:
    fake = FakeArgoServer(tmp_path, tls=True)
    try:
        plain = f"http://{fake.address}"
        assert main(["list", "-n", "argo", "--argo-server", plain, "--token", fake.token]) == 2
        err = capsys.readouterr().err.splitlines()[-1]
        assert "dropped a plain-HTTP connection" in err and "https://" in err and "ARGO_SECURE" in err
        assert main(["list", "-n", "argo", "--argo-server", fake.address, "--token", fake.token]) == 2
        err = capsys.readouterr().err.strip()
        assert "TLS verification failed" in err and "--insecure-skip-verify" in err
        assert err.count("(") == err.count(")"), err
    finally:
        fake.close()


def test_help_teaches_and_completion_scripts(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    for word in ("--kfp", "--dry-run", "ARGO_SERVER", "ARGO_SECURE", "ARGO_INSTANCEID", "NO_COLOR",
                 "KALE_ARGO_UI_URL", "KALE_ARGO_WARM_START"):
        assert word in top, word
    commands = ["run", "compile", "graph", "submit", "get", "status", "watch", "wait", "logs", "list", "stop",
                "terminate", "retry", "resubmit", "delete", "workspace", "completion", "migrate"]
    for command in commands:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "kale-argo " in text.split("examples:\n", 1)[1], command
        assert "\n\n" in text.split("usage:", 1)[1], command  # a description after the usage
        for flag in ("-n NS", "--debug", "-q", "-v"):
            assert flag in text, (command, flag)
    for shell in ("bash", "zsh", "fish"):
        assert main(["completion", shell]) == 0
        script = capsys.readouterr().out
        assert "kale-argo" in script and "resubmit" in script and "all-namespaces" in script


def test_completion_bash_is_valid_shell(capsys, tmp_path: Path) -> None:
    import shutil
    import subprocess

    assert main(["completion", "bash"]) == 0
    path = tmp_path / "c.bash"
    path.write_text(capsys.readouterr().out)
    if shutil.which("bash"):
        proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_graph_of_a_submitted_run_and_of_a_local_run_folder(driver: Driver, tmp_path, capsys) -> None:
    from kale_argo.runtime.record import write_record
    from tests.fakes.pipelines import demo_spec

    ns = ["-n", driver.namespace]
    script = demo_script(tmp_path)
    assert main(["submit", script, "--workspace", "none", "-o", "name", *ns, *flags(driver)]) == 0
    name = capsys.readouterr().out.strip()
    driver.advance(name, "Failed", {"load": "Succeeded", "train": "Failed"})
    assert main(["graph", name, "--format", "svg", *ns, *flags(driver)]) == 0
    svg = capsys.readouterr().out
    assert svg.startswith("<svg") and "load: Succeeded" in svg and "train: Failed" in svg
    folder = tmp_path / "local-run"
    (folder / ".kale").mkdir(parents=True)
    (folder / ".kale" / "pipeline.json").write_text(demo_spec(tmp_path).to_json())
    write_record(str(folder), "load", status="succeeded", started=0.0, finished=1.0, outputs={}, error=None)
    assert main(["graph", str(folder)]) == 0
    assert "load (Succeeded)" in capsys.readouterr().out
    assert main(["graph", str(folder), "--format", "dot"]) == 0
    assert "fillcolor" in capsys.readouterr().out
    assert main(["graph", str(tmp_path), "--format", "svg"]) == 2  # a folder that is no run
    assert "not a local run's folder" in capsys.readouterr().err
