"""Fan-outs and conditions the tracer cannot express fail before any step runs: one line with
file:line and a hint, exit 2 (``kale-argo run``, in process)."""

from __future__ import annotations

import pytest

from tests.integration.test_local_errors import MAIN, STEP, _check_one_line

FLOW_STEP = STEP.replace("from kale_argo import pipeline, step", "from kale_argo import pipeline, step, when")

# name -> (pipeline body after the steps, the line the error names, words the message must contain)
CASES = {
    "comparison_in_if": ('''
@pipeline(name="p")
def p(n=1):
    x = a(n)
    if x > 0.5:
        a(n)
''', "    if x > 0.5:", ["has no value while the pipeline is traced", "with when(a > b):"]),
    "chained_comparison": ('''
@pipeline(name="p")
def p(n=1):
    x = a(n)
    with when(0.1 < x < 0.9):
        a(n)
''', "    with when(0.1 < x < 0.9):", ["a chained a < b < c", "combine comparisons with & and |"]),
    "loop_over_output": ('''
@pipeline(name="p")
def p(n=1):
    xs = a(n)
    for x in xs:
        a(x)
''', "    for x in xs:", ["cannot be unpacked after the call", "fan out: my_step.map(xs)"]),
    "when_plain_value": ('''
@pipeline(name="p")
def p(n=1):
    with when(True):
        a(n)
''', "    with when(True):", ["when() takes a comparison", "use a plain `if`"]),
    "conditional_value_outside": ('''
@pipeline(name="p")
def p(n=1):
    x = a(n)
    with when(x > 1):
        y = a(n)
    a(y)
''', "    a(y)", ["reads 'y' of step 'a_2', which runs only when x > 1",
                "inside the same `with when(...)` block"]),
    "map_over_number_parameter": ('''
@pipeline(name="p")
def p(n=1):
    a.map(n)
''', "    a.map(n)", ["fans out over parameter 'n', a int", "a str holding a JSON list"]),
    "parallelism_zero": ('''
@pipeline(name="p")
def p(n=1):
    a.map([1, 2], parallelism=0)
''', "    a.map([1, 2], parallelism=0)", ["parallelism must be a whole number of at least 1",
                                         "hint:"]),
    "condition_on_fan_out": ('''
@pipeline(name="p")
def p(n=1):
    xs = a.map([1, 2])
    with when(xs > 1):
        a(n)
''', "    with when(xs > 1):", ["list of a fan-out's results, which a condition cannot take",
                              "hint:"]),
    "condition_on_a_list": ('''
@pipeline(name="p")
def p(n=1):
    x = a(n)
    with when(x == [1]):
        a(n)
''', "    with when(x == [1]):", ["a condition compares a list", "hint:"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unsupported_flow_is_one_line_with_a_hint(case, make_script, call_cli):
    body, marker, words = CASES[case]
    script = make_script(FLOW_STEP + body + MAIN, f"{case}.py")
    _check_one_line(call_cli("run", script), script, marker, words)
