"""The computation graph (linreg.present.graphs) without distutils and without Graphviz: linreg's
own walk over ``grad_fn`` draws the graph torchviz draws, in a Python where ``import distutils``
fails; without ``dot`` a run writes graph.dot only and says how to get images."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from linreg.core import DataSpec, Loss, generate
from linreg.present import graphs
from tests.helpers.cli import VENV_BIN, clean_env, store_runs

DATA = generate(DataSpec())


# Run first in a fresh interpreter: distutils (and setuptools' shim for it) cannot be imported.
BLOCK_DISTUTILS = """
import importlib.abc, sys

class NoDistutils(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("distutils", "_distutils_hack") or name.startswith(
            "setuptools._distutils"
        ):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

for loaded in [m for m in sys.modules if m.split(".")[0] in ("distutils", "_distutils_hack")]:
    del sys.modules[loaded]
sys.meta_path.insert(0, NoDistutils())
"""


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_DISTUTILS + code], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_distutils_is_blocked_and_torchviz_needs_it():
    """The block works: the old way (torchviz) fails under it, so the next test means something."""
    proc = python("import distutils")
    assert proc.returncode != 0 and "blocked" in proc.stderr
    proc = python("import torchviz")
    assert proc.returncode != 0 and "distutils" in proc.stderr, proc.stderr[-500:]


def test_the_torch_graph_is_drawn_without_distutils():
    proc = python(
        "import sys\n"
        "from linreg.core import DataSpec, Loss, generate\n"
        "from linreg.present import graphs\n"
        "d = generate(DataSpec())\n"
        "print(graphs.torch_dot(d.X, d.y, d.theta0, Loss('mse')))\n"
        "assert not [m for m in sys.modules if 'distutils' in m or m == 'torchviz'], 'imported'\n"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "MseLossBackward0" in proc.stdout and "AccumulateGrad" in proc.stdout
    assert 'label="weight\\n (1, 1)" fillcolor=lightblue' in proc.stdout


def parse(source: str) -> tuple[Counter, Counter]:
    """A DOT source as (node labels, edges as label pairs): ids and quoting aside."""
    labels = {}
    for ident, label, colour in re.findall(
        r'^\s*(\w+) \[label=("(?:[^"\\]|\\.)*"|[^\s\]]+)(?: fillcolor=(\w+))?\]', source, re.M
    ):
        text = label.strip('"').replace("\\n", "\n")
        labels[ident] = "<output>" if colour == "darkolivegreen1" else f"{text}|{colour}"
    edges = re.findall(r"^\s*(\w+) -> (\w+)", source, re.M)
    return Counter(labels.values()), Counter((labels[a], labels[b]) for a, b in edges)


@pytest.mark.parametrize("loss", [Loss("mse"), Loss("mae"), Loss("huber", 1.5)])
def test_the_graph_is_the_one_torchviz_draws(loss):
    torchviz = pytest.importorskip("torchviz", exc_type=ImportError)  # it needs distutils
    import torch
    from torch import nn

    from linreg.core.backends.torch_backend import criterion

    model = nn.Linear(1, 1)
    X = torch.as_tensor(DATA.X, dtype=torch.float32)
    y = torch.as_tensor(DATA.y, dtype=torch.float32).reshape(-1, 1)
    out = criterion(loss)(model(X), y)
    params = dict(model.named_parameters())
    ours, theirs = graphs.autograd_dot(out, params), torchviz.make_dot(out, params=params).source
    assert parse(ours) == parse(theirs)
    assert len(parse(ours)[0]) >= 6  # the loss, addmm, transpose, two leaves and the output


def test_the_same_graph_gives_the_same_source():
    """Nodes are numbered as met, not by memory address: one source per graph, one render."""
    first = graphs.torch_dot(DATA.X, DATA.y, DATA.theta0, Loss("mse"))
    assert first == graphs.torch_dot(DATA.X, DATA.y, DATA.theta0, Loss("mse"))


@pytest.mark.skipif(not graphs.dot_available(), reason="Graphviz's dot is not installed")
def test_the_graph_renders_with_graphviz(tmp_path):
    written = graphs.write_graph(tmp_path, graphs.torch_dot(DATA.X, DATA.y, DATA.theta0,
                                                             Loss("mse")))  # fmt: skip
    assert [p.name for p in written] == ["graph.dot", "graph.png"]
    assert (tmp_path / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_graph_without_graphviz_writes_dot_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert not graphs.dot_available()
    written = graphs.write_graph(tmp_path, graphs.formula_dot("numpy", Loss("mae"), 100, 1))
    assert [p.name for p in written] == ["graph.dot"]
    assert "sign(r)" in (tmp_path / "graph.dot").read_text()


@pytest.mark.slow
def test_a_run_without_graphviz_completes_and_says_how_to_get_images(tmp_path):
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    env["PATH"] = str(VENV_BIN)  # no /usr/bin: no `dot` (and no git: the commit tag is left out)
    proc = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "linreg.train", "backend=torch", "train.epochs=5"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    [run] = (tmp_path / "outputs" / "runs").glob("*-torch-mse-lr=0.01-ep=5-cpu")
    assert (run / "graph.dot").is_file() and not (run / "graph.png").exists()
    assert "AccumulateGrad" in (run / "graph.dot").read_text()  # torchviz's graph
    assert (proc.stdout + proc.stderr).count("apt-get install graphviz") == 1, proc.stderr
    assert json.loads((run / "result.json").read_text())["status"] == "ok"
    [mlflow_run] = store_runs(env["MLFLOW_TRACKING_URI"])
    assert "mlflow.source.git.commit" not in mlflow_run.data.tags  # no git: left out
    assert os.environ.get("PATH")  # the test's own PATH is untouched
