"""The README and docs/ as a newcomer uses them: short, linked, and every command as written.

The README stays a page (at most 200 lines); every relative link of README.md and docs/*.md
names a file that exists; every ``linreg`` / ``python -m linreg...`` / ``dvc`` / ``make``
command in their shell code blocks parses (Hydra's override parser, then the config composes;
dvc's own argument parser; the Makefile's targets); every ``linreg.x.y`` path they name imports;
and the README's everyday single run runs (slow).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep

from linreg.config import params
from linreg.config.paths import CONF_DIR
from linreg.train import parse

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = {"bash", "sh", "shell", "console"}
PROMPT_BLOCKS = {"text", "console"}  # their "$ command" lines are commands too
FENCE = re.compile(r"^```(\w*)\s*$")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
MODULE_PATH = re.compile(r"(?<![\w/.$-])linreg(?:\.[A-Za-z_]\w*)+")
# dotted names in the docs that are not Python paths: MLflow tags linreg writes and the resolvers
# it registers; each must still be a name the source uses
NOT_PYTHON_PATHS = {"linreg.pid", "linreg.reused_from", "linreg.critical_lr", "linreg.run_folder"}
# Hydra's own command-line flags (hydra.main's argument parser), which linreg hands to Hydra
HYDRA_FLAGS = {
    "--help",
    "-h",
    "--hydra-help",
    "--version",
    "--cfg",
    "-c",
    "--resolve",
    "--package",
    "-p",
    "--info",
    "-i",
    "--shell-completion",
    "-sc",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--experimental-rerun",
    "--multirun",
    "-m",
}
# the Hydra plugin a launcher or sweeper preset needs (an extra, see docs/scale-out.md)
PLUGINS = {
    "hydra/launcher=joblib": "hydra_plugins.hydra_joblib_launcher",
    "hydra/launcher=ray_cluster": "hydra_plugins.hydra_ray_launcher",
    "hydra/launcher=slurm": "hydra_plugins.hydra_submitit_launcher",
    "hydra/launcher=submitit_local": "hydra_plugins.hydra_submitit_launcher",
    "hydra/sweeper=optuna_lr": "hydra_plugins.hydra_optuna_sweeper",
}


def rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def blocks(page: Path) -> list[tuple[str, list[str]]]:
    """The fenced code blocks of a page: (info string, lines)."""
    out, lang, lines = [], None, []
    for line in page.read_text(encoding="utf-8").splitlines():
        fence = FENCE.match(line)
        if fence and lang is None:
            lang, lines = fence.group(1).lower(), []
        elif line.startswith("```") and lang is not None:
            out.append((lang, lines))
            lang = None
        elif lang is not None:
            lines.append(line)
    return out


def shell_lines(lang: str, lines: list[str]) -> list[str]:
    """A block's command lines: continuations joined, a quoted string over several lines kept
    whole; in a text block only the lines after a ``$`` prompt."""
    if lang in PROMPT_BLOCKS and lang not in SHELL_BLOCKS:
        return [ln[2:] for ln in lines if ln.startswith("$ ")]
    if lang not in SHELL_BLOCKS:
        return []
    out, pending = [], ""
    for line in lines:
        pending += line + "\n"
        if pending.rstrip().endswith("\\"):
            pending = pending.rstrip()[:-1] + " "
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the string goes on in the next line
            continue
        out.append(pending.strip())
        pending = ""
    return [c for c in out if c and not c.startswith("#")]


def simple_commands(line: str) -> list[list[str]]:
    """A command line split at ``&&``, ``;`` and ``|``, each without its leading VAR=value."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split, lexer.commenters = True, "#"
    out, words = [], []
    for token in lexer:
        if token in {"&&", ";", "|", "||", "&"}:
            out.append(words)
            words = []
        else:
            words.append(token)
    out.append(words)
    for words in out:
        while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
            words.pop(0)
    return [w for w in out if w]


def documented_commands() -> list[tuple[str, list[str]]]:
    """(page, words) of every linreg, python -m linreg..., dvc and make command of the docs."""
    found = []
    for page in PAGES:
        for lang, lines in blocks(page):
            for line in shell_lines(lang, lines):
                for words in simple_commands(line):
                    name = Path(words[0]).name
                    if name in {"linreg", "dvc", "make"} or words[:2] == ["python", "-m"]:
                        found.append((rel(page), words))
    return found


