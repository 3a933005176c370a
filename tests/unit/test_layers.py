"""The package's layers point one way: an ``ast`` walk of every import in kale_argo/ against the contract.

Every import counts: module level, inside functions and methods, under ``if TYPE_CHECKING:``,
``import x``, ``from x import y`` (``y`` resolved to ``x.y`` when that is a module), relative imports
resolved to absolute names, and ``importlib.import_module(...)`` / ``__import__(...)`` calls whose
name is a literal (or an f-string whose leading part is ``__package__``/``__name__`` and literals).

A module belongs to the first layer whose prefix matches (see ``LAYERS``). A failure lists every
offending arrow as ``file:line: importer -> imported (rule)``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "kale_argo"

LEAVES = ("errors", "names", "units", "params", "labels", "choices", "version", "cron", "lazy")
# Third-party packages the step runtime may use, only lazily (inside a function) but dill; each
# optional where the runtime ships to a pod (blake3: a checksum with a standard-library fallback).
RUNTIME_THIRD_PARTY = frozenset({"dill", "numpy", "pandas", "pyarrow", "blake3"})
RUNTIME_LAZY_THIRD_PARTY = frozenset({"numpy", "pandas", "pyarrow", "blake3"})
# Never imported by the runtime, anywhere (every step process would pay for them).
RUNTIME_BANNED = frozenset({"hera", "kubernetes", "pydantic", "yaml", "requests"})

# (layer, prefixes); a module is in the first layer with a prefix equal to it or a parent of it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("leaves", tuple(f"{PACKAGE}.{name}" for name in LEAVES)),
    ("runtime", (f"{PACKAGE}.runtime",)),
    ("spec", (f"{PACKAGE}.spec",)),
    ("sdk", (f"{PACKAGE}.sdk", f"{PACKAGE}.api")),  # api: kale.sdk.api's counterpart
    ("local", (f"{PACKAGE}.local",)),
    ("argo", (f"{PACKAGE}.argo",)),
    ("cluster", (f"{PACKAGE}.cluster",)),
    ("views", (f"{PACKAGE}.views",)),
    ("app", (f"{PACKAGE}.app",)),
    ("cli", (f"{PACKAGE}.cli",)),
    ("main", (f"{PACKAGE}.__main__",)),
    ("package", (PACKAGE,)),  # only the package __init__ itself: see layer_of
)

# The package layers each layer may import (its own layer is listed where allowed).
ALLOWED: dict[str, frozenset[str]] = {
    "leaves": frozenset({"leaves"}),
    "runtime": frozenset({"leaves", "runtime"}),
    "spec": frozenset({"leaves"}),
    "sdk": frozenset({"leaves", "spec", "runtime", "sdk", "app"}),  # app: lazily, one module
    "local": frozenset({"leaves", "spec", "runtime", "local"}),
    "argo": frozenset({"leaves", "spec", "runtime", "argo"}),
    "cluster": frozenset({"leaves", "spec", "runtime", "cluster"}),
    "views": frozenset({"leaves", "spec", "runtime", "local", "argo", "cluster", "views"}),
    "app": frozenset({"leaves", "runtime", "spec", "sdk", "local", "argo", "cluster", "views", "app"}),
    "cli": frozenset({"app", "views", "leaves", "cli"}),
    "package": frozenset({"leaves", "sdk", "app"}),  # app: lazily
    "main": frozenset({"cli"}),
}
# Package layers a layer may import only inside a function (never when the importer is imported).
LAZY_ONLY: dict[str, frozenset[str]] = {"sdk": frozenset({"app"}), "package": frozenset({"app"})}
# Third-party top-level packages a layer may import; a layer not listed may import any.
THIRD_PARTY: dict[str, frozenset[str]] = {
    "leaves": frozenset(),
    "runtime": RUNTIME_THIRD_PARTY,
    "spec": frozenset({"pydantic"}),
}
MAX_SDK_MODULES_IMPORTING_APP = 1

STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True)
class Arrow:
    """One import: ``importer`` imports ``imported`` at ``file:line``."""

    file: str
    line: int
    importer: str
    imported: str
    lazy: bool  # not executed when the importer is imported: inside a function or `if TYPE_CHECKING:`
    in_function: bool


@dataclass(frozen=True)
class Violation:
    arrow: Arrow
    rule: str

    def __str__(self) -> str:
        a = self.arrow
        return f"{a.file}:{a.line}: {a.importer} -> {a.imported} ({self.rule})"


def module_name(path: Path, root: Path) -> str:
    """``kale_argo/cli/main.py`` -> ``kale_argo.cli.main``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _literal_name(node: ast.expr, module: str, package: str) -> str | None:
    """The module named by an import_module argument: a literal, or an f-string led by __package__."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    text = ""
    for part in node.values:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            text += part.value
        elif isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Name) and \
                part.value.id in ("__package__", "__name__"):
            text += package if part.value.id == "__package__" else module
        else:  # a computed part: what is known is the package the name lies in
            return text.rsplit(".", 1)[0] if "." in text else None
    return text


class _Walker(ast.NodeVisitor):
    def __init__(self, file: str, module: str, is_package: bool, modules: frozenset[str]) -> None:
        self.file, self.module, self.modules = file, module, modules
        self.package = module if is_package else module.rpartition(".")[0]
        self.functions = 0
        self.type_checking = 0
        self.arrows: list[Arrow] = []

    def _add(self, node: ast.AST, imported: str) -> None:
        in_function = self.functions > 0
        self.arrows.append(Arrow(self.file, getattr(node, "lineno", 0), self.module, imported,
                                 lazy=in_function or self.type_checking > 0, in_function=in_function))

    def _function(self, node: ast.AST) -> None:
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_checking += 1
            for child in node.body:
                self.visit(child)
            self.type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def _resolve(self, level: int, name: str | None) -> str:
        if level == 0:
            return name or ""
        base = self.package.split(".")
        if level - 1 > len(base) - 1:
            raise ValueError(f"{self.file}:?: relative import beyond the top-level package")
        base = base[: len(base) - (level - 1)]
        return ".".join(base + ([name] if name else []))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._resolve(node.level, node.module)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            self._add(node, sub if sub in self.modules else base)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__") and node.args:
            target = _literal_name(node.args[0], self.module, self.package)
            if target is not None and target.startswith("."):  # relative to the `package` argument
                anchor = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "package"), None)
                base = (self.package if isinstance(anchor, ast.Name) and anchor.id == "__package__"
                        else anchor.value if isinstance(anchor, ast.Constant) else None)
                stripped = target.lstrip(".")
                level = len(target) - len(stripped)
                parts = base.split(".")[: len(base.split(".")) - (level - 1)] if isinstance(base, str) else []
                target = ".".join([*parts, stripped]) if parts else None
            if target:
                self._add(node, target)
        self.generic_visit(node)


def collect_arrows(root: Path, package: str = PACKAGE) -> list[Arrow]:
    """Every import in every module under ``root/package``."""
    files = sorted((root / package).rglob("*.py"))
    modules = frozenset(module_name(f, root) for f in files)
    arrows: list[Arrow] = []
    for path in files:
        walker = _Walker(str(path.relative_to(root)), module_name(path, root),
                         path.name == "__init__.py", modules)
        walker.visit(ast.parse(path.read_text(), filename=str(path)))
        arrows.extend(walker.arrows)
    return arrows


def layer_of(module: str, package: str = PACKAGE) -> str | None:
    """The layer of a module of the package, or None when no layer claims it."""
    if module == package:
        return "package"
    for layer, prefixes in LAYERS:
        if layer == "package":
            continue
        for prefix in prefixes:
            prefix = package + prefix[len(PACKAGE):]
            if module == prefix or module.startswith(prefix + "."):
                return layer
    return None


def _private_owner(module: str) -> str | None:
    """The package that owns the first private segment of ``module`` (None when none is private)."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and part not in ("__init__", "__main__"):
            return ".".join(parts[:i])
    return None


