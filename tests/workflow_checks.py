"""Checks every compiled Workflow must pass: Argo's JSON schema (strict) and Argo's submit-time rules.

``check_workflow(manifest)`` raises ``AssertionError`` naming the first problem found. The schema
part reads ``<repo>/../shared/argo/schema.json`` and skips the test (``pytest.skip``) when it is
absent. The rules follow Argo's ``workflow/validate/validate.go``: template and task names match
``[a-zA-Z0-9][-a-zA-Z0-9]*`` (at most 128 characters) and are unique, DAG task names do not begin
with a digit, the entrypoint and every task's template exist, dependencies exist and form no cycle,
``{{tasks.X...}}`` names an ancestor, ``{{workflow.parameters.X}}`` / ``{{inputs.parameters.X}}``
resolve, every volumeMount has a volume, and a container mounts each path once. Kubernetes' own
rules that the schema cannot express are checked too: label keys and values, volume names. The Workflow's name
is at most 63 characters (``maxCharsInObjectName``), so a ``generateName`` is at most 58 (Kubernetes
appends 5 random characters). With ``automountServiceAccountToken: false`` the executor needs its own
account (``executor.serviceAccountName``), as Argo's controller requires when it builds the pod.

``check_cron_workflow(manifest)`` and ``check_workflow_template(manifest)`` do the same for a
CronWorkflow (plus validate.go's ValidateCronWorkflow: schedules, concurrency policy, name length,
time zone) and a WorkflowTemplate, against their own schema definitions.

``check_pod_security(manifest)`` applies the Pod Security Standard "restricted" profile (Kubernetes'
``pod-security-admission`` policies, restricted level and the baseline it includes) to every step
pod the Workflow describes: each container (init containers and sidecars included) runs as non-root
(``runAsNonRoot`` true, ``runAsUser`` not 0, from the container or the pod), forbids privilege
escalation, drops ``ALL`` capabilities and adds none but ``NET_BIND_SERVICE``, has a seccomp profile
``RuntimeDefault`` or ``Localhost``, is not privileged and opens no host port; the pod shares no host
namespace (network, PID, IPC) and mounts only the volume types "restricted" allows (no hostPath).
``podSpecPatch`` is refused, since it could change any of that. The containers Argo adds to each pod
(its executor's ``init`` and ``wait``) are not in the Workflow; their securityContext is the
controller's ``executor.securityContext`` setting.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parents[1].parent / "shared" / "argo" / "schema.json"
WORKFLOW_DEF = "io.argoproj.workflow.v1alpha1.Workflow"

FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
FIELD_MAX = 128
PARAM_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
GENERATE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*)?$")
OBJECT_NAME_MAX = 63
RANDOM_SUFFIX = 5
VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DEPENDS_TOKEN = re.compile(r"[A-Za-z0-9][-A-Za-z0-9]*(?:\.[A-Za-z]+)?")
DEPENDS_RESULTS = {"Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned",
                   "AnySucceeded", "AllFailed"}

# Variables Argo provides everywhere in a Workflow (see Argo's docs/variables.md).
GLOBAL_VARIABLES = {
    "workflow.name", "workflow.namespace", "workflow.uid", "workflow.serviceAccountName",
    "workflow.mainEntrypoint", "workflow.priority", "workflow.duration", "workflow.parameters",
    "workflow.creationTimestamp", "workflow.scheduledTime", "node.name",
}
GLOBAL_PREFIXES = ("workflow.labels.", "workflow.annotations.", "workflow.creationTimestamp.")


class _Skip(Exception):
    """Raised (and turned into pytest.skip) when the schema file is absent."""


def _strict(node: Any) -> Any:
    """A copy of a schema where every object that declares ``properties`` forbids others."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in node and isinstance(node["properties"], dict):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


@functools.lru_cache(maxsize=4)
def _validator(definition: str = WORKFLOW_DEF) -> Any:
    """A Draft 2020-12 validator for one Argo kind, unknown fields rejected (built once)."""
    import jsonschema

    if not SCHEMA_PATH.is_file():
        raise _Skip(f"Argo schema not found at {SCHEMA_PATH} (only on developer machines and CI)")
    schema = json.loads(SCHEMA_PATH.read_text())
    definitions = _strict(schema["definitions"])
    root = {"$ref": f"#/definitions/{definition}", "definitions": definitions}
    return jsonschema.Draft202012Validator(root)