COMMANDS = documented_commands()
IDS = [f"{page}: {' '.join(words)}"[:100] for page, words in COMMANDS]


# --- (a) and (b): a short README, and links that lead somewhere ---------------------------------
def test_the_readme_is_at_most_200_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move details to docs/"


def test_the_readme_links_every_page_of_docs():
    text = README.read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert pages, "docs/ has no pages"
    assert [p for p in pages if f"docs/{p}" not in text] == []


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_points_to_a_file(page):
    targets = LINK.findall(page.read_text(encoding="utf-8"))
    missing = [
        t
        for t in targets
        if not re.match(r"^[a-z]+:", t)
        and not t.startswith("#")
        and not (page.parent / t.split("#")[0]).exists()
    ]
    assert missing == [], f"{rel(page)} links files that do not exist"


# --- (c): every command parses ------------------------------------------------------------------
def test_the_docs_have_commands_of_every_kind():
    kinds = {Path(words[0]).name if words[0] != "python" else "python -m" for _, words in COMMANDS}
    assert kinds >= {"linreg", "python -m", "dvc", "make"}, kinds


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9_-]+):(?!=)", text, flags=re.M))


def composable(overrides: list[str]) -> list[list[str]]:
    """The override lists that cover every value of the command: each sweep's first value with
    the rest, then each other value of each sweep in turn (a search space, an optimising
    sweeper's to draw, left out)."""
    plain, sweeps = [], []
    for o in OverridesParser.create().parse_overrides(overrides):
        if not o.is_sweep_override():
            plain.append(o.input_line)
        elif not isinstance(o.value(), IntervalSweep):
            key = o.get_key_element()
            sweeps.append([f"{key}={v}" for v in o.sweep_string_iterator()])
    firsts = [values[0] for values in sweeps]
    out = [plain + firsts]
    for i, values in enumerate(sweeps):
        out += [plain + firsts[:i] + [v] + firsts[i + 1 :] for v in values[1:]]
    return out


def check_linreg(words: list[str], monkeypatch) -> None:
    args = words[1:]
    if args[:1] == ["--params"]:  # the DVC train stage: params.yaml as its command line
        monkeypatch.chdir(ROOT)
        args = params.stage_argv(args[1:])
    multirun, overrides, where, other = parse(args)
    flags = [a.partition("=")[0] for a in args if a.startswith("-")]
    assert set(flags) <= HYDRA_FLAGS, f"not Hydra flags: {set(flags) - HYDRA_FLAGS}"
    if other:  # Hydra's own flags: Hydra answers, nothing composes
        return
    parsed = OverridesParser.create().parse_overrides(overrides)
    assert multirun or not any(o.is_sweep_override() for o in parsed), "a sweep needs -m"
    if where.get("config_dir") and not Path(where["config_dir"]).is_dir():
        return  # a config folder of the reader's own: the overrides parse, that is all
    for preset, module in PLUGINS.items():
        if preset in overrides and importlib.util.find_spec(module) is None:
            pytest.skip(f"{preset} needs {module} (docs/scale-out.md: its extra)")
    with initialize_config_dir(str(CONF_DIR), version_base="1.3", job_name="docs"):
        for one_job in composable(overrides):
            compose(where.get("config_name", "config"), one_job, return_hydra_config=True)


@pytest.mark.parametrize(("page", "words"), COMMANDS, ids=IDS)
def test_every_documented_command_parses(page, words, monkeypatch):
    name = Path(words[0]).name
    if name == "make":
        targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
        assert targets and set(targets) <= makefile_targets(), f"no such make target: {targets}"
    elif name == "dvc":
        from dvc.cli.parser import get_main_parser  # dvc: only for its commands

        try:
            get_main_parser().parse_args(words[1:])
        except SystemExit as exc:
            pytest.fail(f"dvc does not take {' '.join(words[1:])!r} (exit {exc.code})")
    elif name == "python":
        module = words[2]
        assert importlib.util.find_spec(module) is not None, f"no module {module}"
        if module == "linreg.train":
            check_linreg(["linreg", *words[3:]], monkeypatch)
    else:
        check_linreg(words, monkeypatch)