def check(arrows: list[Arrow], package: str = PACKAGE) -> list[Violation]:
    """Every arrow against the contract, and the per-package counts (sdk -> app in one module)."""
    out: list[Violation] = []
    sdk_to_app: dict[str, list[Arrow]] = {}
    for a in arrows:
        src = layer_of(a.importer, package)
        if src is None:
            out.append(Violation(a, f"{a.importer} is in no layer: add it to LAYERS"))
            continue
        top = a.imported.split(".")[0]
        if top != package:
            if top in STDLIB:
                continue
            if src == "runtime" and top in RUNTIME_BANNED:
                out.append(Violation(a, f"runtime never imports {top}"))
            elif src in THIRD_PARTY and top not in THIRD_PARTY[src]:
                allowed = " and " + ", ".join(sorted(THIRD_PARTY[src])) if THIRD_PARTY[src] else ""
                out.append(Violation(a, f"{src} imports only the standard library{allowed}"))
            elif src == "runtime" and top in RUNTIME_LAZY_THIRD_PARTY and not a.lazy:
                out.append(Violation(a, f"runtime imports {top} only lazily (inside a function)"))
            continue
        dst = layer_of(a.imported, package)
        owner = _private_owner(a.imported)
        if owner is not None and a.importer != owner and not a.importer.startswith(owner + "."):
            out.append(Violation(a, f"private module of {owner}, imported from outside it"))
        if dst is None:
            out.append(Violation(a, f"{a.imported} is in no layer"))
        elif dst not in ALLOWED[src]:
            allowed = ", ".join(sorted(ALLOWED[src]))
            out.append(Violation(a, f"{src} -> {dst} is against the layers; {src} may import {allowed}"))
        elif dst in LAZY_ONLY.get(src, ()) and not a.in_function:
            out.append(Violation(a, f"{src} imports {dst} only lazily, inside a function"))
        if src == "sdk" and dst == "app":
            sdk_to_app.setdefault(a.importer, []).append(a)
    if len(sdk_to_app) > MAX_SDK_MODULES_IMPORTING_APP:
        names = ", ".join(sorted(sdk_to_app))
        for importer in sorted(sdk_to_app):
            for a in sdk_to_app[importer]:
                out.append(Violation(a, f"sdk reaches app from {len(sdk_to_app)} modules ({names}); "
                                        f"at most {MAX_SDK_MODULES_IMPORTING_APP}"))
    return out


