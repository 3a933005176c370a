"""Before a local run: the pip packages the pipeline declares must be importable here.

On Argo they are installed when the run starts; locally the steps run in this Python, so a
declared package that is missing fails the run before any step starts, naming what to install.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

from ..errors import ConfigError
from ..spec import PipelineSpec, requirement_name


def missing_packages(spec: PipelineSpec) -> list[str]:
    """The declared requirements (pipeline's and steps') whose distribution is not installed here
    and whose module cannot be found; requirements given as URLs or paths are not checked."""
    declared = list(dict.fromkeys([*spec.packages, *(p for s in spec.steps for p in s.options.packages)]))
    missing = []
    for requirement in declared:
        name = requirement_name(requirement)
        if name is None or _installed(name):
            continue
        missing.append(requirement)
    return missing


def check_packages(spec: PipelineSpec) -> None:
    """A ConfigError (one line, exit 2) naming the declared packages that are missing here."""
    missing = missing_packages(spec)
    if missing:
        quoted = " ".join(f"'{r}'" for r in missing)
        raise ConfigError(f"the pipeline declares packages that are not installed here: {', '.join(missing)}",
                          where=spec.script.path,
                          hint=f"pip install {quoted} (on Argo they are installed when the run starts)")


def _installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        pass
    module = name.lower().replace("-", "_").replace(".", "_")
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
