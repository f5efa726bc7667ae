"""A tracking URI as linreg writes it to files and terminals: without its password (an MLflow
server's ``http://user:password@host``), and back again from the environment to connect."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


def redact(uri: str) -> str:
    """A tracking URI without its password, to be written to files."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def unredact(uri: str) -> str:
    """The URI to connect with: MLFLOW_TRACKING_URI when a manifest's redacted URI is it."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    return env if env and redact(env) == uri and env != uri else uri