def report(violations: list[Violation]) -> str:
    lines = sorted({str(v) for v in violations}, key=lambda s: (s.split(":")[0], int(s.split(":")[1]), s))
    return f"{len(lines)} import(s) against the layers:\n" + "\n".join(lines)


# --- the contract on the real package ------------------------------------------------------------

def test_kale_argo_imports_follow_the_layers() -> None:
    arrows = collect_arrows(REPO)
    assert len(arrows) > 100, "the walk found almost no imports: is the package where it should be?"
    violations = check(arrows)
    assert not violations, report(violations)


# --- the checker itself ---------------------------------------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for directory in {p.parent for p in root.rglob("*.py")} | {root / PACKAGE}:
        (directory / "__init__.py").touch(exist_ok=True)
    return root


CLEAN = {
    "kale_argo/__init__.py": "from .errors import E\nfrom .sdk.api import step\n\n"
                             "def __getattr__(name):\n    from . import app\n    return app\n",
    "kale_argo/__main__.py": "from .cli.main import main\n",
    "kale_argo/errors.py": "import os\nclass E(Exception): ...\n",
    "kale_argo/spec.py": "import pydantic\nfrom . import errors\n",
    "kale_argo/runtime/step.py": "import dill\nfrom ..errors import E\nfrom .marshal import codec\n\n"
                                 "def f():\n    import numpy\n",
    "kale_argo/runtime/marshal/_files.py": "import mmap\n",
    "kale_argo/runtime/marshal/__init__.py": "from ._files import x\n",
    "kale_argo/runtime/marshal/codec.py": "from . import _files\n",
    "kale_argo/sdk/api.py": "from .. import spec\n\ndef run():\n    from ..app import actions\n",
    "kale_argo/cluster/backend.py": "from kale_argo.runtime import step\n",
    "kale_argo/argo/compile.py": "from kale_argo import spec\n",
    "kale_argo/views/table.py": "from kale_argo.cluster import backend\nfrom kale_argo.argo import compile\n",
    "kale_argo/app/actions.py": "from ..argo import compile\nfrom ..cluster import backend\nimport hera\n",
    "kale_argo/cli/main.py": "import importlib\nfrom ..app import actions\n\n"
                             "def load(name):\n    return importlib.import_module(f'{__package__}.{name}')\n",
}


def _violations(tmp_path: Path, changes: dict[str, str] | None = None) -> list[str]:
    """The checker's findings on CLEAN with ``changes`` (path -> text) applied."""
    return [str(v) for v in check(collect_arrows(_tree(tmp_path, {**CLEAN, **(changes or {})})))]


