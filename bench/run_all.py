"""``make bench``: run every ``bench/bench_*.py`` in its own process, gather the rows, print one
table and write ``bench/RESULTS.md`` with a description of the machine.

A script that is missing, fails or writes no well-formed rows is reported as such in the table and
makes the exit code 1; a missed target is a ``MISS`` row, not a failure of the harness.
``--quick`` passes ``--quick`` through (a smoke run: RESULTS.md is then not written unless
``--output`` says where).
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from common import Row, format_table  # noqa: E402

from kale_argo.app import write_atomic  # noqa: E402

# Every benchmark script; one that is absent is reported, not skipped silently.
EXPECTED = ("bench_marshal.py", "bench_startup.py", "bench_local.py", "bench_compile.py",
            "bench_frames.py", "bench_small.py", "bench_cluster.py")
DATA_DIR = BENCH_DIR / ".data"
PACKAGES = ("numpy", "pandas", "pyarrow", "dill", "hera", "kale-argo")


@dataclass
class Outcome:
    """What one bench script produced: its rows, or why it has none."""

    script: str
    rows: list[Row] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    summary: str = ""
    load: str = ""  # the load average (1/5/15 min) when it started and when it ended

    @property
    def ok(self) -> bool:
        return self.error is None


def parse_rows(data: object) -> list[Row]:
    """Rows from a bench script's ``--json`` output; ValueError naming the first malformed field."""
    if not isinstance(data, list) or not data:
        raise ValueError("expected a non-empty JSON list of rows")
    names = {f.name for f in fields(Row)}
    required = names - {"note", "spread"}
    rows = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"row {i} is not an object")
        missing = required - item.keys()
        if missing:
            raise ValueError(f"row {i} lacks {', '.join(sorted(missing))}")
        extra = item.keys() - names
        if extra:
            raise ValueError(f"row {i} has unknown fields {', '.join(sorted(extra))}")
        for key in ("ours", "reference"):
            value = item[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ValueError(f"row {i} ({item.get('figure')!r}): {key} is not a number: {value!r}")
        if not isinstance(item["passed"], bool):
            raise ValueError(f"row {i} ({item['figure']!r}): passed is not true/false")
        for key in ("figure", "unit", "target", "note", "spread"):
            if key in item and not isinstance(item[key], str):
                raise ValueError(f"row {i}: {key} is not a string")
        if not item["figure"].strip():
            raise ValueError(f"row {i}: empty figure name")
        rows.append(Row(**item))
    return rows


def script_summary(path: Path) -> str:
    """The first paragraph of a script's docstring (what it measures against what), without running it."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError, ValueError):
        return ""
    return " ".join(doc.split("\n\n")[0].split())


def run_script(path: Path, quick: bool, timeout: float) -> Outcome:
    """Run one bench script with ``--json`` in its own process and gather its rows."""
    outcome = Outcome(path.name, summary=script_summary(path))
    started_load = _load()
    if not path.exists():
        outcome.error = "missing (not written yet)"
        return outcome
    with tempfile.TemporaryDirectory(prefix="kale-bench-") as tmp:
        out = Path(tmp) / "rows.json"
        argv = [sys.executable, str(path), "--json", str(out)] + (["--quick"] if quick else [])
        start = time.perf_counter()
        try:
            proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            outcome.error = f"timed out after {timeout:g} s"
            return outcome
        finally:
            outcome.seconds = time.perf_counter() - start
            outcome.load = f"load {started_load} at its start, {_load()} at its end"
        if proc.returncode != 0:
            outcome.error = f"exit code {proc.returncode}: {_tail(proc.stderr or proc.stdout)}"
            return outcome
        try:
            outcome.rows = parse_rows(json.loads(out.read_text(encoding="utf-8")))
        except FileNotFoundError:
            outcome.error = "wrote no --json file"
        except (json.JSONDecodeError, ValueError, TypeError) as exc:
            outcome.error = f"malformed rows: {exc}"
    return outcome


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " / ".join(kept) or "no output"


def discover(bench_dir: Path = BENCH_DIR) -> list[Path]:
    """Every ``bench_*.py`` present, plus the expected ones that are missing, sorted by name."""
    names = {p.name for p in bench_dir.glob("bench_*.py")} | set(EXPECTED)
    return [bench_dir / name for name in sorted(names)]


def machine_description(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """CPU, cores, RAM, the data dir's disk and filesystem, Python and library versions, the date."""
    data_dir.mkdir(parents=True, exist_ok=True)
    usage = shutil.disk_usage(data_dir)
    fs_type, device = _filesystem(data_dir)
    info = {
        "date (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": _gib(_ram_bytes()),
        "data dir": f"{data_dir} ({fs_type} on {device}, {_gib(usage.free)} free of {_gib(usage.total)})",
        "OS": f"{platform.system()} {platform.release()}",
        "load average (1/5/15 min, when written)": _load(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "bytecode": "kale_argo precompiled before the run (as installed); PYTHONDONTWRITEBYTECODE="
                    + os.environ.get("PYTHONDONTWRITEBYTECODE", "(unset)"),
    }
    for name in PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


def precompile() -> None:
    """Write kale_argo's bytecode (``__pycache__``) as an installed package has it, so step starts
    are not measured compiling sources (e.g. where PYTHONDONTWRITEBYTECODE is set)."""
    import compileall

    compileall.compile_dir(str(ROOT / "kale_argo"), quiet=2)


def _load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except (OSError, AttributeError):
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _filesystem(path: Path) -> tuple[str, str]:
    """(filesystem type, device) of the mount holding ``path``, from /proc/mounts."""
    best = ("", "unknown", "unknown")
    target = str(path.resolve())
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            device, mount, fs_type = parts[0], parts[1].replace("\\040", " "), parts[2]
            inside = target == mount or target.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) > len(best[0]):
                best = (mount, fs_type, device)
    except OSError:
        pass
    return best[1], best[2]


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n else "unknown"


def render(outcomes: list[Outcome], machine: dict[str, str], quick: bool) -> str:
    """RESULTS.md: the machine, one table per script, what each compares, and what failed."""
    rows = [r for o in outcomes for r in o.rows]
    missed = [r.figure for r in rows if not r.passed]
    broken = [o for o in outcomes if not o.ok]
    lines = ["# Benchmark results", "",
             "Generated by `make bench` (`bench/run_all.py`); do not edit by hand."
             + (" **Quick smoke run: tiny sizes, not figures.**" if quick else ""), "",
             f"{len(rows)} figures: {len(rows) - len(missed)} pass, {len(missed)} miss their target; "
             f"{len(broken)} of {len(outcomes)} scripts did not produce figures.", "",
             "## Machine", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    lines += ["", "## Figures", "",
              "Ratios are ours / reference, medians of repeated runs measured side by side in the "
              "same script run, the variants alternated (A B A B ...); `MISS` means the target was not met. "
              "The machine (2 cores) is shared with other work: read the ratios, not the absolute "
              "times, and the min/median/max and each script's load average for the noise.", ""]
    lines += [format_table(rows) if rows else "(no figures)", ""]
    if missed:
        lines += ["## Above target", "",
                  "Each figure that missed its target, by how much, and why (the figure's note):", ""]
        lines += [f"- {r.figure}: {r.ratio:.3g}x, target {r.target}" + (f". {r.note}" if r.note else "")
                  for r in rows if not r.passed]
        lines += [""]
    lines += ["## What was measured against what", ""]
    for o in outcomes:
        status = (f"{len(o.rows)} figures in {o.seconds:.1f} s; {o.load}" if o.ok
                  else f"**NOT MEASURED: {o.error}**")
        lines += [f"- `{o.script}` ({status})" + (f": {o.summary}" if o.summary else "")]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every script")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the report (default bench/RESULTS.md; none with --quick)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed per script")
    parser.add_argument("scripts", nargs="*", help="run only these bench scripts (names or paths)")
    args = parser.parse_args(argv)
    paths = [Path(s) if "/" in s else BENCH_DIR / s for s in args.scripts] or discover()
    precompile()
    outcomes = []
    for path in paths:
        print(f"== {path.name} ...", flush=True)
        outcome = run_script(path, args.quick, args.timeout)
        print(f"   {'ok' if outcome.ok else 'FAILED: ' + str(outcome.error)} ({outcome.seconds:.1f} s)",
              flush=True)
        outcomes.append(outcome)
    report = render(outcomes, machine_description(), args.quick)
    print()
    print(report)
    output = args.output or (None if args.quick else BENCH_DIR / "RESULTS.md")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(str(output), report)
        print(f"written to {output}")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
