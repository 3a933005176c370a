"""manifests/: every YAML parses, kustomizations reference what exists, and the RBAC is least privilege.

``build`` is a small kustomize (resources, namespace, JSON6902 ``add``/``replace`` patches): enough
for these manifests, so the checks run without kubectl. Each check is also fed a bad manifest to
show it can fail.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kale_argo.choices import DEFAULT_EXECUTOR_SERVICE_ACCOUNT

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
KUSTOMIZATION = "kustomization.yaml"
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "StorageClass", "VolumeSnapshotClass", "Namespace",
                  "PersistentVolume", "CustomResourceDefinition"}
# The most any kale-argo identity may hold: (apiGroup, resource) -> verbs. Anything beyond is a finding.
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("argoproj.io", "workflows"): {"create", "get", "list", "watch", "patch", "update", "delete"},
    ("argoproj.io", "workflowtaskresults"): {"create", "patch"},
    # schedules: created, listed, read before delete, suspended/resumed (patch, or update through the
    # Argo Server), deleted; templates: created or read and replaced (update), listed, deleted
    ("argoproj.io", "cronworkflows"): {"create", "get", "list", "patch", "update", "delete"},
    ("argoproj.io", "workflowtemplates"): {"create", "get", "list", "update", "delete"},
    ("", "pods"): {"get", "list", "watch", "delete"},  # retry deletes the failed steps' pods
    ("", "pods/log"): {"get"},
    ("", "persistentvolumeclaims"): {"get", "list"},
    ("", "persistentvolumes"): {"get"},
    ("", "events"): {"get", "list"},
    ("snapshot.storage.k8s.io", "volumesnapshots"): {"create", "get", "list", "watch", "patch", "delete"},
    ("snapshot.storage.k8s.io", "volumesnapshotclasses"): {"get", "list"},
    ("storage.k8s.io", "storageclasses"): {"get", "list"},
    ("authorization.k8s.io", "selfsubjectaccessreviews"): {"create"},
    ("", "secrets"): {"create", "patch", "delete"},  # the per-run marshal key: written, never read
    # the per-run code ConfigMap: created before the Workflow, adopted by it, deleted on failure
    ("", "configmaps"): {"create", "patch", "delete"},
}
SECRET_READS = {"get", "list", "watch"}
# Argo Server's own account in client auth mode (manifests/overlays/kfp-argo-ui): what v4.0 reads
# before serving (its config ConfigMap, the Workflow list it caches, the WorkflowTemplate informer);
# visitors act with their own tokens. Roles named here are held to this set instead of ALLOWED.
UI_SERVER_ALLOWED: dict[tuple[str, str], set[str]] = {
    ("", "configmaps"): {"get", "list", "watch"},
    ("argoproj.io", "workflows"): {"get", "list", "watch"},
    ("argoproj.io", "workflowtemplates"): {"get", "list", "watch"},
}
ALLOWED_BY_ROLE = {"argo-ui": UI_SERVER_ALLOWED}
BUILTIN_POWERFUL = {"cluster-admin", "admin", "edit"}
DANGEROUS_VERBS = {"escalate", "bind", "impersonate"}


def yaml_files() -> list[Path]:
    return sorted(p for p in MANIFESTS.rglob("*") if p.suffix in (".yaml", ".yml"))


def kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in MANIFESTS.rglob(KUSTOMIZATION))


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def reference_problems(directory: Path) -> list[str]:
    """Entries of ``directory``'s kustomization that point at nothing usable."""
    k = load_docs(directory / KUSTOMIZATION)[0]
    problems = []
    for entry in k.get("resources", []):
        target = directory / entry
        if target.is_dir() and not (target / KUSTOMIZATION).is_file():
            problems.append(f"{directory.name}: resource {entry} is a directory without {KUSTOMIZATION}")
        elif not target.exists():
            problems.append(f"{directory.name}: resource {entry} does not exist")
    for patch in k.get("patches", []):
        if "path" in patch and not (directory / patch["path"]).is_file():
            problems.append(f"{directory.name}: patch {patch['path']} does not exist")
        if "path" not in patch and "patch" not in patch:
            problems.append(f"{directory.name}: a patch has neither path nor patch")
    unknown = set(k) - {"apiVersion", "kind", "resources", "namespace", "patches", "labels",
                        "commonLabels", "nameSuffix", "namePrefix"}
    if unknown:
        problems.append(f"{directory.name}: fields this check does not understand: {sorted(unknown)}")
    return problems


