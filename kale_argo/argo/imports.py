"""What a pipeline's code imports that its steps' image may lack: a warning, as data.

Read from the script and the modules shipped with it (``ast``, nothing is imported): imports at
module level count for every step, imports inside a step's function for that step. An import
guarded by ``try: ... except ImportError`` is optional and not counted. What is left after the
standard library, the script's own modules and kale_argo, and after what the step's ``packages``
declare (a step also needs the libraries, numpy, pandas, sklearn..., of the values it loads), is
what the image would have to provide. Only the default image is known to provide nothing; of any
other image nothing is known, so it is trusted.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from ..spec import DEFAULT_IMAGE, PipelineSpec, StepSpec, ValueInput, requirement_name
from .packages import step_packages

# Distributions whose import name is not their name (lower-cased, '-' and '.' as '_').
IMPORT_NAMES = {
    "scikit-learn": "sklearn", "scikit-image": "skimage", "pillow": "PIL", "pyyaml": "yaml",
    "opencv-python": "cv2", "opencv-python-headless": "cv2", "opencv-contrib-python": "cv2",
    "beautifulsoup4": "bs4", "python-dateutil": "dateutil", "attrs": "attr", "protobuf": "google",
    "pytorch-lightning": "pytorch_lightning", "tensorflow-cpu": "tensorflow", "msgpack-python": "msgpack",
    "python-dotenv": "dotenv", "pyjwt": "jwt", "pymongo": "pymongo", "mysqlclient": "MySQLdb",
    "psycopg2-binary": "psycopg2", "faiss-cpu": "faiss", "xgboost-cpu": "xgboost",
}
DISTRIBUTIONS = {v: k for k, v in IMPORT_NAMES.items() if k not in ("opencv-python-headless",
                                                                     "opencv-contrib-python",
                                                                     "tensorflow-cpu", "xgboost-cpu")}
# Libraries whose objects a step returns and the next step must import to load (sklearn's models
# are pickled by reference to sklearn, its arrays are numpy's).
VALUE_LIBRARIES = frozenset({"numpy", "pandas", "pyarrow", "polars", "scipy", "sklearn"})
_OWN = frozenset({"kale_argo", "__future__", "__main__"})
_OPTIONAL = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def import_name(distribution: str) -> str:
    """The module a distribution is imported as (``scikit-learn`` -> ``sklearn``)."""
    key = distribution.lower().replace("_", "-")
    return IMPORT_NAMES.get(key, key.replace("-", "_").replace(".", "_"))


def missing_packages_note(spec: PipelineSpec, images: dict[str, str]) -> str | None:
    """One line naming the steps on the default image that import packages nothing declares, the
    modules and the three fixes; None when there are none. ``images``: step name -> image."""
    common, by_function = _script_imports(spec)
    local = _local_names(spec)
    missing: dict[str, list[str]] = {}
    own = {s.name: common | by_function.get(_function_name(s), set()) for s in spec.steps}
    for step in spec.steps:
        needed = set(own[step.name])
        for value in step.inputs():
            if isinstance(value, ValueInput):  # loading a value needs the data library that made it
                needed |= own[value.producer] & VALUE_LIBRARIES
        if images[step.name] != DEFAULT_IMAGE:
            continue
        declared = {import_name(n) for p in step_packages(spec, step) if (n := requirement_name(p))}
        for module in sorted(needed - declared - local):
            if module not in sys.stdlib_module_names and module not in _OWN:
                missing.setdefault(module, []).append(step.name)
    if not missing:
        return None
    steps = list(dict.fromkeys(s for users in missing.values() for s in users))
    named = ", ".join(steps[:5]) + (f" and {len(steps) - 5} more" if len(steps) > 5 else "")
    modules = ", ".join(missing)
    wanted = ", ".join(repr(DISTRIBUTIONS.get(mod, mod)) for mod in missing)
    return (f"step{'s' if len(steps) > 1 else ''} {named} run{'' if len(steps) > 1 else 's'} on the "
            f"default image {DEFAULT_IMAGE}, which lacks {modules} that the code imports and no "
            f"packages= declares: declare them (@pipeline(packages=[{wanted}]) or a step's "
            "packages=), give an image that has them (--image or docker_image, e.g. one built from "
            "kale-argo's Dockerfile: numpy, pandas, pyarrow, scikit-learn), or submit from a "
            "notebook (its image is used)")


def _function_name(step: StepSpec) -> str:
    return step.function.split(".")[-1]


def _local_names(spec: PipelineSpec) -> set[str]:
    """Top-level names the script's own modules (shipped with it) are imported as."""
    names = {Path(spec.script.path).stem}
    for rel in spec.script.modules:
        names.add(rel.split("/")[0].removesuffix(".py"))
    return names


def _script_imports(spec: PipelineSpec) -> tuple[set[str], dict[str, set[str]]]:
    """(top-level packages imported outside functions or by the modules, function name -> packages
    imported inside it) for the script and its shipped modules."""
    common: set[str] = set()
    by_function: dict[str, set[str]] = {}
    root = Path(spec.script.path).parent
    for path in [Path(spec.script.path), *(root / rel for rel in spec.script.modules)]:
        try:
            tree = ast.parse(path.read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
        _walk(tree, None, common, by_function, is_script=path == Path(spec.script.path))
    return common, by_function


def _walk(node: ast.AST, function: str | None, common: set[str], by_function: dict[str, set[str]],
          is_script: bool) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Try) and any(_optional(h) for h in child.handlers):
            for rest in [*child.handlers, *child.orelse, *child.finalbody]:
                _walk(rest, function, common, by_function, is_script)
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            names = _top_names(child)
            target = by_function.setdefault(function, set()) if function and is_script else common
            target.update(names)
            continue
        inner = function
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and function is None:
            inner = child.name
        _walk(child, inner, common, by_function, is_script)


def _optional(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type
    if kinds is None:
        return True
    items = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
    return any(isinstance(i, ast.Name) and i.id in _OPTIONAL for i in items)


def _top_names(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    if node.level or not node.module:
        return set()
    return {node.module.split(".")[0]}
