"""The golden files: the compiled Workflow YAML of every example, ``tests/golden/<example>.yaml``.

``make golden`` (or ``python tests/golden/update.py``) regenerates them after a compiler change;
review the diff and commit it. ``tests/unit/test_golden.py`` compares them byte for byte.

The zipped code the ConfigMap carries holds kale-argo's own step runtime, which changes with every
runtime edit; the golden files list the zip's members instead (the script's and helper modules'
with their checksums) and name the ConfigMap ``kale-code-<hash>``, so they follow the compiler,
not unrelated runtime edits. The zip itself is tested in ``tests/integration/test_code_shipping.py``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent
EXAMPLES = sorted((REPO / "examples").glob("*.py"))
COMMAND = "make golden"


def compile_example(example: Path) -> str:
    """``example`` traced and compiled with the default options, as ``kale-argo compile`` does."""
    from kale_argo.argo.output import compile_yaml
    from kale_argo.sdk.loader import load_pipeline

    return normalize(compile_yaml(load_pipeline(str(example), None).trace()))


_ZIP = re.compile(r"^(?P<indent> +)code\.zip: (?P<data>[A-Za-z0-9+/=]+)$", re.M)
_NAME = re.compile(r"kale-code-[0-9a-f]{16}")


def normalize(text: str) -> str:
    """``text`` with the zipped code replaced by its member list and the ConfigMap's hash masked."""
    def members(match: re.Match[str]) -> str:
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(match["data"]))) as bundle:
            names = [
                name if name.startswith("lib/kale_argo/")
                else f"{name} sha256:{hashlib.sha256(bundle.read(name)).hexdigest()[:16]}"
                for name in sorted(bundle.namelist())]
        pad = match["indent"] + "  "
        return f"{match['indent']}code.zip: |-\n" + "\n".join(pad + n for n in names)

    return _NAME.sub("kale-code-<hash>", _ZIP.sub(members, text))


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