def test_checker_passes_a_tree_that_follows_the_layers(tmp_path: Path) -> None:
    assert _violations(tmp_path) == []


def test_checker_flags_a_lazy_cluster_to_argo_import(tmp_path: Path) -> None:
    text = "import os\n\nclass Backend:\n    def submit(self):\n        from ..argo.compile import x\n"
    found = _violations(tmp_path, {"kale_argo/cluster/backend.py": text})
    assert found == ["kale_argo/cluster/backend.py:5: kale_argo.cluster.backend -> kale_argo.argo.compile "
                     "(cluster -> argo is against the layers; cluster may import cluster, leaves, "
                     "runtime, spec)"]


@pytest.mark.parametrize(("rel", "text", "expected"), [
    # relative import two levels up, resolved to the absolute name
    ("kale_argo/runtime/marshal/codec.py", "from ...sdk import api\n",
     "kale_argo/runtime/marshal/codec.py:1: kale_argo.runtime.marshal.codec -> kale_argo.sdk.api "
     "(runtime -> sdk"),
    # importlib with a literal, inside a method
    ("kale_argo/local/run.py", "import importlib\nclass R:\n    def go(self):\n"
                               "        importlib.import_module('kale_argo.cli.main')\n",
     "kale_argo/local/run.py:4: kale_argo.local.run -> kale_argo.cli.main (local -> cli"),
    # a private module of another package
    ("kale_argo/local/run.py", "from kale_argo.runtime.marshal import _files\n",
     "kale_argo/local/run.py:1: kale_argo.local.run -> kale_argo.runtime.marshal._files (private module"),
    # third-party banned in the runtime, even lazily and under TYPE_CHECKING
    ("kale_argo/runtime/step.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import yaml\n",
     "kale_argo/runtime/step.py:3: kale_argo.runtime.step -> yaml (runtime never imports yaml)"),
    ("kale_argo/runtime/step.py", "import numpy\n",
     "kale_argo/runtime/step.py:1: kale_argo.runtime.step -> numpy (runtime imports numpy only lazily"),
    ("kale_argo/errors.py", "def f():\n    import pydantic\n",
     "kale_argo/errors.py:2: kale_argo.errors -> pydantic (leaves imports only the standard library)"),
    # the SDK reaches app at module level
    ("kale_argo/sdk/api.py", "from ..app import actions\n",
     "kale_argo/sdk/api.py:1: kale_argo.sdk.api -> kale_argo.app.actions (sdk imports app only lazily"),
    # the SDK reaches app from a second module
    ("kale_argo/sdk/other.py", "def f():\n    import kale_argo.app\n",
     "kale_argo/sdk/other.py:2: kale_argo.sdk.other -> kale_argo.app (sdk reaches app from 2 modules"),
    # the package __init__ imports app at import time; a view imports the package for __version__
    ("kale_argo/__init__.py", "from .app import actions\n",
     "kale_argo/__init__.py:1: kale_argo -> kale_argo.app.actions (package imports app only lazily"),
    ("kale_argo/views/table.py", "from kale_argo import __version__\n",
     "kale_argo/views/table.py:1: kale_argo.views.table -> kale_argo (views -> package"),
    # a module no layer claims
    ("kale_argo/actions.py", "import os\n",
     "kale_argo/actions.py:1: kale_argo.actions -> os (kale_argo.actions is in no layer"),
    # importlib relative to __package__, and __import__ with a literal
    ("kale_argo/argo/compile.py", "import importlib\nimportlib.import_module('..local', __package__)\n",
     "kale_argo/argo/compile.py:2: kale_argo.argo.compile -> kale_argo.local (argo -> local"),
    ("kale_argo/spec.py", "__import__('kale_argo.runtime.step')\n",
     "kale_argo/spec.py:1: kale_argo.spec -> kale_argo.runtime.step (spec -> runtime"),
], ids=["relative", "import-module-in-method", "private", "runtime-yaml-type-checking",
        "runtime-numpy-eager", "leaf-third-party", "sdk-app-eager", "sdk-app-two-modules",
        "package-app-eager", "version-from-package", "no-layer", "import-module-relative", "dunder-import"])
def test_checker_flags_each_kind_of_arrow(tmp_path: Path, rel: str, text: str, expected: str) -> None:
    found = _violations(tmp_path, {rel: text})
    assert any(v.startswith(expected) for v in found), "\n".join(found) or "nothing flagged"
