"""The IR: a typed, validated, JSON-serialisable description of a traced pipeline.

Every backend (the local executor, the Argo compiler, the cluster layer) consumes a
:class:`PipelineSpec`; nothing downstream re-reads the user's source to learn about the pipeline.
The argv that runs one step is built by :func:`kale_argo.runtime.contract.step_argv` from
:meth:`StepSpec.runtime_call`, identically for local runs and Argo pods.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .choices import VOLUME_MODES
from .errors import PipelineError, UserError, did_you_mean
from .names import dns1123_label, is_image_reference
from .params import convert_parameter
from .units import validate_duration, validate_quantity

ParamType = Literal["int", "float", "str", "bool"]
AccessMode = Literal["rwo", "rwm", "rom"]
WorkspaceMode = Literal["snapshot", "clone", "mount"]
JSONValue = Any

ACCESS_MODES: dict[str, str] = {"rwo": "ReadWriteOnce", "rwm": "ReadWriteMany", "rom": "ReadOnlyMany"}
DEFAULT_IMAGE = "python:3.11-slim"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterSpec(_Model):
    """A pipeline parameter: an argument of the pipeline function with a default."""

    name: str
    type: ParamType
    default: int | float | str | bool

    def convert(self, raw: object, where: str | None = None) -> int | float | str | bool:
        """``raw`` (a CLI string or a Python value) as this parameter's type."""
        return convert_parameter(self.name, self.type, raw, where)


class ValueInput(_Model):
    """An argument fed by an output of an earlier step, stored under ``key`` in the marshal dir."""

    kind: Literal["value"] = "value"
    key: str
    producer: str


class ParamInput(_Model):
    """An argument fed by a pipeline parameter."""

    kind: Literal["param"] = "param"
    name: str


class ConstInput(_Model):
    """An argument given as a literal in the pipeline body: its JSON ``value``, or, for a literal
    JSON would change (a tuple, a set, bytes, a dict with keys that are not strings), its Python
    source in ``literal``, which the step runtime reads back with ``ast.literal_eval``."""

    kind: Literal["const"] = "const"
    value: JSONValue = None
    literal: str | None = None

    def python_value(self) -> Any:
        """The literal as the step receives it."""
        import ast

        return self.value if self.literal is None else ast.literal_eval(self.literal)

    def runtime_input(self) -> dict[str, Any]:
        """The input as the step runtime reads it (``literal`` only when there is one)."""
        data = self.model_dump()
        if self.literal is None:
            del data["literal"]
        return data


SourceInput = Annotated[ValueInput | ParamInput | ConstInput, Field(discriminator="kind")]


class ElementInput(_Model):
    """The argument of a fan-out step (``train.map(configs)``) that receives one element of the
    step's ``map_over`` list: the one whose index the instance runs for."""

    kind: Literal["element"] = "element"


class GatherInput(_Model):
    """An argument fed by every instance of a fan-out step: the list of their values stored under
    ``key.0``, ``key.1``... in element order; ``over`` is the list the fan-out ran over (its length
    says how many there are: an empty list gives ``[]``)."""

    kind: Literal["gather"] = "gather"
    key: str
    producer: str
    over: MapSource


StepInput = Annotated[ValueInput | ParamInput | ConstInput | ElementInput | GatherInput,
                      Field(discriminator="kind")]
MapSource = Annotated[ValueInput | ParamInput | ConstInput | GatherInput, Field(discriminator="kind")]
"""What a fan-out runs over: a list (a step's output, a parameter, a literal), or the results of
another fan-out (instance N then takes the value instance N of that one stored)."""
GatherInput.model_rebuild()


def _runtime_input(spec: Any) -> dict[str, Any]:
    if isinstance(spec, ConstInput):
        return spec.runtime_input()
    if isinstance(spec, GatherInput):
        return {**spec.model_dump(exclude={"over"}), "over": _runtime_input(spec.over)}
    return dict(spec.model_dump())


COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