def build(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize directory`` would produce (for the features used here)."""
    k = load_docs(directory / KUSTOMIZATION)[0]
    objects: list[dict[str, Any]] = []
    for entry in k.get("resources", []):
        target = directory / entry
        objects += build(target) if target.is_dir() else copy.deepcopy(load_docs(target))
    namespace = k.get("namespace")
    if namespace:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = namespace
            for subject in obj.get("subjects", []):  # kustomize's default: only subjects named default
                if subject.get("kind") == "ServiceAccount" and subject.get("name") == "default":
                    subject["namespace"] = namespace
    for patch in k.get("patches", []):
        ops = yaml.safe_load(patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text())
        target = patch.get("target", {})
        for obj in objects:
            if all(obj.get("kind") == v if f == "kind" else obj["metadata"].get(f) == v
                   for f, v in target.items()):
                for op in ops:
                    _json_patch(obj, op)
    return objects


def _json_patch(obj: dict[str, Any], op: dict[str, Any]) -> None:
    assert op["op"] in ("add", "replace"), f"unsupported patch op {op['op']}"
    *parents, last = [p for p in op["path"].split("/") if p]
    node: Any = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list) and last == "-":
        node.append(op["value"])
    elif isinstance(node, list) and op["op"] == "add":
        node.insert(int(last), op["value"])
    elif isinstance(node, list):
        node[int(last)] = op["value"]
    else:
        node[last] = op["value"]


def rbac_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Every way these objects grant more than kale-argo needs, or bind what does not exist."""
    problems: list[str] = []
    roles = {(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] in ("Role", "ClusterRole")}
    accounts = {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"} | {"default"}
    for obj in objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        where = f"{kind} {name}"
        if kind in ("Role", "ClusterRole"):
            if obj.get("aggregationRule"):
                problems.append(f"{where}: aggregationRule pulls in unknown rules")
            for rule in obj.get("rules", []):
                problems += _rule_problems(where, rule, ALLOWED_BY_ROLE.get(name, ALLOWED))
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            ref = obj["roleRef"]
            if ref["name"] in BUILTIN_POWERFUL or ref["name"].startswith("system:"):
                problems.append(f"{where}: binds the built-in role {ref['name']}")
            elif (ref["kind"], ref["name"]) not in roles:
                problems.append(f"{where}: binds {ref['kind']} {ref['name']}, which these manifests lack")
            if kind == "ClusterRoleBinding" and ref["kind"] == "Role":
                problems.append(f"{where}: a ClusterRoleBinding cannot bind a Role")
            for subject in obj.get("subjects", []):
                if subject.get("kind") != "ServiceAccount":
                    problems.append(f"{where}: binds {subject.get('kind')} {subject.get('name')}, "
                                    "not one of kale-argo's service accounts")
                elif subject["name"] not in accounts:
                    problems.append(f"{where}: binds unknown service account {subject['name']}")
                elif kind == "ClusterRoleBinding" and not subject.get("namespace"):
                    problems.append(f"{where}: service account {subject['name']} has no namespace")
    return problems


def _rule_problems(where: str, rule: dict[str, Any],
                   allowed: dict[tuple[str, str], set[str]] = ALLOWED) -> list[str]:
    problems = []
    if rule.get("nonResourceURLs"):
        problems.append(f"{where}: grants nonResourceURLs")
    verbs, groups, resources = (set(rule.get(k, [])) for k in ("verbs", "apiGroups", "resources"))
    if "*" in verbs | groups | resources or any("*" in r for r in resources):
        problems.append(f"{where}: uses a wildcard")
    if "secrets" in resources and verbs & (SECRET_READS | {"*"}):
        problems.append(f"{where}: grants reading secrets")
    if verbs & DANGEROUS_VERBS:
        problems.append(f"{where}: grants {sorted(verbs & DANGEROUS_VERBS)}")
    for group in groups - {"*"}:
        for resource in resources - {"*"}:
            extra = verbs - allowed.get((group, resource), set())
            if extra:
                problems.append(f"{where}: {sorted(extra)} on {group or 'core'}/{resource} "
                                "is more than needed")
    return problems


EXECUTOR_ROLE = "kale-argo-executor"
STEP_ACCOUNT = "kale-argo-step"


def executor_problems(objects: list[dict[str, Any]],
                      account: str = DEFAULT_EXECUTOR_SERVICE_ACCOUNT) -> list[str]:
    """What keeps Argo's executor from running as ``account`` (the compiler's default), or gives the
    steps' own account rights: the account, the token Secret Argo mounts (``<account>.service-account-
    token``, discovered by name), and the executor role bound to that account alone."""
    problems: list[str] = []
    by_kind = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    if ("ServiceAccount", account) not in by_kind:
        problems.append(f"no ServiceAccount {account}")
    token = by_kind.get(("Secret", f"{account}.service-account-token"))
    if token is None:
        problems.append(f"no Secret {account}.service-account-token for Argo to mount")
    elif (token.get("type") != "kubernetes.io/service-account-token" or account !=
          (token["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name")):
        problems.append(f"Secret {account}.service-account-token is not {account}'s token")
    for obj in objects:
        if obj["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        names = {s.get("name") for s in obj.get("subjects", [])}
        if obj["roleRef"]["name"] == EXECUTOR_ROLE and names != {account}:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: the executor role is bound to "
                            f"{sorted(names)}, not only {account}")
        if STEP_ACCOUNT in names:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: gives {STEP_ACCOUNT} rights")
    if not any(o["kind"] == "RoleBinding" and o["roleRef"]["name"] == EXECUTOR_ROLE for o in objects):
        problems.append("the executor role is bound to no one")
    return problems


# --- the real manifests -------------------------------------------------------------------------

def test_there_are_manifests() -> None:
    assert (MANIFESTS / "base" / KUSTOMIZATION).is_file()
    assert (MANIFESTS / "overlays" / "e2e" / KUSTOMIZATION).is_file()


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_every_yaml_parses_into_named_objects(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path} is empty"
    for doc in docs:
        assert isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"), path
        if path.name != KUSTOMIZATION:
            assert doc.get("metadata", {}).get("name"), f"{path}: an object without metadata.name"


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_kustomization_references_exist(directory: Path) -> None:
    assert reference_problems(directory) == []


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_rbac_is_least_privilege(directory: Path) -> None:
    objects = build(directory)
    problems = rbac_problems(objects)
    if directory == MANIFESTS / "base":  # the base leaves the ClusterRoleBinding's namespace to overlays
        problems = [p for p in problems if "has no namespace" not in p]
    assert problems == []


def test_runner_and_step_hold_what_kale_argo_uses() -> None:
    objects = build(MANIFESTS / "overlays" / "e2e")
    granted: dict[str, set[tuple[str, str, str]]] = {}
    for o in objects:
        if o["kind"] in ("Role", "ClusterRole"):
            for rule in o["rules"]:
                granted.setdefault(o["metadata"]["name"], set()).update(
                    (g, r, v) for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"])
    runner = granted["kale-argo-runner"]
    for need in [("argoproj.io", "workflows", "create"), ("argoproj.io", "workflows", "watch"),
                 ("", "pods/log", "get"), ("", "pods", "delete"), ("argoproj.io", "workflows", "update"),
                 ("snapshot.storage.k8s.io", "volumesnapshots", "create"),
                 ("snapshot.storage.k8s.io", "volumesnapshotclasses", "list"),
                 ("authorization.k8s.io", "selfsubjectaccessreviews", "create")]:
        assert need in runner, need
    assert granted["kale-argo-executor"] == {("argoproj.io", "workflowtaskresults", "create"),
                                             ("argoproj.io", "workflowtaskresults", "patch")}


@pytest.mark.parametrize("directory", [MANIFESTS / "base", MANIFESTS / "overlays" / "e2e"],
                         ids=["base", "e2e"])
def test_the_executor_runs_as_the_compilers_default_account(directory: Path) -> None:
    assert executor_problems(build(directory)) == []


def test_e2e_overlay_namespaces_and_storage() -> None:
    objects = build(MANIFESTS / "overlays" / "e2e")
    by_kind = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    for o in objects:
        if o["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in o["metadata"], f"{o['kind']} {o['metadata']['name']} got a namespace"
        else:
            assert o["metadata"]["namespace"] == "argo", o["metadata"]["name"]
    sc = by_kind[("StorageClass", "csi-hostpath-sc")]
    vsc = by_kind[("VolumeSnapshotClass", "csi-hostpath-snapclass")]
    assert sc["provisioner"] == vsc["driver"] == "hostpath.csi.k8s.io"
    crb = by_kind[("ClusterRoleBinding", "kale-argo-runner")]
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "kale-argo-runner", "namespace": "argo"}]


# --- the checks can fail ------------------------------------------------------------------------

def _role(kind: str = "Role", **rule: Any) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": "r"}, "rules": [rule]}


def _binding(kind: str, ref_kind: str, ref: str, subject: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": "b"}, "roleRef": {"kind": ref_kind, "name": ref},
            "subjects": [subject]}


SA = {"kind": "ServiceAccount", "name": "kale-argo-runner"}


@pytest.mark.parametrize(("objects", "finding"), [
    ([_role(apiGroups=["argoproj.io"], resources=["workflows"], verbs=["*"])], "wildcard"),
    ([_role(apiGroups=["*"], resources=["pods"], verbs=["get"])], "wildcard"),
    ([_role(apiGroups=[""], resources=["secrets"], verbs=["get"])], "reading secrets"),
    ([_role(apiGroups=[""], resources=["secrets"], verbs=["create", "list"])], "reading secrets"),
    ([_role(apiGroups=[""], resources=["pods"], verbs=["get", "create"])], "['create'] on core/pods"),
    ([_role(apiGroups=[""], resources=["pods/exec"], verbs=["create"])], "on core/pods/exec"),
    ([_role(apiGroups=["rbac.authorization.k8s.io"], resources=["roles"], verbs=["bind"])], "bind"),
    ([_role("ClusterRole", nonResourceURLs=["/metrics"], verbs=["get"])], "nonResourceURLs"),
    ([_binding("ClusterRoleBinding", "ClusterRole", "cluster-admin", SA)], "built-in role cluster-admin"),
    ([_binding("RoleBinding", "ClusterRole", "edit", SA)], "built-in role edit"),
    ([_binding("RoleBinding", "Role", "missing", SA)], "lack"),
    ([_role(apiGroups=[""], resources=["pods"], verbs=["get"]),
      _binding("RoleBinding", "Role", "r", {"kind": "User", "name": "alice"})], "User alice"),
    ([_role("ClusterRole", apiGroups=[""], resources=["pods"], verbs=["get"]),
      {"kind": "ServiceAccount", "metadata": {"name": "kale-argo-runner"}},
      _binding("ClusterRoleBinding", "ClusterRole", "r", SA)], "has no namespace"),
])
def test_rbac_check_flags_excess(objects: list[dict[str, Any]], finding: str) -> None:
    assert any(finding in p for p in rbac_problems(objects)), rbac_problems(objects)


def _good_executor() -> list[dict[str, Any]]:
    return copy.deepcopy(load_docs(MANIFESTS / "base" / "executor-serviceaccount.yaml")
                         + load_docs(MANIFESTS / "base" / "executor-rolebinding.yaml"))


def _drop(kind: str) -> Any:
    return lambda objs: objs.remove(next(o for o in objs if o["kind"] == kind))


@pytest.mark.parametrize(("mutate", "finding"), [
    (_drop("ServiceAccount"), "no ServiceAccount"),
    (_drop("Secret"), "no Secret"),
    (lambda objs: next(o for o in objs if o["kind"] == "Secret")["metadata"].update(annotations={}),
     "is not kale-argo-executor's token"),
    (lambda objs: next(o for o in objs if o["kind"] == "RoleBinding")["subjects"].append(
        {"kind": "ServiceAccount", "name": "default"}), "not only kale-argo-executor"),
    (lambda objs: next(o for o in objs if o["kind"] == "RoleBinding")["subjects"].__setitem__(
        0, {"kind": "ServiceAccount", "name": STEP_ACCOUNT}), "gives kale-argo-step rights"),
    (_drop("RoleBinding"), "bound to no one"),
])
def test_executor_check_flags_what_breaks_the_executor(mutate: Any, finding: str) -> None:
    objects = _good_executor()
    assert executor_problems(objects) == []
    mutate(objects)
    assert any(finding in p for p in executor_problems(objects)), executor_problems(objects)


def test_reference_check_flags_missing_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / KUSTOMIZATION).write_text(yaml.safe_dump({
        "resources": ["absent.yaml", "sub"], "patches": [{"path": "gone.yaml"}], "replicas": []}))
    problems = " ".join(reference_problems(tmp_path))
    assert "absent.yaml does not exist" in problems and "without kustomization.yaml" in problems
    assert "gone.yaml does not exist" in problems and "replicas" in problems


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl (kustomize) on PATH")
@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda p: str(p.relative_to(MANIFESTS)))
def test_real_kustomize_agrees(directory: Path) -> None:
    out = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    real = [d for d in yaml.safe_load_all(out.stdout) if d]

    def identity(o: dict[str, Any]) -> tuple[str, str, str | None, str]:
        return o["kind"], o["metadata"]["name"], o["metadata"].get("namespace"), repr(o.get("rules"))

    assert sorted(map(identity, real)) == sorted(map(identity, build(directory)))
    problems = rbac_problems(real)
    if directory == MANIFESTS / "base":
        problems = [p for p in problems if "has no namespace" not in p]
    assert problems == []


# --- the Argo UI overlay for Kubeflow Pipelines clusters ----------------------------------------

UI_OVERLAY = MANIFESTS / "overlays" / "kfp-argo-ui"
KFP_NAMESPACE = "kubeflow"
ARGO_CLI_IMAGE = "quay.io/argoproj/argocli"


def _argo_pin() -> str:
    """The Argo version e2e/versions.py pins (the one place naming every pinned version)."""
    import importlib.util

    path = MANIFESTS.parent / "e2e" / "versions.py"
    spec = importlib.util.spec_from_file_location("kale_e2e_versions", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.KFP_ARGO_VERSION)


def ui_overlay_problems(objects: list[dict[str, Any]], argo_version: str) -> list[str]:
    """How the UI overlay departs from: Argo Server in KFP's namespace, namespaced, client auth,
    the pinned Argo version, a restricted pod, a Service that reaches it, no cluster-wide RBAC."""
    problems = rbac_problems(objects)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: the UI needs no cluster-wide RBAC")
        elif obj["metadata"].get("namespace") != KFP_NAMESPACE:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: not in namespace {KFP_NAMESPACE}")
    (deployment,) = by_kind.get("Deployment", [{}])
    pod = deployment.get("spec", {}).get("template", {})
    spec = pod.get("spec", {})
    (container,) = spec.get("containers", [{}])
    args = container.get("args", [])
    if container.get("image") != f"{ARGO_CLI_IMAGE}:{argo_version}":
        problems.append(f"image {container.get('image')} is not {ARGO_CLI_IMAGE}:{argo_version}")
    if args[:1] != ["server"] or "--namespaced" not in args:
        problems.append(f"args {args}: not a --namespaced argo server")
    modes = [a.split("=", 1)[1] for a in args if a.startswith("--auth-mode=")]
    if modes != ["client"]:
        problems.append(f"auth modes {modes}: the overlay serves client auth mode only")
    accounts = {o["metadata"]["name"] for o in by_kind.get("ServiceAccount", [])}
    if spec.get("serviceAccountName") not in accounts:
        problems.append(f"the server runs as {spec.get('serviceAccountName')}, not the overlay's account")
    pod_sc, sc = spec.get("securityContext", {}), container.get("securityContext", {})
    if not (pod_sc.get("runAsNonRoot") and pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault"
            and sc.get("allowPrivilegeEscalation") is False
            and sc.get("capabilities", {}).get("drop") == ["ALL"]):
        problems.append("the pod is not restricted (runAsNonRoot, RuntimeDefault seccomp, no escalation, "
                        "all capabilities dropped)")
    labels = pod.get("metadata", {}).get("labels", {})
    ports = {p["name"] for p in container.get("ports", [])}
    for service in by_kind.get("Service", []):
        selector = service["spec"].get("selector", {})
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            problems.append(f"Service {service['metadata']['name']} selects no server pod")
        for port in service["spec"]["ports"]:
            if port.get("targetPort") not in ports | {p["containerPort"] for p in container.get("ports", [])}:
                problems.append(f"Service {service['metadata']['name']}: targetPort {port.get('targetPort')}")
    if not by_kind.get("Service"):
        problems.append("no Service reaches the server")
    return problems


def test_ui_overlay_is_a_namespaced_client_auth_argo_server() -> None:
    assert ui_overlay_problems(build(UI_OVERLAY), _argo_pin()) == []


def test_ui_overlay_server_account_only_reads() -> None:
    roles = [o for o in build(UI_OVERLAY) if o["kind"] == "Role"]
    verbs = {v for r in roles for rule in r["rules"] for v in rule["verbs"]}
    assert verbs == {"get", "list", "watch"}


def _edited(edit: Any) -> list[dict[str, Any]]:
    objects = build(UI_OVERLAY)
    edit({(o["kind"], o["metadata"]["name"]): o for o in objects})
    return objects


def _container(o: dict[Any, Any]) -> dict[str, Any]:
    container: dict[str, Any] = o[("Deployment", "argo-ui")]["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.mark.parametrize(("edit", "finding"), [
    (lambda o: _container(o)["args"].append("--auth-mode=server"), "auth modes ['client', 'server']"),
    (lambda o: _container(o)["args"].remove("--namespaced"), "not a --namespaced"),
    (lambda o: _container(o).update(image=f"{ARGO_CLI_IMAGE}:v3.6.2"), "is not quay.io/argoproj/argocli:"),
    (lambda o: _container(o)["securityContext"].update(allowPrivilegeEscalation=True), "not restricted"),
    (lambda o: o[("Service", "argo-ui")]["spec"].update(selector={"app": "argo-server"}),
     "selects no server"),
    (lambda o: o[("Role", "argo-ui")]["rules"][1]["verbs"].append("delete"), "['delete'] on argoproj.io"),
    (lambda o: o[("Role", "argo-ui")]["rules"].append(
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}), "secrets"),
    (lambda o: o[("ServiceAccount", "argo-ui")]["metadata"].update(namespace="argo"), "not in namespace"),
])
def test_ui_overlay_check_flags_departures(edit: Any, finding: str) -> None:
    problems = ui_overlay_problems(_edited(edit), _argo_pin())
    assert any(finding in p for p in problems), problems
