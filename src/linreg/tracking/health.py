"""A tracking server that does not answer is found before the sweep, in seconds, not after
minutes of MLflow's retries."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from linreg.core.errors import UsageError
from linreg.tracking.redact import redact

TIMEOUT_S = 5


def check_server(uri: str) -> str | None:
    """None when ``uri`` is not a server or its server answers; else why not, in a few words."""
    if not uri.startswith(("http://", "https://")):
        return None
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    request = urllib.request.Request(
        urlunsplit(parts._replace(netloc=netloc)).rstrip("/") + "/health"
    )
    if parts.username is not None:  # user:password@host: basic auth, as MLflow sends it
        token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S):
            return None
    except urllib.error.HTTPError:
        return None  # it answered (a proxy, an auth wall): MLflow will say more
    except (urllib.error.URLError, OSError, ValueError) as err:
        return str(getattr(err, "reason", err))


def require_server(uri: str) -> None:
    """The tracking server answers, or the command stops here with one line."""
    why = check_server(uri)
    if why:
        raise UsageError(
            f"tracking.uri must name an MLflow server that answers, got {redact(uri)} ({why})"
        )