def check_schema(manifest: dict[str, Any], definition: str = WORKFLOW_DEF) -> None:
    """Validate against Argo's JSON schema (the ``definition`` of the manifest's kind) with unknown
    fields treated as errors."""
    try:
        validator = _validator(definition)
    except _Skip as exc:
        import pytest

        pytest.skip(str(exc))
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "<root>"
        raise AssertionError(f"schema: {where}: {err.message[:300]} ({len(errors)} error(s))")


def _fail(message: str) -> None:
    raise AssertionError(message)


def _check_field_names(items: list[dict[str, Any]], where: str) -> list[str]:
    names: list[str] = []
    for i, item in enumerate(items):
        name = item.get("name")
        if not name:
            _fail(f"{where}[{i}].name is required")
        if len(name) > FIELD_MAX:
            _fail(f"{where}[{i}].name {name!r} is longer than {FIELD_MAX} characters")
        if not FIELD_NAME.match(name):
            _fail(f"{where}[{i}].name {name!r} is invalid: alphanumerics or '-', starting alphanumeric")
        if name in names:
            _fail(f"{where}[{i}].name {name!r} is not unique")
        names.append(name)
    return names


def _check_metadata(meta: dict[str, Any]) -> None:
    name, generate = meta.get("name"), meta.get("generateName")
    if not name and not generate:
        _fail("metadata: name or generateName is required")
    if name and (len(name) > OBJECT_NAME_MAX or not DNS1123_SUBDOMAIN.match(name)):
        _fail(f"metadata.name {name!r} is not a DNS-1123 name of at most {OBJECT_NAME_MAX} characters")
    if generate:
        limit = OBJECT_NAME_MAX - RANDOM_SUFFIX
        if len(generate) > limit or not GENERATE_NAME.match(generate):
            _fail(f"metadata.generateName {generate!r} is not a DNS-1123 prefix "
                  f"of at most {limit} characters")


def _check_labels(meta: dict[str, Any] | None, where: str) -> None:
    """Label keys are qualified names and values valid label values; annotation keys too."""
    meta = meta or {}
    for kind in ("labels", "annotations"):
        for key, value in (meta.get(kind) or {}).items():
            prefix, _, name = key.rpartition("/")
            if not (0 < len(name) <= 63 and LABEL_VALUE.match(name)) or (
                    prefix and not (len(prefix) <= 253 and DNS1123_SUBDOMAIN.match(prefix))):
                _fail(f"{where}.{kind}: key {key!r} is not a qualified name")
            bad_value = isinstance(value, str) and (len(value) > 63 or not LABEL_VALUE.match(value))
            if kind == "labels" and bad_value:
                _fail(f"{where}.labels: value {value!r} of {key!r} is not a valid label value")


def _check_volume_names(names: list[str], where: str) -> None:
    for name in names:
        if len(name) > 63 or not DNS1123_LABEL.match(name):
            _fail(f"{where}: volume name {name!r} is not a DNS-1123 label")
    for name in names:
        if names.count(name) > 1:
            _fail(f"{where}: volume name {name!r} is not unique")


def _depends_names(task: dict[str, Any]) -> list[str]:
    """Names of the tasks a DAG task depends on (``dependencies`` or the ``depends`` expression)."""
    names = list(task.get("dependencies") or [])
    expr = task.get("depends") or ""
    for token in DEPENDS_TOKEN.findall(expr):
        base, _, result = token.partition(".")
        if result and result not in DEPENDS_RESULTS:
            _fail(f"task {task['name']!r}: depends {expr!r} uses unknown result {result!r}")
        names.append(base)
    return names


def _ancestors(deps: dict[str, list[str]]) -> dict[str, set[str]]:
    memo: dict[str, set[str]] = {}

    def visit(name: str, stack: tuple[str, ...]) -> set[str]:
        if name in memo:
            return memo[name]
        if name in stack:
            _fail("dependency cycle detected: " + "->".join((*stack[stack.index(name):], name)))
        result: set[str] = set()
        for dep in deps.get(name, []):
            result.add(dep)
            result |= visit(dep, (*stack, name))
        memo[name] = result
        return result

    import sys

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * len(deps) + 1000))
    for name in deps:
        visit(name, ())
    return memo