class Comparison(_Model):
    """``left OP right`` over a small step output (a number, str or bool), a parameter or a constant."""

    op: Literal["==", "!=", "<", "<=", ">", ">="]
    left: SourceInput
    right: SourceInput


class Combination(_Model):
    """``all`` (``&``) or ``any`` (``|``) of conditions."""

    op: Literal["and", "or"]
    items: list[Condition] = Field(min_length=2)


Condition = Annotated[Comparison | Combination, Field(union_mode="left_to_right")]
Combination.model_rebuild()


def condition_inputs(cond: Comparison | Combination) -> list[ValueInput | ParamInput | ConstInput]:
    """The operands of ``cond``, left to right."""
    if isinstance(cond, Comparison):
        return [cond.left, cond.right]
    return [i for c in cond.items for i in condition_inputs(c)]


def condition_text(cond: Comparison | Combination) -> str:
    """``accuracy > threshold``: how the condition reads in the pipeline body."""
    if isinstance(cond, Combination):
        joiner = " & " if cond.op == "and" else " | "
        return joiner.join(f"({condition_text(c)})" if isinstance(c, Combination) else
                           condition_text(c) for c in cond.items)

    def operand(i: ValueInput | ParamInput | ConstInput) -> str:
        if isinstance(i, ValueInput):
            return i.key
        if isinstance(i, ParamInput):
            return i.name
        return i.literal if i.literal is not None else repr(i.value)

    return f"{operand(cond.left)} {cond.op} {operand(cond.right)}"


class EnvRef(_Model):
    """One key of a Secret or ConfigMap, as an environment variable's value (never the value)."""

    kind: Literal["secret", "configmap"]
    name: str
    key: str


class TtlSpec(_Model):
    """Argo's ttlStrategy: seconds a finished run is kept, after completion, success, failure."""

    after_completion: int | None = Field(default=None, ge=0)
    after_success: int | None = Field(default=None, ge=0)
    after_failure: int | None = Field(default=None, ge=0)


class PodGcSpec(_Model):
    """Argo's podGC: when finished pods are deleted."""

    strategy: Literal["OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"]
    delete_delay: float | None = Field(default=None, ge=0)


class StepOptions(_Model):
    """Kale's per-step options, normalised (durations in seconds, quantities as strings)."""

    image: str | None = None
    limits: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    retry_count: int = Field(default=0, ge=0)
    retry_interval: float | None = Field(default=None, ge=0)
    retry_factor: float | None = Field(default=None, gt=0)
    retry_max_interval: float | None = Field(default=None, ge=0)
    timeout: float | None = Field(default=None, gt=0)
    security_context: dict[str, JSONValue] = Field(
        default_factory=dict, description="container securityContext fields (camelCase) over the "
        "hardened default; a None value removes that default")
    env: dict[str, str] = Field(default_factory=dict, description="environment variables")
    env_from_secret: list[str] = Field(default_factory=list, description="Secrets whose keys all "
                                       "become environment variables (envFrom)")
    env_from_configmap: list[str] = Field(default_factory=list, description="ConfigMaps whose keys "
                                          "all become environment variables (envFrom)")
    env_value_from: dict[str, EnvRef] = Field(default_factory=dict, description="variable -> one "
                                              "key of a Secret or ConfigMap (valueFrom)")
    requests: dict[str, str] = Field(default_factory=dict, description="resource requests; those "
                                     "not given equal the limits")
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, JSONValue]] = Field(default_factory=list,
                                                    description="Kubernetes tolerations (camelCase)")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    packages: list[str] = Field(default_factory=list, description="pip requirements the step needs "
                                "besides the pipeline's, installed once per run")
    parallelism: int | None = Field(default=None, ge=1, description="how many instances of a "
                                    "fan-out (step.map) run at once")
    cache: bool = Field(default=True, description="False: never reuse outputs from the step cache")

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not is_image_reference(value):
            raise ValueError(f"image {value!r} is not a valid image reference "
                             f"({'it is empty' if not value.strip() else 'it has spaces'})")
        return value


