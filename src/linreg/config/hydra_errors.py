"""Hydra's and OmegaConf's errors as linreg's one line (the key, what is allowed, what was given):
the one module that understands them.  It reads their structure where they give it (the
exception's type, OmegaConf's ``full_key``, Hydra's ``override``, ``options`` and
``missing_cfg_file``); the few facts only their text carries are the named patterns below, each
checked against the real error by a test, so that a release that rewords one fails there."""

from __future__ import annotations

import re

from hydra.errors import MissingConfigException, OverrideParseException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from linreg.config.schema import schema_keys
from linreg.core.errors import UsageError

# Hydra's ConfigCompositionException for ~key where the key is null or absent (no cause, no key)
DELETE_ABSENT = re.compile(r"Could not delete from config\. '([^']+)' does not exist")
# OmegaConf's ValidationError for a value that is not of the key's type: the value, the type
NOT_CONVERTED = re.compile(r"Value '(.*)' of type '\w+' could not be converted to (\w+)")
# OmegaConf's ValidationError for a single value where the schema has a list
NOT_A_LIST = "is not a ListConfig"
# OmegaConf's assertion when Hydra 1.3 adds a key under the basic sweeper's params (None)
SWEEPER_PARAMS_NONE = "NoneType"

SWEEPER_PARAMS = "hydra.sweeper.params"
_KINDS = {
    "Integer": "an integer",
    "Float": "a number",
    "Boolean": "true or false",
    "String": "a string",
}
_CSV_KEYS = ("path", "target", "features", "standardize", "test_fraction")


def explained(exc: BaseException, context: str = "") -> UsageError:
    """``exc`` as the family's one line, after ``context: `` where one is given."""
    line = explain(exc)
    return UsageError(f"{context}: {line}" if context else line)


def explain(exc: BaseException) -> str:
    """Hydra's and OmegaConf's errors as one line naming the key, what is allowed and the value."""
    if isinstance(exc, UsageError):
        return str(exc)
    if isinstance(exc, OverrideParseException) and exc.override:
        return _unparsable(exc.override)
    deleted = DELETE_ABSENT.match(str(exc))
    if deleted:
        key = deleted.group(1)
        return (
            f"~{key} must name a key that is set (to delete it), got ~{key} where it is null "
            "or absent"
        )
    if isinstance(exc, MissingConfigException) and exc.options:
        group, _, given = (exc.missing_cfg_file or "").rpartition("/")
        return f"{group or 'config group'} must be one of {', '.join(exc.options)}, got {given!r}"
    cause = exc.__cause__ or exc  # Hydra's "Could not override" carries OmegaConf's error
    key = getattr(cause, "full_key", None)
    if isinstance(cause, ConfigKeyError | ConfigAttributeError) and key:
        return _unknown_key(key)
    if isinstance(cause, ValidationError) and key:
        return _invalid(key, str(cause).splitlines()[0])
    text = str(exc).strip().splitlines()
    return (text[0] if text else "") or type(exc).__name__


def composition_error(exc: BaseException, overrides: list[str]) -> UsageError:
    """Why Hydra could not compose ``overrides``, as one line; Hydra 1.3 cannot take a key of
    ``hydra.sweeper.params`` from the command line, and says so in OmegaConf's words."""
    given = next((o for o in overrides if _key(o).startswith(SWEEPER_PARAMS)), "")
    if given and SWEEPER_PARAMS_NONE in str(exc):
        return UsageError(
            f"{SWEEPER_PARAMS} must be set in a config file with hydra/sweeper=basic (a "
            "grid in a config of your own: --config-dir/--config-name, see README; linreg's "
            f"grid sweeper takes {SWEEPER_PARAMS}={{train.lr:'0.1,1'}}), got {given!r}"
        )
    if given and _key(given.partition("=")[0]) != SWEEPER_PARAMS:  # a key inside it
        return UsageError(
            f"{SWEEPER_PARAMS} must be given whole, as a dict of key: values, e.g. "
            f"{SWEEPER_PARAMS}={{train.lr:'0.01,0.1',loss:'mse,mae'}}, got {given!r}"
        )
    return explained(exc)


def _key(override: str) -> str:
    return override.lstrip("+~")


def _unparsable(override: str) -> str:
    """An override Hydra's grammar refuses: its key is what comes before ``=``, ``~`` or ``+``."""
    key = re.split(r"[=~+]", _key(override), maxsplit=1)[0] or "an override"
    return (
        f"{key} must be given as key=value in Hydra's override grammar (null for none; quote "
        f"a value with spaces or brackets), got {override!r}"
    )


def _invalid(key: str, message: str) -> str:
    """OmegaConf's ValidationError of ``key`` (its first line, ``message``) as one line."""
    converted = NOT_CONVERTED.search(message)
    if converted:
        kind = _KINDS.get(converted.group(2), f"a {converted.group(2).lower()}")
        return f"{key} must be {kind}, got {converted.group(1)!r}"
    if NOT_A_LIST in message:
        return f"{key} must be a list such as [2.5, -1.0], got a single value"
    return f"{key}: {message}"


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