def _variables(node: Any) -> Iterator[str]:
    """Every ``{{...}}`` variable in the strings of ``node`` (expressions ``{{=...}}`` excluded)."""
    for text in _strings(node):
        if "{{" in text:
            for match in VARIABLE.finditer(text):
                var = match.group(1)
                if not var.startswith("="):
                    yield var


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _resolves(var: str, scope: set[str]) -> bool:
    return var in scope or var in GLOBAL_VARIABLES or var.startswith(GLOBAL_PREFIXES)


def _containers(tmpl: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in ("container", "script"):
        if tmpl.get(key):
            yield key, tmpl[key]
    for key in ("initContainers", "sidecars"):
        for i, c in enumerate(tmpl.get(key) or []):
            yield f"{key}[{i}]", c
    for i, c in enumerate((tmpl.get("containerSet") or {}).get("containers") or []):
        yield f"containerSet.containers[{i}]", c


def _check_leaf(tmpl: dict[str, Any], global_vars: set[str], volumes: set[str]) -> None:
    name = tmpl["name"]
    inputs = tmpl.get("inputs") or {}
    params = inputs.get("parameters") or []
    for p in params:
        if not PARAM_NAME.match(p.get("name", "")):
            _fail(f"templates.{name}.inputs.parameters: invalid name {p.get('name')!r}")
    scope = set(global_vars) | {"pod.name", "inputs.parameters"}
    scope |= {f"inputs.parameters.{p['name']}" for p in params}
    for a in inputs.get("artifacts") or []:
        scope |= {f"inputs.artifacts.{a['name']}", f"inputs.artifacts.{a['name']}.path"}
    if tmpl.get("retryStrategy"):
        scope.add("retries")
    for p in (tmpl.get("outputs") or {}).get("parameters") or []:
        scope.add(f"outputs.parameters.{p['name']}.path")
    for a in (tmpl.get("outputs") or {}).get("artifacts") or []:
        scope.add(f"outputs.artifacts.{a['name']}.path")
    for var in _variables(tmpl):
        if not _resolves(var, scope):
            _fail(f"templates.{name}: failed to resolve {{{{{var}}}}}")
    _check_labels(tmpl.get("metadata"), f"templates.{name}.metadata")
    own_names = [v["name"] for v in tmpl.get("volumes") or []]
    _check_volume_names(own_names, f"templates.{name}.volumes")
    own = set(own_names)
    for where, container in _containers(tmpl):
        paths: set[str] = set()
        for m in container.get("volumeMounts") or []:
            if m.get("name") not in own | volumes:
                _fail(f"templates.{name}.{where}: volumeMount {m.get('name')!r} has no volume")
            path = m.get("mountPath")
            if path in paths:
                _fail(f"templates.{name}.{where}: mountPath {path!r} is used more than once")
            paths.add(path)


def _check_dag(tmpl: dict[str, Any], templates: dict[str, dict[str, Any]], global_vars: set[str]) -> None:
    name = tmpl["name"]
    tasks = (tmpl.get("dag") or {}).get("tasks") or []
    if not tasks:
        _fail(f"templates.{name} must have at least one task")
    names = _check_field_names(tasks, f"templates.{name}.tasks")
    using_depends = any(t.get("depends") for t in tasks)
    deps: dict[str, list[str]] = {}
    for task in tasks:
        tname = task["name"]
        if tname[0].isdigit():
            _fail(f"templates.{name}.tasks.{tname} name cannot begin with a digit")
        if using_depends and task.get("dependencies"):
            _fail(f"templates.{name} cannot use both 'depends' and 'dependencies'")
        target = task.get("template")
        if not task.get("templateRef") and target not in templates:
            _fail(f"templates.{name}.tasks.{tname}: template {target!r} not found")
        deps[tname] = _depends_names(task)
        for dep in deps[tname]:
            if dep not in names:
                _fail(f"templates.{name}.tasks.{tname}: dependency {dep!r} not defined")
    ancestry = _ancestors(deps)
    by_name = {t["name"]: t for t in tasks}
    for task in tasks:
        tname = task["name"]
        scope = set(global_vars) | {"inputs.parameters"}
        own = (tmpl.get("inputs") or {}).get("parameters") or []
        scope |= {f"inputs.parameters.{p['name']}" for p in own}
        if _check_loop(task, f"templates.{name}.tasks.{tname}"):
            scope.add("item")
        if task.get("when") is not None:
            _check_when(task["when"], f"templates.{name}.tasks.{tname}.when")
        for var in _variables(task):
            if var.startswith("tasks."):
                ref = var.split(".")[1]
                if ref not in ancestry[tname]:
                    _fail(f"templates.{name}.tasks.{tname}: {{{{{var}}}}} refers to {ref!r}, "
                          "which is not an ancestor")
                _check_task_output(var, templates.get(by_name[ref].get("template") or ""),
                                   f"templates.{name}.tasks.{tname}")
            elif not _resolves(var, scope):
                _fail(f"templates.{name}.tasks.{tname}: failed to resolve {{{{{var}}}}}")
        target = templates.get(task.get("template") or "")
        if target is not None:
            given = {p["name"] for p in (task.get("arguments") or {}).get("parameters") or []}
            for p in (target.get("inputs") or {}).get("parameters") or []:
                if p["name"] not in given and "value" not in p and "default" not in p:
                    _fail(f"templates.{name}.tasks.{tname}: input parameter {p['name']!r} "
                          f"of template {target['name']!r} not supplied")


LOOP_FIELDS = ("withItems", "withParam", "withSequence")
# govaluate's tokens in a `when` (Argo substitutes the {{...}} variables first)
WHEN_TOKEN = re.compile(r"\s*(?:(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
                        r"|-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|true|false)|(?P<op>==|!=|<=|>=|<|>|=~|!~)|(?P<logic>&&|\|\|)|(?P<open>\()"
                        r"|(?P<close>\))|(?P<not>!))")


def _check_loop(task: dict[str, Any], where: str) -> bool:
    """A task loops over at most one of withItems/withParam/withSequence; withParam is a JSON list
    or a variable that gives one. Returns whether it loops ({{item}} resolves)."""
    loops = [f for f in LOOP_FIELDS if task.get(f) not in (None, [], "")]
    if len(loops) > 1:
        _fail(f"{where}: only one of withItems, withParam, withSequence may be given, got {loops}")
    param = task.get("withParam")
    if param is not None:
        if not isinstance(param, str) or not param.strip():
            _fail(f"{where}.withParam must be a non-empty string")
        if "{{" not in param:
            try:
                items = json.loads(param)
            except ValueError:
                items = None
            if not isinstance(items, list):
                _fail(f"{where}.withParam {param!r} is neither a JSON list nor a variable")
    return bool(loops)


def _check_task_output(var: str, target: dict[str, Any] | None, where: str) -> None:
    """``tasks.X.outputs.parameters.Y`` needs X's template to declare the output parameter Y."""
    parts = var.split(".")
    if len(parts) >= 5 and parts[2:4] == ["outputs", "parameters"] and target is not None:
        declared = {p["name"] for p in (target.get("outputs") or {}).get("parameters") or []}
        if parts[4] not in declared:
            _fail(f"{where}: {{{{{var}}}}}: template {target['name']!r} has no output parameter "
                  f"{parts[4]!r}")


def _check_when(expr: Any, where: str) -> None:
    """A `when` is a well-formed govaluate comparison once its variables are substituted (each
    stands for a literal here: quoted or not, it must then sit where a value may)."""
    if not isinstance(expr, str) or not expr.strip():
        _fail(f"{where} must be a non-empty string")
    text = VARIABLE.sub("1", expr)
    expect_value, depth, pos = True, 0, 0
    while pos < len(text.rstrip()):
        found = WHEN_TOKEN.match(text, pos)
        if not found or found.end() == pos:
            _fail(f"{where}: cannot parse {expr!r} at {text[pos:]!r}")
        kind = found.lastgroup
        if kind in ("value",) and expect_value:
            expect_value = False
        elif kind in ("op", "logic") and not expect_value:
            expect_value = True
        elif kind in ("open", "not") and expect_value:
            depth += kind == "open"
        elif kind == "close" and not expect_value and depth:
            depth -= 1
        else:
            _fail(f"{where}: unexpected {found.group().strip()!r} in {expr!r}")
        pos = found.end()
    if expect_value or depth:
        _fail(f"{where}: {expr!r} is incomplete")


def _check_executor_account(spec: dict[str, Any], templates: list[dict[str, Any]]) -> None:
    """Argo refuses to build a pod whose token is not mounted unless its executor has an account."""
    for tmpl in templates:
        automount = tmpl.get("automountServiceAccountToken", spec.get("automountServiceAccountToken"))
        account = ((tmpl.get("executor") or {}).get("serviceAccountName")
                   or (spec.get("executor") or {}).get("serviceAccountName"))
        if automount is False and not account and not (tmpl.get("dag") or tmpl.get("steps")):
            _fail(f"templates.{tmpl.get('name')}: executor.serviceAccountName must not be empty if "
                  "automountServiceAccountToken is false")


def check_rules(manifest: dict[str, Any]) -> None:
    """Argo's submit-time rules (a subset of validate.go that matters for compiled Workflows)."""
    if manifest.get("apiVersion") != "argoproj.io/v1alpha1" or manifest.get("kind") != "Workflow":
        _fail("apiVersion/kind must be argoproj.io/v1alpha1 Workflow")
    _check_metadata(manifest.get("metadata") or {})
    _check_labels(manifest.get("metadata"), "metadata")
    spec = manifest.get("spec") or {}
    _check_labels(spec.get("podMetadata"), "spec.podMetadata")
    templates_list = spec.get("templates") or []
    names = _check_field_names(templates_list, "spec.templates")
    templates = dict(zip(names, templates_list, strict=True))
    entry = spec.get("entrypoint")
    if not entry:
        _fail("spec.entrypoint is required")
    if entry not in templates:
        _fail(f"spec.entrypoint {entry!r} is not a template")
    global_vars: set[str] = set()
    arg_params = (spec.get("arguments") or {}).get("parameters") or []
    seen: set[str] = set()
    for i, p in enumerate(arg_params):
        pname = p.get("name", "")
        if not PARAM_NAME.match(pname):
            _fail(f"spec.arguments.parameters[{i}].name {pname!r} is invalid")
        if pname in seen:
            _fail(f"spec.arguments.parameters[{i}].name {pname!r} is not unique")
        if "value" not in p and "valueFrom" not in p:
            _fail(f"spec.arguments.parameters.{pname}.value is required")
        seen.add(pname)
        global_vars.add(f"workflow.parameters.{pname}")
    volume_names = [v["name"] for v in spec.get("volumes") or []]
    volume_names += [c["metadata"]["name"] for c in spec.get("volumeClaimTemplates") or []]
    _check_volume_names(volume_names, "spec.volumes and spec.volumeClaimTemplates")
    volumes = set(volume_names)
    _check_executor_account(spec, templates_list)
    for var in _variables({k: v for k, v in spec.items() if k not in ("templates", "arguments")}):
        if not _resolves(var, global_vars):
            _fail(f"spec: failed to resolve {{{{{var}}}}}")
    for tmpl in templates_list:
        if tmpl.get("dag"):
            _check_dag(tmpl, templates, global_vars)
        elif tmpl.get("steps"):
            _fail(f"templates.{tmpl['name']}: steps templates are not checked here")
        else:
            _check_leaf(tmpl, global_vars, volumes)


# --- Pod Security Standards, "restricted" -----------------------------------------------------------

RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                           "persistentVolumeClaim", "projected", "secret"}
RESTRICTED_ADD_CAPABILITIES = {"NET_BIND_SERVICE"}
RESTRICTED_SECCOMP = {"RuntimeDefault", "Localhost"}
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def _check_volume_types(volumes: list[dict[str, Any]], where: str) -> None:
    for volume in volumes:
        kinds = set(volume) - {"name"}
        if not kinds or not kinds <= RESTRICTED_VOLUME_TYPES:
            allowed = ", ".join(sorted(RESTRICTED_VOLUME_TYPES))
            _fail(f"{where}: volume {volume.get('name')!r} is of type {', '.join(sorted(kinds)) or 'none'}, "
                  f"which restricted pods may not use (allowed: {allowed})")