class ArtifactSpec(_Model):
    """A file a step writes (Kale's ``@artifact(name, path)``) that becomes an output of the run."""

    name: str
    path: str

    def stored_name(self) -> str:
        """The file's name in the run's artifact folder: ``name`` plus the path's suffix."""
        base = self.path.replace("\\", "/").rsplit("/", 1)[-1]
        dot = base.rfind(".")
        return self.name + (base[dot:] if dot > 0 else "")


class StepSpec(_Model):
    """One call of a step function in the pipeline body (a node of the DAG)."""

    name: str = Field(description="unique node name, Kale style: the step's name, then _2, _3")
    step: str = Field(description="the @step name")
    function: str = Field(description="qualified name of the function in the script")
    args: list[StepInput] = Field(default_factory=list)
    kwargs: dict[str, StepInput] = Field(default_factory=dict)
    outputs: list[str] = Field(default_factory=list, description="marshal keys, in return order")
    unpack: bool = Field(default=False, description="the return value is a tuple of len(outputs)")
    depends: list[str] = Field(default_factory=list)
    options: StepOptions = Field(default_factory=StepOptions)
    location: str | None = Field(default=None, description="file:line of the call")
    artifacts: list[ArtifactSpec] = Field(default_factory=list, description="Kale's @artifact files")
    map_over: MapSource | None = Field(default=None, description="a fan-out (step.map): the "
                                       "list with one instance of the step per element")
    when: Condition | None = Field(default=None, description="the step runs only if this holds")
    exports: dict[str, Literal["value", "items"]] = Field(
        default_factory=dict, description="outputs later steps decide on, exported small (Argo "
        "output parameters): 'value' (compared in a condition) or 'items' (a fan-out's indices)")

    def inputs(self) -> list[StepInput]:
        """All inputs, positional first."""
        return [*self.args, *self.kwargs.values()]

    def sources(self) -> list[ValueInput | ParamInput | ConstInput]:
        """Everything the step reads: its inputs (a gathered list's ``over`` included), the list it
        maps over, its condition's operands."""
        found: list[Any] = []
        for i in self.inputs():
            if isinstance(i, GatherInput):
                found += [ValueInput(key=i.key, producer=i.producer), i.over]
            elif not isinstance(i, ElementInput):
                found.append(i)
        if isinstance(self.map_over, GatherInput):
            found += [ValueInput(key=self.map_over.key, producer=self.map_over.producer),
                      self.map_over.over]
        elif self.map_over is not None:
            found.append(self.map_over)
        if self.when is not None:
            found += condition_inputs(self.when)
        return found

    def decided_by(self) -> list[str]:
        """The steps whose exported outputs decide whether and how often this step runs: the
        producers of its condition's operands and of the list it fans out over."""
        found = [i.producer for i in condition_inputs(self.when) if isinstance(i, ValueInput)] \
            if self.when is not None else []
        source = self.map_over
        while isinstance(source, GatherInput):  # over another fan-out's results: its list's
            source = source.over
        if isinstance(source, ValueInput):
            found.append(source.producer)
        return list(dict.fromkeys(found))

    def parameters_used(self) -> list[str]:
        """Names of the pipeline parameters this step reads, sorted."""
        return sorted({i.name for i in self.sources() if isinstance(i, ParamInput)})

    def parallelism(self) -> int | None:
        """How many instances of a fan-out run at once (None: no limit)."""
        return self.options.parallelism if self.map_over is not None else None

    def runtime_call(self, param_types: dict[str, str]) -> dict[str, Any]:
        """The JSON-able call description the step runtime executes (see runtime.contract)."""
        call: dict[str, Any] = {
            "step": self.name,
            "function": self.function,
            "args": [_runtime_input(i) for i in self.args],
            "kwargs": {k: _runtime_input(i) for k, i in self.kwargs.items()},
            "outputs": list(self.outputs),
            "unpack": self.unpack,
            "params": {p: param_types[p] for p in self.parameters_used()},
        }
        if self.map_over is not None:
            call["map_over"] = _runtime_input(self.map_over)
        if self.exports:
            call["exports"] = dict(sorted(self.exports.items()))
        if not self.options.cache:
            call["cache"] = False
        if self.artifacts:
            call["artifacts"] = [{"name": a.name, "path": a.path, "file": a.stored_name()}
                                 for a in self.artifacts]
        return call


