"""PipelineSpec validation of hand-built IR (what tracing cannot produce, e.g. a cycle)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kale_argo.errors import UserError
from kale_argo.spec import PipelineSpec, topological_order

SCRIPT = {"path": "/x/pipe.py", "sha256": "0" * 64, "pipeline_function": "p"}


def spec(steps, **extra) -> PipelineSpec:
    return PipelineSpec.model_validate({"name": "p", "steps": steps, "script": SCRIPT, **extra})


def node(name, depends=(), outputs=(), args=()):
    return {"name": name, "step": name, "function": name, "depends": list(depends),
            "outputs": list(outputs), "args": list(args)}


def test_a_cycle_is_rejected():
    with pytest.raises(ValidationError, match="cycle"):
        spec([node("a", ["c"]), node("b", ["a"]), node("c", ["b"])])


def test_a_self_loop_is_rejected():
    with pytest.raises(ValidationError, match="cycle"):
        spec([node("a", ["a"])])


def test_unknown_dependency():
    with pytest.raises(ValidationError, match="unknown step 'z'"):
        spec([node("a", ["z"])])


def test_value_read_before_it_is_produced():
    reader = node("b", args=[{"kind": "value", "key": "x", "producer": "a"}])
    with pytest.raises(ValidationError, match="reads 'x' before step 'a' produced it"):
        spec([reader, node("a", outputs=["x"])])


def test_duplicate_step_names_and_keys():
    with pytest.raises(ValidationError, match="not unique"):
        spec([node("a"), node("a")])
    with pytest.raises(ValidationError, match="produced twice"):
        spec([node("a", outputs=["x"]), node("b", outputs=["x"])])


def test_unknown_parameter_and_bad_names():
    with pytest.raises(ValidationError, match="unknown parameter 'n'"):
        spec([node("a", args=[{"kind": "param", "name": "n"}])])
    with pytest.raises(ValidationError, match="cannot become a Kubernetes name"):
        PipelineSpec.model_validate({"name": "___", "steps": [node("a")], "script": SCRIPT})
    with pytest.raises(ValidationError, match="calls no step"):
        spec([])


def test_marshal_settings_are_validated():
    with pytest.raises((ValidationError, UserError), match="did you mean 10G or 10Gi"):
        spec([node("a")], marshal={"size": "10GB"})
    with pytest.raises(ValidationError, match="absolute"):
        spec([node("a")], marshal={"path": "data"})
    with pytest.raises(ValidationError, match="needs a workspace volume"):
        spec([node("a")], marshal={"volume": False})


def test_json_round_trip_and_order():
    s = spec([node("a", outputs=["x"]),
              node("b", ["a"], args=[{"kind": "value", "key": "x", "producer": "a"}]),
              node("c")], parameters=[{"name": "n", "type": "int", "default": 3}])
    again = PipelineSpec.from_json(s.to_json())
    assert again == s and again.to_json() == s.to_json()
    assert topological_order(list(s.steps)) == ["a", "c", "b"]


def test_resolve_parameters_errors():
    s = spec([node("a")], parameters=[{"name": "count", "type": "int", "default": 1}])
    with pytest.raises(UserError, match="did you mean 'count'"):
        s.resolve_parameters({"cuont": 2})
    with pytest.raises(UserError, match="expects int"):
        s.resolve_parameters({"count": "x"})
    assert s.resolve_parameters({"count": "010"}) == {"count": 10}
