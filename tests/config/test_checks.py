"""The checks before any work (linreg.config.checks), called directly: an absent device in a sweep
is a skipped run, a key of another choice is explained, the commands documented in conf/ pass."""

from __future__ import annotations

import re

import pytest

from linreg.core.device import available_devices
from tests.helpers.cli import REPO
from tests.helpers.commands import OPTUNA, write_params


def test_the_committed_params_pass_the_same_checks(tmp_path):
    """The control for the cases above: only their change makes the copy fail."""
    from linreg.config import params
    from linreg.config.checks import check

    path = write_params(tmp_path, lambda p: None)
    checked = check(params.overrides(path), multirun=True)
    assert set(checked.sweeps) == {"train.lr", "train.epochs", "loss", "backend"}


def test_an_absent_device_in_a_sweep_is_a_skipped_run_not_bad_input():
    from linreg.config.checks import UsageError, check

    absent = [d for d in ("cuda", "mps") if d not in available_devices()]
    if not absent:
        pytest.skip("cuda and mps are both present")
    assert check([f"device=cpu,{absent[0]}"], multirun=True).sweeps == {
        "device": ["cpu", absent[0]]
    }
    with pytest.raises(UsageError, match=rf"^device must be a device present .*'{absent[0]}'$"):
        check([f"device={absent[0]}"], multirun=False)


def test_a_key_of_another_choice_is_explained():
    from linreg.config.checks import UsageError, check

    with pytest.raises(UsageError) as info:
        check(["loss.delta=2"], multirun=False)  # loss=mse has no delta: only huber has
    message = str(info.value)
    assert message.startswith("loss.delta")
    listed = re.search(r"\(([^)]*)\)", message)
    assert listed is None or "delta" not in listed.group(1).split(", "), message


def documented_commands() -> list:
    """The one-line linreg commands written in conf/'s comments (continued ones left out)."""
    import shlex

    out = []
    for path in sorted((REPO / "conf").rglob("*.yaml")):
        for line in path.read_text().splitlines():
            match = re.match(r"#\s+(?:.*:\s+)?(?:python -m linreg\.train|linreg) (.*)", line)
            text = match.group(1).split("  #")[0].strip() if match else ""
            if not text or text.endswith("\\"):
                continue
            marks = [OPTUNA] if "optuna" in text else []
            name = f"{path.relative_to(REPO)}: {text}"
            out.append(pytest.param(shlex.split(text), id=name, marks=marks))
    return out


@pytest.mark.parametrize("argv", documented_commands())
def test_the_commands_documented_in_conf_pass_the_check(tmp_path, monkeypatch, argv):
    from linreg.config.checks import check

    monkeypatch.chdir(tmp_path)  # data=csv data.path=houses.csv: the documented file, here
    (tmp_path / "houses.csv").write_text("size,price\n1,2\n2,4\n3,6\n4,8\n5,10\n6,12\n")
    multirun = "-m" in argv
    check([a for a in argv if a not in ("-m", "--multirun")], multirun)


def test_conf_documents_commands():
    assert len(documented_commands()) >= 5