class MarshalSpec(_Model):
    """Where values travel between steps."""

    volume: bool = True
    size: str = "1Gi"
    path: str = "/marshal"
    access_mode: AccessMode = "rwm"
    storage_class: str | None = None

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        return validate_quantity(value, "marshal_volume_size")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"marshal_path {value!r} must be an absolute path")
        return value.rstrip("/") or "/"


class VolumeSpec(_Model):
    """A workspace volume: an existing PVC mounted, cloned or snapshotted into every step."""

    claim: str
    mount_path: str
    mode: WorkspaceMode = "snapshot"
    size: str | None = None
    storage_class: str | None = None
    access_modes: list[str] = Field(default_factory=list)
    snapshot_class: str | None = None
    snapshot: str | None = Field(default=None, description="an existing VolumeSnapshot to clone")
    annotations: dict[str, str] = Field(default_factory=dict,
                                        description="carried onto the claim a clone creates")
    snapshot_after: str | None = Field(
        default=None, description="Kale's snapshot/snapshot_name: snapshot it when the run ends")

    @field_validator("mount_path")
    @classmethod
    def _mount(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"mount path {value!r} must be absolute")
        return value.rstrip("/") or "/"

    @field_validator("size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        return None if value is None else validate_quantity(value, "volume size")

    @classmethod
    def parse(cls, text: str, default_mode: str = "snapshot") -> VolumeSpec:
        """``CLAIM:/mount/path[:mode]`` (``--volume``, or a string in ``@pipeline(volumes=...)``).

        Raises ValueError saying what is wrong; callers add where and a hint.
        """
        claim, sep, rest = text.strip().partition(":")
        path, mode = rest, default_mode
        head, colon, tail = rest.rpartition(":")
        if colon and tail in VOLUME_MODES:
            path, mode = head, tail
        elif colon and tail and not tail.startswith("/"):
            raise ValueError(f"unknown volume mode {tail!r} (use one of: {', '.join(VOLUME_MODES)})")
        if not sep or not claim or not path:
            raise ValueError("a volume is CLAIM:/mount/path[:mode], e.g. workspace-nb:/home/jovyan:clone")
        if dns1123_label(claim) != claim:
            raise ValueError(f"{claim!r} is not a valid PersistentVolumeClaim name "
                             "(lowercase letters, digits and '-')")
        if not path.startswith("/"):
            raise ValueError(f"mount path {path!r} must be absolute")
        return cls(claim=claim, mount_path=path, mode=mode)  # type: ignore[arg-type]


class ClaimSpec(_Model):
    """A claim the run creates (Kale's ``new_pvc``, or ``pv``: a claim bound to an existing
    PersistentVolume by ``volume_name``), mounted in every step; Argo deletes it with the run."""

    name: str
    mount_path: str
    size: str
    storage_class: str | None = None
    access_modes: list[str] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)
    volume_name: str | None = None
    snapshot_after: str | None = None

    @field_validator("mount_path")
    @classmethod
    def _mount(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"mount path {value!r} must be absolute")
        return value.rstrip("/") or "/"


class ScriptSpec(_Model):
    """The user's script: where it was traced from and its content hash.

    ``modules`` are the modules next to the script that it imports (``from helpers import
    clean``): their paths relative to the script's directory (POSIX) and content hashes, so a
    backend that ships the script ships them too.
    """

    path: str
    sha256: str
    pipeline_function: str
    modules: dict[str, str] = Field(default_factory=dict)


