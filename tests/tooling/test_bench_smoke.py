"""Every bench script runs with ``--quick`` and emits well-formed rows; ``run_all`` reports the rest."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(BENCH.glob("bench_*.py"))


def _load_run_all():
    spec = importlib.util.spec_from_file_location("kale_bench_run_all", BENCH / "run_all.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


run_all = _load_run_all()


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_bench_script_quick_emits_rows(script: Path, tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, str(script), "--quick", "--repeat", "1", "--json", str(out)],
                          cwd=BENCH.parent, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = run_all.parse_rows(json.loads(out.read_text()))
    assert all(r.figure for r in rows)
    assert "| figure |" in proc.stdout  # the table is printed too
    assert run_all.script_summary(script), f"{script.name} needs a docstring saying what it measures"


def _fake_script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text('"""Fake bench: ours vs a reference."""\nimport json, sys\n'
                    'out = sys.argv[sys.argv.index("--json") + 1]\n' + body)
    return path


GOOD_ROW = {"figure": "f", "ours": 1.0, "reference": 2.0, "unit": "s", "target": "<= 1x",
            "passed": True, "note": ""}


def test_run_script_gathers_rows_and_passes_quick(tmp_path: Path) -> None:
    script = _fake_script(tmp_path, "bench_ok.py",
                          f"row = {GOOD_ROW!r}\n"
                          "row['figure'] = 'quick' if '--quick' in sys.argv else 'full'\n"
                          "json.dump([row], open(out, 'w'))\n")
    assert [r.figure for r in run_all.run_script(script, quick=True, timeout=60).rows] == ["quick"]
    outcome = run_all.run_script(script, quick=False, timeout=60)
    assert outcome.ok and outcome.rows[0].ratio == 0.5 and outcome.summary.startswith("Fake bench")


@pytest.mark.parametrize(("body", "error"), [
    ("sys.exit('boom: no disk')\n", "boom: no disk"),
    ("pass\n", "wrote no --json file"),
    ("open(out, 'w').write('not json')\n", "malformed rows"),
    ("json.dump([{'figure': 'f'}], open(out, 'w'))\n", "lacks"),
    (f"json.dump([dict({GOOD_ROW!r}, ours='fast')], open(out, 'w'))\n", "not a number"),
    (f"json.dump([dict({GOOD_ROW!r}, passed='yes')], open(out, 'w'))\n", "passed"),
])
def test_failing_or_malformed_script_is_reported(tmp_path: Path, body: str, error: str) -> None:
    outcome = run_all.run_script(_fake_script(tmp_path, "bench_bad.py", body), quick=True, timeout=60)
    assert not outcome.ok and error in str(outcome.error)


def test_missing_script_is_reported_not_hidden(tmp_path: Path) -> None:
    outcome = run_all.run_script(tmp_path / "bench_absent.py", quick=True, timeout=60)
    report = run_all.render([outcome], {"CPU": "x"}, quick=True)
    assert "bench_absent.py" in report and "NOT MEASURED: missing" in report
    assert {p.name for p in run_all.discover(tmp_path)} >= set(run_all.EXPECTED)


def test_report_has_machine_table_and_misses(tmp_path: Path) -> None:
    machine = run_all.machine_description(tmp_path)
    for key in ("CPU", "cores", "RAM", "data dir", "Python", "numpy", "pandas", "pyarrow", "date (UTC)"):
        assert machine[key]
    miss = run_all.Row("slow thing", 3.0, 1.0, "s", "<= 1.3x", False, "why")
    ok = run_all.Outcome("bench_x.py", rows=[miss], summary="x vs y")
    text = run_all.render([ok], machine, quick=False)
    assert "| slow thing | 3 s | 1 s | 3x | <= 1.3x | MISS | - | why |" in text
    assert "1 miss their target" in text and "x vs y" in text
    assert "## Above target" in text and "- slow thing: 3x, target <= 1.3x. why" in text
    target = tmp_path / "RESULTS.md"
    run_all.write_atomic(str(target), text)
    assert target.read_text() == text and [p.name for p in tmp_path.iterdir()] == ["RESULTS.md"]


def test_main_exit_code_and_output(tmp_path: Path) -> None:
    good = _fake_script(tmp_path, "bench_ok.py", f"json.dump([{GOOD_ROW!r}], open(out, 'w'))\n")
    out = tmp_path / "report.md"
    assert run_all.main(["--quick", "--output", str(out), str(good)]) == 0
    assert "| f | 1 s | 2 s | 0.5x" in out.read_text()
    assert run_all.main(["--quick", "--output", str(out), str(good), str(tmp_path / "bench_gone.py")]) == 1
    assert "bench_gone.py" in out.read_text()
