"""What a local run produced: each step's status, duration and outputs (the outputs read from the
runtime's per-step record, :mod:`kale_argo.runtime.record`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUCCEEDED, FAILED, SKIPPED, CANCELLED, PENDING, RUNNING = (
    "succeeded", "failed", "skipped", "cancelled", "pending", "running")


@dataclass
class StepResult:
    """One step of a local run."""

    name: str
    status: str = PENDING
    duration: float | None = None
    returncode: int | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    attempts: int = 0
    kept: bool = False
    """Set when resuming a run: the earlier run's outputs were verified and kept."""
    cached: float | None = None
    """Set when the outputs came from the step cache: the duration of the run that stored them."""
    tail: list[str] = field(default_factory=list, repr=False)

    @property
    def output_bytes(self) -> int:
        """Total size of the step's marshalled outputs."""
        return sum(int(o.get("bytes") or 0) for o in self.outputs.values())


@dataclass
class LocalRun:
    """A finished local run: ``steps`` in the pipeline's call order."""

    pipeline: str
    marshal_dir: str
    params: dict[str, Any]
    steps: dict[str, StepResult]
    duration: float = 0.0
    script: str | None = None
    run_id: str | None = None

    @property
    def succeeded(self) -> bool:
        """Every step succeeded or was skipped by its condition (a failure skips steps too, but
        then one failed)."""
        return all(s.status in (SUCCEEDED, SKIPPED) for s in self.steps.values())

    def fan_out_length(self, key: str) -> int | None:
        """How many values the fan-out whose output is ``key`` gathered (None: ``key`` is no
        output of a fan-out of this run that succeeded)."""
        import os

        from ..spec import PipelineSpec
        from .flow import FlowError, list_length

        try:
            with open(os.path.join(self.marshal_dir, ".kale", "pipeline.json")) as fh:
                spec = PipelineSpec.from_json(fh.read())
        except (OSError, ValueError):
            return None
        for step in spec.steps:
            result = self.steps.get(step.name)
            if step.map_over is not None and key in step.outputs and result is not None \
                    and result.status == SUCCEEDED:
                try:
                    return list_length(self.marshal_dir, step.map_over, self.params)
                except FlowError:
                    return None
        return None

    def load(self, key: str) -> Any:
        """The value a step stored under ``key`` (its variable name in the pipeline body; for a
        fan-out's output, the list of its instances' values).

        The script is imported first (as the steps import it) so its own classes unpickle. The
        value must have been stored by this run (and carry a valid tag of its key).
        """
        import os

        from ..runtime import marshal
        from ..runtime.contract import element_key
        from ..runtime.marshal.binding import read_key
        from ..runtime.script import import_script
        from .rundir import KEY_FILE

        count = self.fan_out_length(key)
        keys = [key] if count is None else [element_key(key, i) for i in range(count)]
        if count is None and marshal.describe(self.marshal_dir, key) is None:
            from ..errors import UserError, did_you_mean

            names = sorted(str(v.get("key")) for v in marshal.list_values(self.marshal_dir))
            raise UserError(f"run {self.pipeline!r} has no value {key!r} (in {self.marshal_dir})",
                            hint=did_you_mean(key, names) or f"its values: {', '.join(names) or 'none'}")
        if self.script:
            import_script(self.script)
        binding = None
        if self.run_id is not None:
            key_file = os.path.join(self.marshal_dir, KEY_FILE)
            binding = marshal.RunBinding(self.run_id, read_key(key_file))
        values = [marshal.load(self.marshal_dir, k, binding=binding) for k in keys]
        return values if count is not None else values[0]

    @property
    def artifacts(self) -> dict[str, dict[str, str]]:
        """The steps' ``@artifact`` files kept in the marshal folder: ``{step: {name: path}}``."""
        from ..runtime.artifacts import list_artifacts

        return list_artifacts(self.marshal_dir)

    def failed_steps(self) -> list[StepResult]:
        """Steps that ran and failed."""
        return [s for s in self.steps.values() if s.status == FAILED]