def _check_container_security(container: dict[str, Any], pod: dict[str, Any], where: str) -> None:
    sc = container.get("securityContext") or {}
    if sc.get("privileged"):
        _fail(f"{where}: privileged containers are not allowed")
    if sc.get("allowPrivilegeEscalation") is not False:
        _fail(f"{where}: securityContext.allowPrivilegeEscalation must be false")
    caps = sc.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        _fail(f"{where}: securityContext.capabilities.drop must include ALL")
    extra = set(caps.get("add") or []) - RESTRICTED_ADD_CAPABILITIES
    if extra:
        _fail(f"{where}: capabilities {sorted(extra)} may not be added (only NET_BIND_SERVICE)")
    if sc.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True:
        _fail(f"{where}: runAsNonRoot must be true (on the container or the pod)")
    if sc.get("runAsUser", pod.get("runAsUser")) == 0:
        _fail(f"{where}: runAsUser must not be 0")
    profile = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
    if profile not in RESTRICTED_SECCOMP:
        _fail(f"{where}: seccompProfile.type must be RuntimeDefault or Localhost, not {profile!r}")
    for port in container.get("ports") or []:
        if port.get("hostPort"):
            _fail(f"{where}: hostPort {port['hostPort']} is not allowed")


def check_pod_security(manifest: dict[str, Any]) -> None:
    """Raise AssertionError unless every step pod meets the "restricted" Pod Security Standard."""
    spec = manifest.get("spec") or {}
    for key in (*HOST_NAMESPACES, "podSpecPatch"):
        if spec.get(key):
            _fail(f"spec.{key} is not allowed in restricted pods")
    _check_volume_types(spec.get("volumes") or [], "spec.volumes")
    for tmpl in spec.get("templates") or []:
        if tmpl.get("dag") or tmpl.get("steps"):
            continue
        name = tmpl.get("name")
        for key in (*HOST_NAMESPACES, "podSpecPatch"):
            if tmpl.get(key):
                _fail(f"templates.{name}.{key} is not allowed in restricted pods")
        _check_volume_types(tmpl.get("volumes") or [], f"templates.{name}.volumes")
        pod = tmpl.get("securityContext") or spec.get("securityContext") or {}  # Argo: template wins
        if pod.get("runAsUser") == 0:
            _fail(f"templates.{name}: the pod's runAsUser must not be 0")
        pod_profile = (pod.get("seccompProfile") or {}).get("type")
        if pod_profile is not None and pod_profile not in RESTRICTED_SECCOMP:
            _fail(f"templates.{name}: the pod's seccompProfile.type {pod_profile!r} is not allowed")
        for where, container in _containers(tmpl):
            _check_container_security(container, pod, f"templates.{name}.{where}")


