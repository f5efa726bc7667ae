"""The computation-graph image of a run, as the walkthrough draws it.

torch: the autograd graph of the loss, as torchviz's ``make_dot`` draws it (the backward functions,
the model's named parameters in blue, the loss in green), by linreg's own walk over ``grad_fn``: a
loss of a linear model is a graph of a handful of nodes, and torchviz imports ``distutils``, which
Python 3.12 removed.  numpy and python: the graph of the formula the backend evaluates (forward
pass to J, and the gradient the walkthrough derives).  The DOT source is always written; the PNG
needs Graphviz's ``dot`` program, and without it the run completes with the DOT source alone.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import numpy as np

from linreg.core.losses import Loss

INSTALL_HINT = (
    "Graphviz's 'dot' program is not installed: computation graphs are logged as DOT source only. "
    "For PNG images install it (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install "
    "graphviz; conda: conda install graphviz)."
)

_LOSS_NODE = {
    "mse": ("r²", "2r"),
    "mse_half": ("½ r²", "r"),
    "mae": ("|r|", "sign(r)"),
    "huber": ("huber_δ(r)", "clip(r, -δ, δ)"),
}


def dot_available() -> bool:
    return shutil.which("dot") is not None


def formula_dot(backend: str, loss: Loss, n: int, m: int) -> str:
    """The graph of J(θ) and ∇J(θ) as the numpy / python backend computes them."""
    value, slope = _LOSS_NODE[loss.name]
    how = "X @ w (BLAS)" if backend == "numpy" else "Σ_j w_j x_ij (loops)"
    delta = f" (δ={loss.delta:g})" if loss.name == "huber" else ""
    lines = [
        "digraph {",
        '  graph [rankdir=TB fontname=Helvetica label="'
        + f"{backend} backend · {loss.label()}"
        + '" labelloc=t]',
        "  node [fontname=Helvetica shape=box style=filled fillcolor=white]",
        f'  X [label="X ({n}×{m})" fillcolor=lightgrey]',
        f'  y [label="y ({n})" fillcolor=lightgrey]',
        f'  w [label="w ({m})" fillcolor=lightblue]',
        '  b [label="b" fillcolor=lightblue]',
        f'  pred [label="ŷ = {how} + b"]',
        '  r [label="r = ŷ − y"]',
        f'  per [label="{value}{delta}"]',
        '  J [label="J = mean" fillcolor=darkolivegreen1]',
        f'  d [label="{slope} / n" fillcolor=lightyellow]',
        '  gw [label="∇w = Xᵀ d" fillcolor=lightyellow]',
        '  gb [label="∇b = Σ d" fillcolor=lightyellow]',
        "  X -> pred; w -> pred; b -> pred; pred -> r; y -> r; r -> per; per -> J",
        "  r -> d; d -> gw; X -> gw; d -> gb",
        '  gw -> w [style=dashed label="w −= lr·∇w"]',
        '  gb -> b [style=dashed label="b −= lr·∇b"]',
        "}",
    ]
    return "\n".join(lines)


def torch_dot(X: np.ndarray, y: np.ndarray, theta: np.ndarray, loss: Loss) -> str:
    """The autograd graph of the loss at θ on (X, y) (see :func:`autograd_dot`)."""
    import torch  # torch: only for a torch run's graph
    from torch import nn

    from linreg.core.backends.torch_common import criterion  # imports torch, as above

    n, m = X.shape
    model = nn.Linear(m, 1)
    with torch.no_grad():
        model.bias.copy_(torch.as_tensor(theta[:1], dtype=torch.float32))
        model.weight.copy_(torch.as_tensor(theta[1:], dtype=torch.float32).reshape(1, m))
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
    yt = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(n, 1)
    out = criterion(loss)(model(Xt), yt)
    return autograd_dot(out, dict(model.named_parameters()))


def autograd_dot(output, params: dict) -> str:
    """Graphviz DOT of the backward graph that ends in ``output``: one box per backward function
    (``grad_fn``), each parameter (an AccumulateGrad's ``variable``) named and sized in blue, the
    output in green, edges in the direction of the forward pass.  Nodes are numbered in the order
    the walk meets them, so the same graph gives the same source (and one cached render)."""
    names = {id(v): k for k, v in params.items()}
    ids: dict[int, str] = {}
    nodes: list[str] = []
    edges: list[str] = []

    def node(obj, label: str, colour: str | None = None) -> str:
        if id(obj) not in ids:
            ids[id(obj)] = f"n{len(ids)}"
            fill = f" fillcolor={colour}" if colour else ""
            nodes.append(f"  {ids[id(obj)]} [label={_quote(label)}{fill}]")
        return ids[id(obj)]

    def size(t) -> str:
        return "(" + ", ".join(str(d) for d in t.size()) + ")"

    def walk(fn) -> str:
        if id(fn) in ids:
            return ids[id(fn)]
        here = node(fn, type(fn).__name__)
        variable = getattr(fn, "variable", None)  # AccumulateGrad: a leaf (a parameter)
        if variable is not None:
            label = names.get(id(variable), "") + "\n " + size(variable)
            edges.append(f"  {node(variable, label, 'lightblue')} -> {here}")
        for child, _ in getattr(fn, "next_functions", ()):
            if child is not None:
                edges.append(f"  {walk(child)} -> {here}")
        return here

    top = node(output, f"loss\n {size(output)}", "darkolivegreen1")
    if output.grad_fn is not None:
        edges.append(f"  {walk(output.grad_fn)} -> {top}")
    head = [
        "digraph {",
        '  graph [size="12,12"]',
        "  node [align=left fontname=monospace fontsize=10 height=0.2 ranksep=0.1 shape=box"
        " style=filled]",
    ]
    return "\n".join([*head, *nodes, *edges, "}"])


def _quote(text: str) -> str:
    """A DOT string: quoted, its backslashes, quotes and newlines escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@functools.lru_cache(maxsize=64)
def _render(dot_source: str) -> bytes:
    """The PNG Graphviz's ``dot`` draws of the source."""
    source = dot_source.encode()
    done = subprocess.run(
        ["dot", "-Tpng"], input=source, capture_output=True, check=True, timeout=60
    )
    return done.stdout


def write_graph(folder: Path, dot_source: str, stem: str = "graph") -> list[Path]:
    """Write ``graph.dot`` and, where ``dot`` exists, ``graph.png``; returns the files written.

    Renders are cached by source: a sweep draws each distinct graph once.
    """
    folder.mkdir(parents=True, exist_ok=True)
    dot_path = folder / f"{stem}.dot"
    dot_path.write_text(dot_source)
    written = [dot_path]
    if dot_available():
        png = folder / f"{stem}.png"
        png.write_bytes(_render(dot_source))
        written.append(png)
    return written
