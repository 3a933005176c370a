"""``python -m kale_argo.runtime --script S --marshal-dir D --call JSON [--param N=V]...``"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the step command and run the step; returns the exit code."""
    from .contract import parse_argv
    from .step import run

    try:
        cmd = parse_argv(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:  # --call is not JSON
        print(f"kale-argo: --call is not valid JSON ({exc})", file=sys.stderr)
        return 2
    return run(cmd)


if __name__ == "__main__":
    sys.exit(main())
