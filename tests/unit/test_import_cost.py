"""The light commands stay light: ``kale-argo --version``, ``--help``, ``status --help`` and
``list --help`` import none of the heavy dependencies (the compiler's and the clients').

Each command runs in a fresh interpreter (``python -X importtime``) whose ``atexit`` hook writes
the heavy modules left in ``sys.modules``; the import-time tree names the kale_argo module that
pulled each one in, so a failure says where to look.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kale_argo.lazy import exported

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("hera", "kubernetes", "pydantic", "yaml", "requests", "urllib3")
COMMANDS = (("--version",), ("--help",), ("status", "--help"), ("list", "--help"))
MARK = "HEAVY-MODULES:"

# Runs the CLI as the `kale-argo` console script does; the atexit hook reports what was imported.
PROGRAM = f"""
import atexit, json, sys
def _report():
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
    sys.stderr.write("\\n{MARK}" + json.dumps(heavy) + "\\n")
atexit.register(_report)
from kale_argo.cli.main import main
sys.argv[0] = "kale-argo"
sys.exit(main(sys.argv[1:]))
"""


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    heavy: list[str]
    importtime: list[tuple[int, str]]  # (depth, module) in the order Python reports them


def _parse(proc: subprocess.CompletedProcess[str]) -> Run:
    heavy: list[str] | None = None
    tree: list[tuple[int, str]] = []
    for line in proc.stderr.splitlines():
        if line.startswith(MARK):
            heavy = json.loads(line[len(MARK):])
        elif line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1]
            module = name.strip()
            if module != "package":  # the header line
                tree.append(((len(name) - len(name.lstrip())) // 2, module))
    assert heavy is not None, f"the atexit hook did not run:\n{proc.stderr[-2000:]}"
    return Run(proc.returncode, proc.stdout, heavy, tree)


@pytest.fixture(scope="module")
def runs(subprocess_env: dict[str, str]) -> dict[tuple[str, ...], Run]:
    """Every command at once (one interpreter each, started together)."""
    procs = {args: subprocess.Popen([sys.executable, "-X", "importtime", "-c", PROGRAM, *args],
                                    cwd=REPO, env=subprocess_env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for args in COMMANDS}
    out = {}
    for args, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        out[args] = _parse(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return out


def importers(tree: list[tuple[int, str]], heavy: tuple[str, ...] = HEAVY) -> Iterator[str]:
    """For each heavy package, where it was first imported: ``package <- kale_argo modules above``.

    ``-X importtime`` prints a module after the modules it imported, one level deeper; so the
    importer of the entry at index i is the next entry after it one level up. One line per heavy
    package and kale_argo module importing it directly (its submodules' later imports skipped).
    A chain ends at a module loaded by ``importlib.import_module`` (which importtime does not show).
    """
    seen: set[tuple[str, str]] = set()
    for i, (depth, module) in enumerate(tree):
        top = module.split(".")[0]
        if top not in heavy:
            continue
        chain = [module]
        level = depth
        for later_depth, later in tree[i + 1:]:
            if later_depth < level:
                chain.append(later)
                level = later_depth
        if len(chain) < 2 or chain[1].split(".")[0] in heavy or (top, chain[1]) in seen:
            continue
        seen.add((top, chain[1]))
        yield " <- ".join([module, *(m for m in chain[1:] if m.startswith("kale_argo"))])


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_light_command_imports_no_heavy_dependency(runs: dict[tuple[str, ...], Run],
                                                    args: tuple[str, ...]) -> None:
    run = runs[args]
    assert run.returncode == 0 and run.stdout.strip(), f"kale-argo {' '.join(args)} failed"
    assert any(m == "kale_argo.cli.main" for _, m in run.importtime), "the import tree was not read"
    if run.heavy:
        packages = ", ".join(sorted({m.split(".")[0] for m in run.heavy}))
        pytest.fail(f"`kale-argo {' '.join(args)}` imports {packages}; first imported through:\n  "
                    + "\n  ".join(importers(run.importtime)), pytrace=False)


def test_importers_names_the_module_that_pulled_a_dependency_in() -> None:
    # As -X importtime prints `import kale_argo.cli.main` -> `kale_argo.argo` -> `yaml` (+ `yaml.error`).
    tree = [(3, "yaml.error"), (2, "yaml"), (2, "yaml.cyaml"), (1, "kale_argo.argo"),
            (0, "kale_argo.cli.main"), (0, "json")]
    assert list(importers(tree)) == ["yaml <- kale_argo.argo <- kale_argo.cli.main"]


# What a step process imports before the user's code runs: neither the heavy dependencies nor the
# standard library's slower modules that the runtime needs only now and then (each costs a step
# 1-5 ms: dataclasses pulls in inspect; shutil compression modules; uuid platform; ast...).
STEP_SLOW = ("dataclasses", "inspect", "shutil", "uuid", "difflib", "ast", "platform")


def test_a_step_process_imports_no_slow_module_before_user_code():
    code = ("import sys; import kale_argo.runtime.step, kale_argo.runtime.supervise;"
            "from kale_argo.runtime.contract import parse_argv;"
            "parse_argv(['--script', 's.py', '--marshal-dir', '.', '--call', '{}']);"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {STEP_SLOW + HEAVY!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(REPO))
    assert out.stdout.strip() == "[]"


# What a local run's front ends import before they start the run's fork server (see
# tests/integration/test_warm_starts.py): the application layer's package, its run and script
# modules, the warm starts.
BEFORE_THE_SERVER = ("kale_argo.app", "kale_argo.app.running", "kale_argo.app.script",
                     "kale_argo.local.warm", "kale_argo.app.report")


def test_what_a_run_imports_before_its_fork_server_starts_is_light(subprocess_env):
    # dir() of each lazy package lists its names (a notebook's completion) without loading them
    code = (f"import sys, importlib; [importlib.import_module(m) for m in {BEFORE_THE_SERVER!r}];"
            "import kale_argo.app, kale_argo.local, kale_argo.argo;"
            "unlisted = [n for p in (kale_argo.app, kale_argo.local, kale_argo.argo)"
            " for n in p.__all__ if n not in dir(p)];"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}), unlisted)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(REPO), env=subprocess_env)
    assert out.stdout.strip() == "[] []"


@pytest.mark.parametrize("package", ["kale_argo.app", "kale_argo.local", "kale_argo.argo"])
def test_a_lazy_package_loads_each_name_it_lists_from_its_module(package):
    module = importlib.import_module(package)
    where = exported(module._MODULES)
    assert sorted(module.__all__) == sorted(where)
    for name, submodule in where.items():
        assert getattr(module, name) is getattr(importlib.import_module(f"{package}.{submodule}"), name)
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018