# --- (d): every linreg.x.y path imports ---------------------------------------------------------
def documented_paths() -> list[str]:
    return sorted({m for page in PAGES for m in MODULE_PATH.findall(page.read_text("utf-8"))})


def resolve(path: str):
    """The module or attribute a dotted path names: the longest importable module, then
    attributes."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:  # a parent is a module, not a package: an attribute path
            spec = None
        if spec is None:
            continue
        obj = importlib.import_module(module)  # a module that fails to import fails the test
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(path)


def test_the_docs_name_python_paths():
    assert len(documented_paths()) > 20


@pytest.mark.parametrize("path", documented_paths())
def test_every_documented_python_path_exists(path):
    if path in NOT_PYTHON_PATHS:
        source = "\n".join(p.read_text("utf-8") for p in (ROOT / "src").rglob("*.py"))
        assert f'"{path}"' in source, f"{path} is no longer a tag or resolver name of linreg"
        return
    try:
        resolve(path)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{path} named in the docs does not exist: {exc}")


# --- (e): the README's everyday single run runs --------------------------------------------------
def readme_single_run() -> list[str]:
    for page, words in COMMANDS:
        if page != "README.md" or words[0] != "linreg":
            continue
        multirun, _, _, hydra_flags = parse(words[1:])
        if not multirun and not hydra_flags:  # one run, not a sweep nor Hydra's own flags
            return words
    raise AssertionError("README.md shows no single run (linreg without -m)")


@pytest.mark.slow
def test_the_readmes_single_run_runs(tmp_path):
    words = readme_single_run()
    command = Path(sys.executable).with_name("linreg")
    argv = [str(command)] if command.is_file() else [sys.executable, "-m", "linreg.train"]
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "DVC_ROOT"}}
    done = subprocess.run(
        [*argv, *words[1:], f"tracking.uri=sqlite:///{tmp_path}/mlflow.db"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = list((tmp_path / "outputs" / "runs").glob("*/result.json"))
    assert len(results) == 1, done.stdout + done.stderr
    assert '"status": "ok"' in results[0].read_text()


# --- the map is the tree: the paths the docs name exist, and the architecture lists every module
PROJECT_PATH = re.compile(r"`((?:src|conf|scripts|benchmarks)/[\w/.-]*)`")


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_project_path_named_exists(page):
    named = PROJECT_PATH.findall(page.read_text(encoding="utf-8"))
    assert [p for p in named if not (ROOT / p).exists()] == [], f"{rel(page)} names lost files"


def layer_rows() -> dict[str, str]:
    """The architecture's table of layers: the package cell -> the row."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    return {row.split("|")[2]: row for row in text.splitlines() if re.match(r"^\| \d+ \|", row)}


def test_the_architecture_names_every_module_in_its_layer():
    src = ROOT / "src" / "linreg"
    rows = layer_rows()
    assert len(rows) >= 7, "docs/architecture.md has no table of layers"
    unnamed = []
    for cell, row in rows.items():
        for package in re.findall(r"`(\w+)/`", cell) or [""]:
            folder = src / package
            for entry in sorted(folder.iterdir()):
                module = f"{entry.name}/" if entry.is_dir() else entry.name
                if entry.name in {"__init__.py", "__pycache__"} or not (
                    entry.suffix == ".py" or (entry / "__init__.py").is_file()
                ):
                    continue
                if package and f"`{module}`" not in row:
                    unnamed.append(f"{package}/{module}")
                if not package and entry.is_file() and f"`{module}`" not in row:
                    unnamed.append(module)
    assert unnamed == [], "docs/architecture.md's table of layers leaves these out"


def test_the_readme_layout_has_every_package():
    text = README.read_text(encoding="utf-8")
    packages = [
        p.name for p in (ROOT / "src" / "linreg").iterdir() if (p / "__init__.py").is_file()
    ]
    assert len(packages) >= 7
    assert [p for p in packages if f"`src/linreg/{p}/`" not in text] == []
