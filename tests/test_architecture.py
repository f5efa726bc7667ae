"""The house's rules, read from the source with ``ast``: packages import one way (core < run <
config < present < {report, tracking} < sweep < the stage modules), no import cycle (function-
local imports counted), the core free of pipeline tools (also checked by importing it in a fresh
interpreter), short functions, no ``# fmt: skip``, ``sys.argv`` set in one place, no module-level
mutable state, and the environment written only where a listed reason says so."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "linreg"
PIPELINE_TOOLS = ("hydra", "omegaconf", "mlflow", "dvc")

# Bottom to top; a module may import its own package or a lower rank.  report and tracking share
# a rank and must not import each other.  The stage modules (generate, train, evaluate) and
# linreg/__init__.py are the top.
RANK = {"core": 0, "run": 1, "config": 2, "present": 3, "report": 4, "tracking": 4, "sweep": 5}
TOP = 6
MAX_FUNCTION_LINES = 55

# Where linreg may write os.environ, and why: (module, variable).  Trim as the code allows.
ENVIRONMENT_WRITES = {
    ("linreg.tracking.store", "MLFLOW_LOGGING_LEVEL"),  # MLflow's logging: read at its import
    ("linreg.tracking.store", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"),  # no bars in the log
    ("linreg.tracking.store", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"),  # no URL per run
    ("linreg.train", "MLFLOW_TRACKING_URI"),  # a Ray worker: an empty value is no value
    # Hydra's own switch, set around a sweep and restored: without it hydra.main prints a
    # launcher's exception and exits; with it the exception reaches linreg.train (no other way)
    ("linreg.train", "HYDRA_FULL_ERROR"),
}
MUTATING_METHODS = {"append", "extend", "insert", "add", "update", "clear", "pop", "popitem"}
MUTATING_METHODS |= {"remove", "discard", "setdefault", "sort", "reverse"}


def modules() -> dict[str, tuple[Path, ast.Module]]:
    """Every module under src/linreg by dotted name, parsed."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = (path, ast.parse(path.read_text(), str(path)))
    return out


MODULES = modules()


def source_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def is_package(name: str) -> bool:
    return MODULES[name][0].name == "__init__.py"


def type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (never run)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for b in node.body for n in ast.walk(b)}
    return out


def imports(name: str, with_type_checking: bool = True) -> list[tuple[str, int]]:
    """(imported module, line) for every import in module ``name``, function-local ones included;
    ``from X import y`` names the module X.y where y is a module, else X."""
    tree = MODULES[name][1]
    skip = set() if with_type_checking else type_checking_only(tree)
    package = name if is_package(name) else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append((sub if sub in MODULES else base, node.lineno))
    return out


def layer(name: str) -> tuple[str, int]:
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in RANK:
        return parts[1], RANK[parts[1]]
    return "stages", TOP


def linreg_imports(name: str, **kw) -> list[tuple[str, int]]:
    return [
        (m, line) for m, line in imports(name, **kw) if m == "linreg" or m.startswith("linreg.")
    ]


def test_each_package_imports_only_its_own_or_the_layers_below():
    wrong = []
    for name in MODULES:
        own, rank = layer(name)
        for target, line in linreg_imports(name):
            other, other_rank = layer(target)
            if other != own and other_rank >= rank:
                wrong.append(f"{MODULES[name][0].relative_to(SRC)}:{line} ({own}) imports {target}")
    assert not wrong, (
        "imports against the layers "
        + " < ".join([*sorted(RANK, key=RANK.get), "stages"])
        + ":\n"
        + "\n".join(wrong)
    )


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module (the import cycles)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_function_local_imports_included():
    graph = {
        name: {m for m, _ in linreg_imports(name, with_type_checking=False) if m in MODULES}
        - {name}
        for name in MODULES
    }
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_core_imports_no_pipeline_tool_and_no_other_linreg_package():
    wrong = []
    for name in MODULES:
        if layer(name)[0] != "core":
            continue
        for target, line in imports(name):
            top = target.split(".")[0]
            if top in PIPELINE_TOOLS or (top == "linreg" and layer(target)[0] != "core"):
                wrong.append(f"{MODULES[name][0].relative_to(SRC)}:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def run_isolated(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line, returned parsed."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_numpy_path_imports_no_torch_and_no_pipeline_tools():
    got = run_isolated("""
        import json, sys
        import numpy as np
        import linreg.core as core

        # data by hand (generate() draws with torch by the walkthrough protocol)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((20, 2)).astype(np.float32)
        y = (X @ np.array([1.5, -0.5]) + 2.0).astype(np.float32)
        theta0 = core.data.initial_theta("zeros", 2, 0, None)
        t = core.fit(X, y, theta0, core.TrainSettings(lr=0.1, epochs=300), "numpy")
        ds = core.Dataset(X=X, y=y, X_test=X[:0], y_test=y[:0], theta0=theta0,
                          theta_true=np.array([2.0, 1.5, -0.5]), spec={})
        ev = core.evaluate(t.theta_final, ds, core.Loss("mse"), trajectory=t)
        mods = sorted({m.split(".")[0] for m in sys.modules})
        print(json.dumps({"modules": mods, "status": t.status,
                          "theta": t.theta_final.tolist(), "theta_error": ev.theta_error}))
    """)
    assert got["status"] == "ok"
    assert abs(got["theta"][0] - 2.0) < 1e-4 and abs(got["theta"][1] - 1.5) < 1e-4
    assert got["theta_error"] < 1e-4
    mods = set(got["modules"])
    assert "linreg" in mods and "numpy" in mods  # the probe sees real imports
    assert "torch" not in mods
    for tool in PIPELINE_TOOLS:
        assert tool not in mods, tool


def test_torch_path_loads_torch_but_no_pipeline_tools():
    got = run_isolated("""
        import json, sys
        import linreg.core as core
        ds = core.generate(core.DataSpec(n_samples=10, n_test=0))
        t = core.fit(ds.X, ds.y, ds.theta0, core.TrainSettings(epochs=2), "torch")
        print(json.dumps({"modules": sorted({m.split(".")[0] for m in sys.modules}),
                          "status": t.status}))
    """)
    assert got["status"] == "ok"
    mods = set(got["modules"])
    assert "torch" in mods  # the check above would notice torch if it were there
    for tool in PIPELINE_TOOLS:
        assert tool not in mods, tool


def parsed_sources() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in source_files()]


