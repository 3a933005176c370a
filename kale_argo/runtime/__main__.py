"""``python -m kale_argo.runtime --script S --marshal-dir D --call JSON [--param N=V]...``"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None, *, fork: bool = True) -> int:
    """Parse the step command and run the step (in a supervised child process where ``fork``
    and the platform allow, :mod:`.supervise`); returns the exit code."""
    import os
    import signal

    from .contract import parse_argv
    from .step import raise_terminated, run

    try:
        cmd = parse_argv(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:  # --call is not JSON
        print(f"kale-argo: --call is not valid JSON ({exc})", file=sys.stderr)
        return 2
    call = cmd.call
    if fork and hasattr(os, "fork") and isinstance(call, dict) and isinstance(call.get("step"), str):
        from .marshal.binding import RUN_ID_ENV
        from .supervise import supervise

        return supervise(cmd, cmd.step_name(), cmd.output_keys(), os.environ.get(RUN_ID_ENV) or None)
    signal.signal(signal.SIGTERM, raise_terminated)
    return run(cmd)


if __name__ == "__main__":
    sys.exit(main())