def check_workflow(manifest: dict[str, Any]) -> None:
    """Raise AssertionError unless ``manifest`` is a Workflow Argo would accept (schema + rules) and
    its step pods are "restricted" ones."""
    check_rules(manifest)
    check_pod_security(manifest)
    check_schema(manifest)


# --- CronWorkflows and WorkflowTemplates -------------------------------------------------------------

CRON_WORKFLOW_DEF = "io.argoproj.workflow.v1alpha1.CronWorkflow"
WORKFLOW_TEMPLATE_DEF = "io.argoproj.workflow.v1alpha1.WorkflowTemplate"
# validate.go: a CronWorkflow's runs are named <name>-<unix time>, within maxCharsInObjectName (63).
CRON_NAME_MAX = OBJECT_NAME_MAX - 11
CONCURRENCY_POLICIES = {"Allow", "Forbid", "Replace", ""}
CRON_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _cron_value(text: str, field: int) -> int:
    names = MONTHS if field == 3 else DAYS if field == 4 else []
    value = names.index(text.upper()) + (1 if field == 3 else 0) if text.upper() in names else int(text)
    low, high = CRON_BOUNDS[field]
    if not low <= value <= high:
        _fail(f"cron field {field}: {value} is out of range {low}-{high}")
    return value


def check_cron_expression(schedule: str) -> None:
    """robfig/cron's ParseStandard (what Argo's controller and validate.go use), independently of
    kale-argo's own check: five fields or a descriptor."""
    if schedule in CRON_DESCRIPTORS:
        return
    if schedule.startswith("@every "):
        if not re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", schedule[7:]):
            _fail(f"cron schedule {schedule!r}: not a duration")
        return
    fields = schedule.split()
    if len(fields) != 5:
        _fail(f"cron schedule {schedule!r}: expected exactly 5 fields, found {len(fields)}")
    for i, field in enumerate(fields):
        for part in field.split(","):
            base, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                _fail(f"cron schedule {schedule!r}: bad step {step!r}")
            if base in ("*", "?"):
                continue
            try:
                bounds = [_cron_value(v, i) for v in base.split("-", 1)]
            except ValueError:
                _fail(f"cron schedule {schedule!r}: failed to parse {base!r}")
                return
            if len(bounds) == 2 and bounds[0] > bounds[1]:
                _fail(f"cron schedule {schedule!r}: beginning of range after end")