class PipelineSpec(_Model):
    """A traced pipeline. Validated once; every backend trusts it."""

    name: str
    experiment: str | None = None
    description: str | None = None
    parameters: list[ParameterSpec] = Field(default_factory=list)
    steps: list[StepSpec]
    marshal: MarshalSpec = Field(default_factory=MarshalSpec)
    volumes: list[VolumeSpec] = Field(default_factory=list)
    claims: list[ClaimSpec] = Field(default_factory=list)
    docker_image: str | None = None
    steps_defaults: StepOptions = Field(default_factory=StepOptions)
    autosnapshot: bool | None = None
    timeout: float | None = Field(default=None, gt=0)
    working_dir: str | None = Field(default=None, description="Kale's abs_working_dir")
    kfp_host: str | None = Field(default=None, description="Kale's kfp_host: where --kfp submits")
    script: ScriptSpec
    version: str = "1"
    pod_security_context: dict[str, JSONValue] = Field(
        default_factory=dict, description="pod securityContext fields (camelCase) over the hardened "
        "default; a None value removes that default")
    packages: list[str] = Field(default_factory=list, description="pip requirements every step "
                                "needs, installed once per run on the marshal volume")
    pip_index_urls: list[str] = Field(default_factory=list, description="pip's index, then extra "
                                      "indexes")
    image_pull_secrets: list[str] = Field(default_factory=list)
    ttl: TtlSpec | None = None
    pod_gc: PodGcSpec | None = None
    cache_volume: str | None = Field(default=None, description="a PVC that outlives runs and holds "
                                     "the step cache on Argo (None: no cache on Argo)")

    @model_validator(mode="after")
    def _check(self) -> PipelineSpec:
        if not dns1123_label(self.name):
            raise ValueError(f"pipeline name {self.name!r} cannot become a Kubernetes name")
        if not self.steps:
            raise ValueError(f"pipeline {self.name!r} calls no step")
        if not self.marshal.volume and not self.volumes and not self.claims:
            raise ValueError(
                "marshal_volume=False needs a workspace volume to hold the values; "
                "add volumes=[...] or set marshal_volume=True"
            )
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"step names are not unique: {names}")
        params = {p.name for p in self.parameters}
        produced: dict[str, str] = {}
        for s in self.steps:
            for dep in s.depends:
                if dep not in names:
                    raise ValueError(f"step {s.name!r} depends on unknown step {dep!r}")
            for i in s.sources():
                if isinstance(i, ParamInput) and i.name not in params:
                    raise ValueError(f"step {s.name!r} reads unknown parameter {i.name!r}")
                if isinstance(i, ValueInput) and produced.get(i.key) != i.producer:
                    raise ValueError(
                        f"step {s.name!r} reads {i.key!r} before step {i.producer!r} produced it"
                    )
            elements = sum(isinstance(i, ElementInput) for i in s.inputs())
            if elements != (s.map_over is not None):
                raise ValueError(f"step {s.name!r}: a fan-out has exactly one element argument")
            for key in s.outputs:
                if key in produced:
                    raise ValueError(f"marshal key {key!r} is produced twice")
                produced[key] = s.name
        order = topological_order(self.steps)
        if order is None:
            raise ValueError("the steps' dependencies form a cycle")
        return self

    def step(self, name: str) -> StepSpec:
        """The step called ``name``."""
        for s in self.steps:
            if s.name == name:
                return s
        raise UserError(f"no step {name!r} in pipeline {self.name!r}",
                        hint=did_you_mean(name, [s.name for s in self.steps]))

    def param_types(self) -> dict[str, str]:
        """Parameter name -> type name."""
        return {p.name: p.type for p in self.parameters}

    def resolve_parameters(self, overrides: dict[str, object] | None = None,
                           where: str | None = None) -> dict[str, Any]:
        """Defaults with ``overrides`` applied and converted; unknown names are a UserError.

        Errors name ``where`` (the ``file:line`` of a keyword call of the pipeline), else ``-p NAME``.
        """
        values: dict[str, Any] = {p.name: p.default for p in self.parameters}
        by_name = {p.name: p for p in self.parameters}
        for key, raw in (overrides or {}).items():
            if key not in by_name:
                known = ", ".join(by_name) or "none"
                raise UserError(f"pipeline {self.name!r} has no parameter {key!r} (it has: {known})",
                                where=where or f"-p {key}", hint=did_you_mean(key, by_name))
            values[key] = by_name[key].convert(raw, where=where or f"-p {key}")
        return values

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), stable across runs."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PipelineSpec:
        """Parse and validate a spec written by :meth:`to_json`."""
        return cls.model_validate_json(text)