def test_no_function_is_longer_than_55_lines():
    long = [
        f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1}"
        for path, tree in parsed_sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_no_fmt_skip():
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in source_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "fmt: skip" in line
    ]
    assert not found, "# fmt: skip in:\n" + "\n".join(found)


def is_sys_argv(node: ast.AST) -> bool:
    return ast.unparse(node) == "sys.argv"


def argv_writes(tree: ast.Module) -> list[int]:
    """Lines that set sys.argv: assigned, an item assigned, mutated in place, or setattr."""
    out = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for part in ast.walk(target):
                if is_sys_argv(part):
                    out.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if is_sys_argv(node.func.value) and node.func.attr in MUTATING_METHODS:
                out.append(node.lineno)
            if ast.unparse(node.func) == "setattr" or (
                node.func.attr == "setattr" and node.args and ast.unparse(node.args[0]) == "sys"
            ):
                out.append(node.lineno)
    return sorted(set(out))


def test_sys_argv_is_set_in_one_place_at_most():
    places = [
        f"{path.relative_to(SRC)}:{line}"
        for path, tree in parsed_sources()
        for line in argv_writes(tree)
    ]
    assert len(places) <= 1, "sys.argv set in:\n" + "\n".join(places)


def module_level_containers(tree: ast.Module) -> dict[str, int]:
    """Names bound at module level (also under a top-level if/try) to a list, dict or set
    literal or comprehension, or to a call: name -> line."""
    out = {}
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If | ast.Try):
            statements += node.body + node.orelse + getattr(node, "finalbody", [])
            for handler in getattr(node, "handlers", []):
                statements += handler.body
            continue
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        kinds = ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp | ast.Call
        if value is None or not isinstance(value, kinds):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                out[target.id] = node.lineno
    return out


def mutations(tree: ast.Module, names: dict[str, int]) -> list[tuple[str, int]]:
    """(name, line) wherever a module-level container is changed in place, or any module-level
    name is rebound from a function (``global``)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            out += [(name, node.lineno) for name in node.names]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in names
            and node.func.attr in MUTATING_METHODS
        ):
            out.append((node.func.value.id, node.lineno))
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store | ast.Del)
            and isinstance(node.value, ast.Name)
            and node.value.id in names
        ):
            out.append((node.value.id, node.lineno))
    return out


def test_no_module_level_mutable_state():
    found = []
    for path, tree in parsed_sources():
        names = module_level_containers(tree)
        for name, line in mutations(tree, names):
            found.append(f"{path.relative_to(SRC)}:{line} changes module-level {name}")
    assert not found, "module-level state:\n" + "\n".join(sorted(set(found)))


def environment_writes(tree: ast.Module) -> list[tuple[str, int]]:
    """(variable, line) for os.environ[...] = / del, and os.environ.setdefault/pop/update."""
    out = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store | ast.Del)
            and ast.unparse(node.value) == "os.environ"
        ):
            out.append((ast.unparse(node.slice).strip("'\""), node.lineno))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if ast.unparse(node.func.value) == "os.environ" and node.func.attr in MUTATING_METHODS:
                key = ast.unparse(node.args[0]).strip("'\"") if node.args else "?"
                out.append((key, node.lineno))
            if ast.unparse(node.func) in {"os.putenv", "os.unsetenv"}:
                out.append((ast.unparse(node.args[0]).strip("'\""), node.lineno))
    return out


def test_the_environment_is_written_only_where_listed():
    found = {}
    for name, (path, tree) in MODULES.items():
        for variable, line in environment_writes(tree):
            found.setdefault((name, variable), []).append(f"{path.relative_to(SRC)}:{line}")
    unlisted = {key: lines for key, lines in found.items() if key not in ENVIRONMENT_WRITES}
    assert not unlisted, (
        "os.environ written outside the allow-list:\n"
        + "\n".join(f"{k}: {v}" for k, v in sorted(unlisted.items()))
        + "\nthe allow-list:\n"
        + "\n".join(map(str, sorted(ENVIRONMENT_WRITES)))
    )
