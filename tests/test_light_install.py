"""`pip install modelkin` is enough for the light commands, the report's plots included; the torch
side is an extra.

1. The distribution's requirements (pyproject.toml, from which pip builds the metadata): the
   base install names no package of the build extra, `modelkin.extras` lists exactly what
   pyproject's extras do, and `dev` brings the build extra (so the README's test command
   installs everything the tests need).
2. A fresh interpreter in which every installed package outside the base install's dependency
   closure (computed from the installed packages' own metadata) cannot be imported runs each
   light command to success, `report` writes every plot, and `build` refuses in one line naming
   the extra to install.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from modelkin.configs import get
from modelkin.extras import EXTRAS
from modelkin.inspect.sparse import write_sparse_checkpoint

tomllib = pytest.importorskip("tomllib")  # standard library from Python 3.11

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "transformers", "accelerate", "safetensors", "tokenizers", "matplotlib", "numpy"}


def _name(requirement: str) -> str:
    """'huggingface_hub>=0.24' -> 'huggingface-hub' (PEP 503 normalised)."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group(0)).lower()


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_base_install_names_nothing_heavy(project):
    base = {_name(r) for r in project["dependencies"]}
    assert base, "no dependencies at all"
    assert not base & HEAVY, sorted(base & HEAVY)


def test_extras_table_matches_pyproject(project):
    optional = project["optional-dependencies"]
    for extra, packages in EXTRAS.items():
        assert {_name(r) for r in optional[extra]} == {_name(p) for p in packages}, extra
    dev = set(optional["dev"])
    assert any(r.replace(" ", "").startswith("modelkin[") and "build" in re.split(r"[\[\],]", r) for r in dev), dev


# Runs in a fresh interpreter: blocks every installed top-level module whose distribution is not in
# the closure of the base requirements, then runs the commands in-process one after another.
RUN_BLOCKED = r"""
import contextlib, importlib.metadata as md, io, json, re, sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

base = [norm(re.match(r"[A-Za-z0-9._-]+", r).group(0)) for r in json.loads(sys.argv[1])]
allowed, todo = {"modelkin"}, list(base)
while todo:  # the dependency closure, from each installed package's own metadata
    name = todo.pop()
    if name in allowed:
        continue
    allowed.add(name)
    try:
        requires = md.requires(name) or []
    except md.PackageNotFoundError:  # not installed here (a marker for another platform): nothing to follow
        requires = []
    for req in requires:
        if "extra ==" not in req.replace('"', "'").replace("extra=='", "extra =='"):
            todo.append(norm(re.match(r"[A-Za-z0-9._-]+", req).group(0)))
blocked = sorted(
    top for top, dists in md.packages_distributions().items()
    if not {norm(d) for d in dists} & allowed and top not in sys.modules and not top.startswith("_")
)
for top in blocked:
    sys.modules[top] = None  # `import top` now fails; importlib.util.find_spec(top) is None

from modelkin.cli import main
steps = []
for argv in json.loads(sys.argv[2]):
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(argv)
    steps.append({"argv": argv, "code": code, "out": out.getvalue()[-400:], "err": err.getvalue()})
print(json.dumps({"blocked": blocked, "allowed": sorted(allowed), "steps": steps}))
"""


def test_light_commands_run_on_the_base_install_alone(project, tmp_path):
    checkpoint = write_sparse_checkpoint(get("llama-3-8b").spec, tmp_path / "llama-3-8b")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(get("qwen2-7b").config), encoding="utf-8")
    light = [
        ["list"],
        ["show", "llama-3.1-8b"],
        ["compare", "llama-3-8b", "qwen2-7b", "glm-4-9b"],
        ["convert", str(config)],
        ["schema"],
        ["rope", "llama-3.1-8b"],
        ["inspect", str(checkpoint)],
        ["report", "llama-3-8b", "qwen2-7b", "--out", str(tmp_path / "report")],
    ]
    build = ["build", "llama-3-8b", "--tiny", "--out", str(tmp_path / "tiny")]
    proc = subprocess.run(
        [sys.executable, "-c", RUN_BLOCKED, json.dumps(project["dependencies"]), json.dumps([*light, build])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    # The block must bite: what the extras and the test tools bring is installed here and blocked
    # (matplotlib drew the plots until modelkin drew its own SVG).
    assert {"torch", "transformers", "matplotlib"} <= set(result["blocked"]), result["blocked"]
    *steps, built = result["steps"]
    for step in steps:
        assert step["code"] == 0, step
    # Every plot the report names is written, and is inline in the page: a light install loses none.
    report = tmp_path / "report"
    plots = json.loads((report / "report.json").read_text(encoding="utf-8"))["plots"]
    assert {p["name"] for p in plots} >= {"params", "kv-cache", "tokens", "fit", "rope"}, plots
    assert sorted(p["svg"] for p in plots) == sorted(f"plots/{f.name}" for f in (report / "plots").iterdir())
    for plot in plots:
        assert ElementTree.parse(report / plot["svg"]).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert (report / "report.html").read_text(encoding="utf-8").count("<svg") == len(plots)
    assert f"{len(plots)} plots" in steps[-1]["out"]
    assert built["code"] == 2 and built["err"].count("\n") == 1, built
    assert "pip install 'modelkin[build]'" in built["err"] and "Traceback" not in built["err"]
    assert not (tmp_path / "tiny").exists()