def topological_order(steps: list[StepSpec]) -> list[str] | None:
    """Step names in a dependency-respecting order (stable: ties keep call order); None on a cycle."""
    pending = {s.name: set(s.depends) for s in steps}
    order: list[str] = []
    while pending:
        ready = [n for n, deps in pending.items() if not deps]
        if not ready:
            return None
        for name in ready:
            del pending[name]
            order.append(name)
        for deps in pending.values():
            deps.difference_update(ready)
    return order


def validate_options(raw: dict[str, Any], where: str | None, step: str | None = None) -> StepOptions:
    """Kale-style step options (durations, quantities) as a validated :class:`StepOptions`."""
    label = f"step {step!r}: " if step else ""
    data = dict(raw)
    for key in ("limits", "labels", "annotations"):
        if data.get(key) is not None and not isinstance(data[key], Mapping):
            raise PipelineError(f"{label}{key} must be a dict, got {type(data[key]).__name__} "
                                f"{data[key]!r}"[:300], where=where, hint=_OPTION_HINTS[key])
    for key in ("retry_interval", "retry_max_interval", "timeout"):
        if data.get(key) is not None:
            data[key] = validate_duration(data[key], f"{label}{key}", where)
    if data.get("limits"):
        limits = {}
        for resource, amount in dict(data["limits"]).items():
            limits[str(resource)] = validate_quantity(amount, f"{label}limit {resource!r}", where)
        data["limits"] = limits
    for key in ("labels", "annotations"):
        if data.get(key):
            data[key] = {str(k): str(v) for k, v in dict(data[key]).items()}
    clean = {k: v for k, v in data.items() if v is not None}
    try:
        return StepOptions.model_validate(clean)
    except Exception as exc:  # pydantic.ValidationError
        errors: list[Any] = getattr(exc, "errors", lambda: [])()
        field = str(errors[0]["loc"][0]) if errors and errors[0].get("loc") else ""
        raise PipelineError(f"{label}{first_error(exc)}", where=where,
                            hint=_OPTION_HINTS.get(field)) from None


_OPTION_HINTS = {
    "limits": "e.g. limits={'cpu': '1', 'memory': '2Gi', 'nvidia.com/gpu': '1'}",
    "labels": "e.g. labels={'team': 'ml'}",
    "annotations": "e.g. annotations={'owner': 'me@example.com'}",
    "retry_count": "a whole number of retries, e.g. retry_count=3",
    "retry_factor": "a number greater than 0 that multiplies the interval, e.g. retry_factor=2",
    "image": "e.g. image='python:3.11-slim' or 'registry/name@sha256:...'",
}


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:[<>=!~;@(]|$)")


def requirement_name(requirement: str) -> str | None:
    """The distribution a pip requirement names (``scikit-learn>=1`` -> ``scikit-learn``); None
    for a URL or a path."""
    found = _REQUIREMENT.match(requirement)
    return found.group(1) if found and "://" not in requirement.split("@")[0] else None


def first_error(exc: Exception) -> str:
    """The first message of a pydantic ValidationError, one line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        items = errors()
        if items:
            loc = ".".join(str(p) for p in items[0].get("loc", ()))
            msg = str(items[0].get("msg", "")).removeprefix("Value error, ")
            return f"{loc}: {msg}" if loc else msg
    return str(exc).splitlines()[0]


@dataclass(frozen=True)
class RunWorkspace:
    """What a prepared workspace gives a run (the cluster layer makes it, the compiler applies it):
    the volumes with their snapshots, the notebook's image, where the script runs from."""

    volumes: tuple[VolumeSpec, ...] = ()
    image: str | None = None
    script_path: str | None = None
    working_dir: str | None = None
    colocate: bool = False
    annotations: Mapping[str, str] = dc_field(default_factory=dict)
