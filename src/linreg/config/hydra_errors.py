"""Bad input as one line: :class:`UsageError`, and Hydra's and OmegaConf's errors explained in
the project's shape (the key, what is allowed, what was given)."""

from __future__ import annotations

import re

from linreg.config.schema import schema_keys
from linreg.core.errors import LinregError


class UsageError(Exception):
    """A bad command line or params file; ``str()`` is the one line to print."""


def explain(exc: BaseException) -> str:
    """Hydra's and OmegaConf's errors as one line naming the key, what is allowed and the value."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

    if isinstance(exc, LinregError | UsageError):
        return str(exc)
    if isinstance(exc, OverrideParseException) and exc.override:
        key = re.split(r"[=~+]", exc.override.lstrip("+~"), maxsplit=1)[0] or "an override"
        return (
            f"{key} must be given as key=value in Hydra's override grammar (null for none; quote "
            f"a value with spaces or brackets), got {exc.override!r}"
        )
    deleted = re.match(r"Could not delete from config\. '([^']+)' does not exist", str(exc))
    if deleted:
        return (
            f"~{deleted.group(1)} must name a key that is set (to delete it), got "
            f"~{deleted.group(1)} where it is null or absent"
        )
    if isinstance(exc, MissingConfigException) and exc.options:
        group, _, given = (exc.missing_cfg_file or "").rpartition("/")
        return f"{group or 'config group'} must be one of {', '.join(exc.options)}, got {given!r}"
    cause = exc.__cause__ or exc
    key = getattr(cause, "full_key", None)
    if isinstance(cause, ConfigKeyError | ConfigAttributeError) and key:
        return _unknown_key(key)
    if isinstance(cause, ValidationError) and key:
        msg = str(cause).splitlines()[0]
        match = re.search(r"Value '(.*)' of type '\w+' could not be converted to (\w+)", msg)
        if match:
            kind = _KINDS.get(match.group(2), f"a {match.group(2).lower()}")
            return f"{key} must be {kind}, got {match.group(1)!r}"
        if "is not a ListConfig" in msg or "could not be converted to a list" in msg.lower():
            return f"{key} must be a list such as [2.5, -1.0], got a single value"
        return f"{key}: {msg}"
    text = str(exc).strip().splitlines()
    match = re.search(r"Could not override '([^']+)'", text[0] if text else "")
    if match:
        return _unknown_key(match.group(1))
    return (text[0] if text else "") or type(exc).__name__


def _unknown_key(key: str) -> str:
    parent, _, name = key.rpartition(".")
    known = schema_keys(parent)
    if name in known:  # a key of the schema that the chosen group file does not set
        choice = {
            "loss": "loss=huber",
            "data": f"data={'csv' if name in _CSV_KEYS else 'walkthrough'}",
        }
        return (
            f"{key} must be set only with a {parent} choice whose file sets it "
            f"({choice.get(parent, 'see conf/' + parent)}), got {key} with another {parent}"
        )
    where = parent or "the config"
    return (
        f"{key} must be one of the keys of {where} ({', '.join(known) or 'no keys'}), got {name!r}"
    )


_CSV_KEYS = ("path", "target", "features", "standardize", "test_fraction")
_KINDS = {
    "Integer": "an integer",
    "Float": "a number",
    "Boolean": "true or false",
    "String": "a string",
}
