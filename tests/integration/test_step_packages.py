"""A run's declared packages, installed the way its pods do: the install task's exact argv (pip,
under a bare Python without kale-argo) from a local package index into the run's folder on the
marshal volume, then each step's exact argv finding them through its PYTHONPATH."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from kale_argo.argo import compile_manifests
from tests.integration.test_compile_pods import bare_python, run_pods
from tests.unit.test_argo_compile import template
from tests.unit.test_argo_pipelines import HEADER, tasks, trace_script, write_script
from tests.workflow_checks import check_workflow


def wheel(index: Path, name: str, version: str, source: str) -> None:
    """A minimal pure-Python wheel of ``name`` in a PEP 503 folder index (``index/<name>/``)."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}"
    files = {
        f"{module}/__init__.py": source.encode(),
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                   b"Tag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    folder = index / name
    folder.mkdir(parents=True)
    filename = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(folder / filename, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    (folder / "index.html").write_text(f'<html><body><a href="{filename}">{filename}</a></body></html>\n')


SCRIPT = HEADER + '''
@step(name="make")
def make(n):
    import kale_shared_pkg
    return kale_shared_pkg.scale(n)


@step(name="finish", packages=["kale-extra-pkg==1.0"])
def finish(x):
    import kale_extra_pkg
    import kale_shared_pkg
    print("finish", kale_extra_pkg.tag(kale_shared_pkg.scale(x)))


@pipeline(name="with-packages", marshal_path="/mnt/marshal", packages=["kale-shared-pkg"],
          pip_index_urls=["INDEX"])
def with_packages(n=2):
    finish(make(n))
'''


def test_declared_packages_install_once_and_every_step_imports_them(tmp_path: Path) -> None:
    python = bare_python()
    index = tmp_path / "index"
    wheel(index, "kale-shared-pkg", "1.0", "def scale(x):\n    return 10 * x\n")
    wheel(index, "kale-extra-pkg", "1.0", "def tag(x):\n    return f'<{x}>'\n")
    spec = trace_script(write_script(tmp_path, SCRIPT.replace("INDEX", index.as_uri()), "pkgs.py"))
    docs = compile_manifests(spec, {})
    check_workflow(docs[-1])
    assert [t["name"] for t in tasks(docs[-1])] == ["kale-packages", "kale-packages-2", "make", "finish"]
    procs = run_pods(docs, tmp_path, python)
    install_log = procs[0].stdout
    assert "Successfully installed kale-shared-pkg-1.0" in install_log  # pip's output is the task's log
    assert "Successfully installed kale-extra-pkg-1.0 kale-shared-pkg-1.0" in procs[1].stdout
    assert "finish <200>" in procs[-1].stdout
    argv = template(docs[-1], "kale-packages")["container"]["command"]
    target = argv[argv.index("--target") + 1].replace("/mnt/marshal", str(tmp_path / "marshal")).replace(
        "{{workflow.uid}}", "uid")
    assert (Path(target) / "kale_shared_pkg" / "__init__.py").is_file()
    assert not (Path(target) / "kale_extra_pkg").exists()  # the other step's extras stay apart
