"""The views: the live table (a terminal) and plain lines (a pipe), colour rules, SVG pictures of
a pipeline and of a run coloured by step status, and a submitted run's DAG read from its Workflow."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest

from kale_argo.views import live
from kale_argo.views.graph import dag_of, dag_of_workflow, render_graph
from kale_argo.views.style import use_colour
from kale_argo.views.svg import render_svg
from tests.fakes.argo_status import status as argo_status
from tests.fakes.pipelines import demo_spec

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def workflow(tmp_path):
    from kale_argo.app.compiling import compile_dict
    from kale_argo.argo.options import CompileOptions

    spec = demo_spec(tmp_path)
    wf = compile_dict(spec, {}, CompileOptions())
    wf["metadata"]["name"] = "demo-pipe-abcde"
    wf["status"] = argo_status(wf, "Running", {"load": "Succeeded", "train": "Failed"},
                               messages={"train": "exit code 3"})
    return wf


def test_table_view_redraws_one_table_in_place(workflow, monkeypatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    out = Terminal()
    view = live.live_view(out)
    assert isinstance(view, live.TableView)
    view.update(workflow)
    view.update(workflow)
    view.close()
    text = out.getvalue()
    assert "\x1b[4F" in text  # the second drawing moves up over the first (title, header, 2 steps)
    frames = ANSI.sub("", text).split("demo-pipe-abcde")[1:]
    last = frames[-1].splitlines()
    assert [line.split()[0] for line in last[2:4]] == ["load", "train"]  # pipeline order
    assert last[2].index("Succeeded") == last[3].index("Failed")  # aligned
    assert "\x1b[31m" in text  # Failed in red on a terminal


def test_line_view_is_plain_aligned_and_beats(workflow, monkeypatch) -> None:
    out = io.StringIO()
    view = live.LineView(out, heartbeat=0.05)
    view.update(workflow)
    view.update(workflow)  # nothing changed: nothing printed
    deadline = __import__("time").monotonic() + 10
    while "still Running" not in out.getvalue() and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.02)
    view.close()
    text = out.getvalue()
    assert "\x1b" not in text
    lines = text.splitlines()
    assert lines[0] == "demo-pipe-abcde: Running"
    steps = [line for line in lines if line.startswith("  ")]
    assert len(steps) == 2 and steps[0].index("Succeeded") == steps[1].index("Failed")
    assert "still Running" in text


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(Terminal()) and not use_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(Terminal())


def test_svg_labels_edges_and_colours_steps(tmp_path) -> None:
    spec = demo_spec(tmp_path)
    plain = ET.fromstring(render_svg(spec))
    texts = [t.text for t in plain.iter("{http://www.w3.org/2000/svg}text")]
    assert {"load", "train"} <= set(texts) and "load_output" in texts  # the value train takes from load
    coloured = render_svg(spec, {"load": "Succeeded", "train": "failed"})
    ET.fromstring(coloured)
    assert "#c62828" in coloured and "#2e7d32" in coloured  # Failed (local spelling) and Succeeded
    assert "#c62828" not in render_svg(spec)


def test_a_runs_dag_comes_from_its_workflow(workflow, tmp_path) -> None:
    from kale_argo.app.manage import run_status

    dag = dag_of_workflow(workflow)
    spec_dag = dag_of(demo_spec(tmp_path))
    assert dag.steps == spec_dag.steps and dag.edges == spec_dag.edges and dag.name == "demo-pipe"
    status = run_status(workflow)
    assert status == {"load": "Succeeded", "train": "Failed"}
    text = render_graph(dag, "text", status)
    assert "load (Succeeded)" in text and "train (Failed)  <- load_output" in text
    assert "style train fill:#fbdada" in render_graph(dag, "mermaid", status)


def test_png_where_a_renderer_exists_else_one_line_saying_how(tmp_path) -> None:
    from kale_argo.errors import ConfigError
    from kale_argo.views.svg import svg_to_png

    svg = render_svg(demo_spec(tmp_path))
    try:
        import cairosvg  # noqa: F401
    except (ImportError, OSError):
        with pytest.raises(ConfigError, match=r"kale-argo\[png\]"):
            svg_to_png(svg)
    else:
        assert svg_to_png(svg).startswith(b"\x89PNG\r\n")
