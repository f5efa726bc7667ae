"""No value has two homes (linreg.config.schema): the schema holds types only, every default is
written once, in conf/, and every composed key is a schema key."""

from __future__ import annotations

import dataclasses

import yaml
from omegaconf import MISSING, OmegaConf

from linreg.config.paths import CONF_DIR
from linreg.config.schema import SECTIONS, LinregConf, schema_keys
from tests.helpers.conf import GROUPS, choices, leaves

# The files the default config is composed of: conf/config.yaml and its defaults list's choices.
DEFAULT_FILES = {
    "": CONF_DIR / "config.yaml",
    "data": CONF_DIR / "data" / "walkthrough.yaml",
    "loss": CONF_DIR / "loss" / "mse.yaml",
    "backend": CONF_DIR / "backend" / "torch.yaml",
    "device": CONF_DIR / "device" / "cpu.yaml",
}


# --- no value has two homes ----------------------------------------------------------------------
def schema_fields(cls=LinregConf, prefix: str = ""):
    for f in dataclasses.fields(cls):
        yield f"{prefix}{f.name}", f
        node = SECTIONS.get(f.name) if cls is LinregConf else None
        if node is not None:
            yield from schema_fields(node, f"{f.name}.")


def test_the_schema_holds_types_only():
    seen = dict(schema_fields())
    assert {k for k in seen if "." not in k} == set(SECTIONS)
    assert len(seen) > len(SECTIONS) + 30, "the sections' fields are walked too"
    for key, f in seen.items():
        no_default = f.default is dataclasses.MISSING or f.default == MISSING
        assert no_default, f"{key} has a default ({f.default!r}): defaults live in conf/"
        assert f.default_factory is dataclasses.MISSING, f"{key} has a default_factory"
    # and the schema's dataclasses instantiate to nothing but MISSING values
    assert set(leaves(OmegaConf.to_container(OmegaConf.structured(LinregConf))).values()) == {
        MISSING
    }


def written_keys() -> list[str]:
    """Every leaf key written in the default config's files, each under its group's package."""
    out = []
    for group, path in DEFAULT_FILES.items():
        body = yaml.safe_load(path.read_text()) or {}
        body = {k: v for k, v in body.items() if k not in ("defaults", "hydra")}
        out += leaves(body, f"{group}." if group else "")
    return out


def test_each_default_is_written_in_exactly_one_file(compose):
    composed = leaves(OmegaConf.to_container(compose()))
    written = written_keys()
    twice = sorted({k for k in written if written.count(k) > 1})
    assert not twice, f"written in more than one of conf/'s files: {twice}"
    assert sorted(written) == sorted(composed)
    assert {"data.n_samples", "data.dir", "loss.name", "train.lr", "tracking.uri"} <= set(written)


def test_each_composed_default_is_its_files_value(compose):
    composed = leaves(OmegaConf.to_container(compose()))
    for group, path in DEFAULT_FILES.items():
        body = yaml.safe_load(path.read_text())
        body = {k: v for k, v in body.items() if k not in ("defaults", "hydra")}
        for key, value in leaves(body, f"{group}." if group else "").items():
            assert composed[key] == value, key


def test_every_composed_key_is_a_schema_key(compose):
    for group in GROUPS:
        assert choices(group), group
        for choice in choices(group):
            cfg = OmegaConf.to_container(compose(f"{group}={choice}"))
            for key in leaves(cfg):
                section, _, name = key.partition(".")
                assert name in schema_keys(section), f"{group}={choice}: {key}"