def _as_workflow(meta: dict[str, Any], spec: dict[str, Any], name: str) -> dict[str, Any]:
    """The Workflow Argo builds from a CronWorkflow or WorkflowTemplate (ConvertCronWorkflowToWorkflow
    / a workflowTemplateRef), checked by Argo's Workflow rules."""
    labels = {**(meta.get("labels") or {})}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "labels": labels, **({"annotations": meta["annotations"]}
                                                              if meta.get("annotations") else {})},
            "spec": {k: v for k, v in spec.items() if k != "workflowMetadata"}}


def check_cron_workflow(manifest: dict[str, Any]) -> None:
    """validate.go's ValidateCronWorkflow: every schedule parses, the concurrency policy is known, the
    name leaves room for the run's timestamp, the time zone exists; then the Workflow it starts
    passes every Workflow check; and Argo's CronWorkflow schema (strict)."""
    import zoneinfo

    if manifest.get("apiVersion") != "argoproj.io/v1alpha1" or manifest.get("kind") != "CronWorkflow":
        _fail("apiVersion/kind must be argoproj.io/v1alpha1 CronWorkflow")
    meta, spec = manifest.get("metadata") or {}, manifest.get("spec") or {}
    name = meta.get("name") or ""
    if not DNS1123_SUBDOMAIN.match(name) or len(name) > CRON_NAME_MAX:
        _fail(f"metadata.name {name!r}: a CronWorkflow name must be DNS-1123 and at most {CRON_NAME_MAX}")
    if spec.get("schedule") and spec.get("schedules"):
        _fail("cron workflow cannot have both schedule and schedules")
    schedules = spec.get("schedules") or ([spec["schedule"]] if spec.get("schedule") else [])
    if not schedules:
        _fail("spec.schedules is required")
    for schedule in schedules:
        check_cron_expression(schedule)
    if spec.get("concurrencyPolicy", "") not in CONCURRENCY_POLICIES:
        _fail(f"spec.concurrencyPolicy {spec['concurrencyPolicy']!r} is not valid")
    if spec.get("timezone"):
        zoneinfo.ZoneInfo(spec["timezone"])  # raises for an unknown zone
    run_meta = spec.get("workflowMetadata") or {}
    _check_labels(run_meta, "spec.workflowMetadata")
    workflow = _as_workflow({**meta, **run_meta}, spec.get("workflowSpec") or {}, f"{name}-1700000000")
    check_rules(workflow)
    check_pod_security(workflow)
    check_schema(manifest, CRON_WORKFLOW_DEF)


def check_workflow_template(manifest: dict[str, Any]) -> None:
    """A WorkflowTemplate Argo accepts and whose runs pass every Workflow check (its name becomes a
    label value of every run it starts: at most 63); and Argo's WorkflowTemplate schema (strict)."""
    if manifest.get("apiVersion") != "argoproj.io/v1alpha1" or manifest.get("kind") != "WorkflowTemplate":
        _fail("apiVersion/kind must be argoproj.io/v1alpha1 WorkflowTemplate")
    meta, spec = manifest.get("metadata") or {}, manifest.get("spec") or {}
    name = meta.get("name") or ""
    if not DNS1123_LABEL.match(name) or len(name) > OBJECT_NAME_MAX:
        _fail(f"metadata.name {name!r}: a WorkflowTemplate name must be a DNS-1123 label")
    _check_labels(meta, "metadata")
    _check_labels(spec.get("workflowMetadata"), "spec.workflowMetadata")
    workflow = _as_workflow({**meta, **(spec.get("workflowMetadata") or {})}, spec, f"{name[:57]}-abcde")
    check_rules(workflow)
    check_pod_security(workflow)
    check_schema(manifest, WORKFLOW_TEMPLATE_DEF)
