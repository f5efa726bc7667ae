"""The computation-graph image of a run, as the walkthrough draws it.

torch: the autograd graph of the loss, drawn by torchviz's ``make_dot`` with the model's named
parameters.  numpy and python: the graph of the formula the backend evaluates (forward pass to J,
and the gradient the walkthrough derives).  The DOT source is always written; the PNG needs
Graphviz's ``dot`` program, and without it the run completes with the DOT source alone.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import numpy as np

from ..core.losses import Loss

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
    """torchviz's drawing of the autograd graph of the loss at θ on (X, y)."""
    import torch
    from torch import nn
    from torchviz import make_dot

    from ..core.backends.torch_backend import criterion

    n, m = X.shape
    model = nn.Linear(m, 1)
    with torch.no_grad():
        model.bias.copy_(torch.as_tensor(theta[:1], dtype=torch.float32))
        model.weight.copy_(torch.as_tensor(theta[1:], dtype=torch.float32).reshape(1, m))
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
    yt = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(n, 1)
    out = criterion(loss)(model(Xt), yt)
    return make_dot(out, params=dict(model.named_parameters())).source


@functools.lru_cache(maxsize=64)
def _render(dot_source: str) -> bytes:
    import graphviz

    return graphviz.Source(dot_source).pipe(format="png")


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
