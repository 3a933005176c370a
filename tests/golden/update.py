"""The golden files: the compiled Workflow YAML of every example, ``tests/golden/<example>.yaml``.

``make golden`` (or ``python tests/golden/update.py``) regenerates them after a compiler change;
review the diff and commit it. ``tests/unit/test_golden.py`` compares them byte for byte.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
EXAMPLES = sorted((REPO / "examples").glob("*.py"))
COMMAND = "make golden"


def compile_example(example: Path) -> str:
    """``example`` traced and compiled with the default options, as ``kale-argo compile`` does."""
    from kale_argo.argo.output import compile_yaml
    from kale_argo.sdk.loader import load_pipeline

    return compile_yaml(load_pipeline(str(example), None).trace())


def golden_path(example: Path) -> Path:
    return GOLDEN / f"{example.stem}.yaml"


def main() -> int:
    """Write every example's golden file (and remove goldens whose example is gone)."""
    wanted = {golden_path(example): compile_example(example) for example in EXAMPLES}
    for path, text in wanted.items():
        data = text.encode()
        if not path.is_file() or path.read_bytes() != data:
            tmp = path.with_suffix(".yaml.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            print(f"updated {path.relative_to(REPO)}")
    for stale in sorted(set(GOLDEN.glob("*.yaml")) - set(wanted)):
        stale.unlink()
        print(f"removed {stale.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    sys.exit(main())
