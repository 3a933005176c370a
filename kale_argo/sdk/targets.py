"""What the pipeline body does with a step call's result, read from the caller's bytecode.

``a, b = split(x)`` unpacks two outputs named a and b; ``model = train(a)`` keeps one named model;
``evaluate(model)`` discards it; ``f(train(a))`` passes one unnamed output on.
"""

from __future__ import annotations

import dis
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType, FrameType

_STORES = {"STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF"}
_SKIP = {"CACHE", "EXTENDED_ARG", "NOP"}


@dataclass(frozen=True)
class Targets:
    """How a call's result is used: unpacked or not, the variable names it is assigned to (none
    when discarded)."""

    unpack: bool
    names: tuple[str | None, ...]
    starred: bool = False  # ``a, *rest = step(x)``: a count the call cannot know


@lru_cache(maxsize=256)
def _instructions(code: CodeType) -> tuple[dis.Instruction, ...]:
    return tuple(i for i in dis.get_instructions(code) if i.opname not in _SKIP)


def _store_names(instr: dis.Instruction) -> tuple[str | None, ...] | None:
    if instr.opname in _STORES:
        return (instr.argval,)
    if instr.opname == "STORE_FAST_STORE_FAST":  # Python 3.13+
        value = instr.argval
        return tuple(value) if isinstance(value, tuple) else tuple(instr.argrepr.split(", "))
    if instr.opname.startswith("STORE_"):
        return (None,)  # attribute or subscript target
    return None


def call_targets(frame: FrameType) -> Targets:
    """The targets of the call being executed at ``frame.f_lasti``."""
    code = frame.f_code
    instructions = _instructions(code)
    following = [i for i in instructions if i.offset > frame.f_lasti]
    if not following:
        return Targets(False, (None,))
    first = following[0]
    if first.opname == "POP_TOP":
        return Targets(False, ())
    if first.opname == "UNPACK_EX":
        return Targets(False, (None,), starred=True)
    if first.opname == "UNPACK_SEQUENCE":
        count = int(first.arg or 0)
        names: list[str | None] = []
        for instr in following[1:]:
            got = _store_names(instr)
            if got is None:
                break
            names.extend(got)
            if len(names) >= count:
                break
        names += [None] * (count - len(names))
        return Targets(True, tuple(names[:count]))
    got = _store_names(first)
    if got is not None:
        return Targets(False, got[:1])
    return Targets(False, (None,))
