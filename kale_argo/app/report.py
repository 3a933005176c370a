"""The one place errors become what a user sees: one line on stderr and an exit code.

A :class:`~kale_argo.errors.UserError` exits 2, a failed run 1, Ctrl-C 130; a traceback only
with ``--debug`` (which keeps the exit codes). Used by the CLI and by ``python SCRIPT``. Log records
reach stderr with registered credentials scrubbed (:func:`redact_logs`).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

from ..errors import KaleArgoError


def report_errors(action: Callable[[], int], debug: bool) -> int:
    """``action()``'s exit code; a KaleArgoError is one line on stderr and its exit code (with
    ``debug``, its traceback first), Ctrl-C is 130, a closed stdout (``| head``) 1 without a traceback."""
    try:
        return action()
    except KaleArgoError as exc:
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(f"kale-argo: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return interrupted(debug)
    except BrokenPipeError:
        return closed_stdout()
    except Exception as exc:
        if not from_interrupt(exc):
            raise
        return interrupted(debug)


def from_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by Ctrl-C: an interrupt that landed in code turning exceptions into
    its own (a class body's ``__set_name__`` makes it a RuntimeError, pydantic-core a SchemaError)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def interrupted(debug: bool) -> int:
    """Say the command was interrupted; 130, the exit code of a Ctrl-C handled.

    An interrupt that ended a string's ``exec``/``eval`` (a dataclass's generated methods, a
    namedtuple's ``__new__``) leaves CPython's flag that the program ended on Ctrl-C set, caught or
    not, and the interpreter would then end itself by SIGINT; evaluating a string that completes
    clears it."""
    if debug:
        traceback.print_exc(file=sys.stderr)
    print("kale-argo: interrupted", file=sys.stderr)
    exec("None")  # a constant string: clears the flag (CPython's run_eval_code_obj)
    return 130


def closed_stdout() -> int:
    """The reader of our output went away (``kale-argo run x.py | head``): stop quietly, exit 1.

    Whatever was running has been stopped by then; stdout is pointed at /dev/null so that the
    interpreter's final flush does not fail with a second traceback.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 1


def redact_logs() -> None:
    """Scrub registered credentials from every log handler's records (the CLI's stderr handler too)."""
    from ..cluster.redact import _install_filter

    _install_filter()
