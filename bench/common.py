"""Shared benchmark plumbing: medians of repeated timings and one result format for `make bench`.

Each ``bench/bench_*.py`` script measures ours against a reference *in the same run*, prints its
rows and, with ``--json FILE``, writes them for ``bench/run_all.py`` to gather into RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Row:
    """One figure: ours vs the reference, the ratio and whether it meets the target."""

    figure: str
    ours: float
    reference: float
    unit: str
    target: str
    passed: bool
    note: str = ""
    spread: str = ""  # min / median / max of each side, as text

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("inf")


def run_binding() -> Any:
    """The binding a local run's steps save under: a run key, the checksum the executor chooses."""
    from kale_argo.runtime.marshal import RunBinding
    from kale_argo.runtime.marshal.files import best_keyed

    return RunBinding("bench", b"k" * 64, best_keyed())


def checksum_name(binding: Any) -> str:
    """``BLAKE3`` or ``SHA-256``: the keyed checksum ``binding`` records."""
    return {"blake3": "BLAKE3", "sha256": "SHA-256"}.get(binding.algorithm, binding.algorithm)


def timings(fn: Callable[[], object], repeat: int = 5, setup: Callable[[], object] | None = None
            ) -> list[float]:
    """Wall times in seconds of ``fn()`` over ``repeat`` runs (``setup`` untimed before each)."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def ratio_row(figure: str, ours: float, reference: float, max_ratio: float, unit: str = "s",
              note: str = "", spread: str = "") -> Row:
    """A row passing when ``ours / reference <= max_ratio``."""
    ratio = ours / reference if reference else float("inf")
    return Row(figure, ours, reference, unit, f"<= {max_ratio:g}x", ratio <= max_ratio, note, spread)


def spread_of(ours: list[float], reference: list[float], unit: str = "s") -> str:
    """``ours min/median/max; reference min/median/max`` as text."""
    def one(xs: list[float]) -> str:
        return "/".join(f"{x:.3g}" for x in (min(xs), statistics.median(xs), max(xs)))
    return f"{one(ours)} vs {one(reference)} {unit}"


def paired_samples(variants: dict[str, Callable[[], float | None]], repeat: int,
                   after: Callable[[], object] | None = None) -> dict[str, list[float]]:
    """Each variant run in turn (A B A B ...) ``repeat`` times; a variant returning a number gives
    its own timing (e.g. a fresh process's), else its wall time is taken. ``after`` runs after
    each, untimed."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            start = time.perf_counter()
            got = fn()
            samples[name].append(got if isinstance(got, float) else time.perf_counter() - start)
            if after is not None:
                after()
    return samples


def samples_row(figure: str, samples: dict[str, list[float]], ours: str, reference: str,
                max_ratio: float, note: str = "", unit: str = "s") -> Row:
    """A ratio row of the medians of two variants' samples, with their min/median/max."""
    return ratio_row(figure, statistics.median(samples[ours]), statistics.median(samples[reference]),
                     max_ratio, unit=unit, note=note,
                     spread=spread_of(samples[ours], samples[reference], unit))


def format_table(rows: list[Row]) -> str:
    """A Markdown table of ``rows``."""
    lines = ["| figure | ours | reference | ratio | target | result | min/median/max (ours vs reference) "
             "| note |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.figure} | {r.ours:.4g} {r.unit} | {r.reference:.4g} {r.unit} | "
                     f"{r.ratio:.3g}x | {r.target} | {'pass' if r.passed else 'MISS'} | "
                     f"{r.spread or '-'} | {r.note or ''} |")
    return "\n".join(lines)


def main_args(description: str) -> argparse.Namespace:
    """Common flags: ``--json FILE``, ``--quick`` (tiny sizes, for the smoke test), ``--repeat N``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", help="write the rows as JSON to this file")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a figure")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median taken)")
    return parser.parse_args()


def emit(rows: list[Row], args: argparse.Namespace) -> None:
    """Print the table and write the JSON file if asked."""
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(r) for r in rows], fh, indent=1)
