"""Fetching pretrained weights into the standard torch hub cache, with progress and plain errors."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import ssl
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import torch.hub

ProgressCallback = Callable[[int, int | None], None]
"""Called with (bytes done, total bytes or None when the server does not say)."""

logger = logging.getLogger(__name__)
_CHUNK = 1 << 20
_fetch_locks: dict[str, threading.Lock] = {}
_fetch_locks_guard = threading.Lock()


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be had (offline, refused, corrupt). The message is for the user."""


def why_not(exc: BaseException) -> str:
    """A download failure in words, without errno numbers: what a teacher can act on."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered HTTP {exc.code} ({exc.reason})"
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.gaierror):
        return "the download server's name could not be looked up (no network or no DNS)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "the download timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused (a proxy or firewall may block it)"
    if isinstance(reason, ssl.SSLError):
        return "the secure connection failed (a proxy may intercept it)"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror[0].lower() + reason.strerror[1:]
    return str(reason) or type(reason).__name__


def cache_path(url: str) -> Path:
    """Where torch hub keeps the file for ``url``: ``$TORCH_HOME/hub/checkpoints/<file name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def is_cached(url: str) -> bool:
    """Whether the weights at ``url`` are already in the local torch hub cache."""
    return cache_path(url).is_file()


def fetch(url: str, progress: ProgressCallback | None = None, timeout: float = 30.0) -> Path:
    """Make sure the file at ``url`` is in the torch hub cache and return its path.

    Downloads to a temporary file beside the destination, checks the SHA-256 prefix that torchvision
    puts in its file names, then moves it into place, so an interrupted download never leaves a
    broken cache entry. Concurrent calls for the same file download it once.

    Raises:
        WeightsUnavailableError: the download failed or the file is corrupt.
    """
    dest = cache_path(url)
    with _fetch_locks_guard:
        lock = _fetch_locks.setdefault(str(dest), threading.Lock())
    with lock:
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        match = torch.hub.HASH_REGEX.search(dest.name)
        expected = match.group(1) if match else None
        digest = hashlib.sha256()
        handle, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                done = 0
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            if expected and not digest.hexdigest().startswith(expected):
                raise WeightsUnavailableError(f"The downloaded file {dest.name} is corrupt (checksum mismatch).")
            os.replace(tmp_name, dest)
        except WeightsUnavailableError:
            raise
        except (urllib.error.URLError, OSError, ValueError) as exc:
            logger.warning("download of %s failed: %s", url, why_not(exc))
            raise WeightsUnavailableError(
                f"Could not download {dest.name}: {why_not(exc)}. This machine may be offline; the embedded "
                f"model works without a download. To use these weights offline, copy {dest.name} into "
                f"{dest.parent} (README: Offline classrooms)."
            ) from exc
        finally:
            if os.path.exists(tmp_name):
                os.remove(tmp_name)
        return dest
