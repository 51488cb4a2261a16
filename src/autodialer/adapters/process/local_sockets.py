"""Where the dialer process listens for its API worker: a private directory and the HTTP socket in it.

``<data_dir>/run`` (mode 0700) holds ``dialer.sock`` (the dialer's full HTTP app: the live wallboard, events,
explain, status; mode 0600) and ``wake.sock`` (wake_socket). Only our user can reach them; the public port never
serves what they serve. A Unix socket path is limited to ~107 bytes: when the data directory is deeper than that
allows, a fresh private directory under the system's temporary directory is used instead (removed on exit).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

_MAX_PATH = 100  # sun_path is 108 bytes with its NUL; keep a margin


class SocketInUse(RuntimeError):
    """Another running service answers on the socket: two dialers on one data directory would both dial."""


@dataclass(frozen=True)
class RunDir:
    path: Path
    temporary: bool

    @property
    def dialer_socket(self) -> Path:
        return self.path / "dialer.sock"

    @property
    def wake_socket(self) -> Path:
        return self.path / "wake.sock"

    @classmethod
    def of(cls, data_dir: Path) -> RunDir:
        """Where a service on ``data_dir`` listens (nothing is created; when its path was too long for a socket,
        the service used a temporary directory instead, and nothing else can find it)."""
        return cls(data_dir.resolve() / "run", temporary=False)

    @classmethod
    def create(cls, data_dir: Path) -> RunDir:
        wanted = cls.of(data_dir).path
        if len(str(wanted / "dialer.sock")) <= _MAX_PATH:
            wanted.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(wanted, 0o700)
            return cls(wanted, temporary=False)
        return cls(Path(tempfile.mkdtemp(prefix="autodialer-")), temporary=True)

    def remove(self) -> None:
        """Remove the sockets (and a temporary directory); the data directory's ``run`` stays."""
        for path in (self.dialer_socket, self.wake_socket):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if self.temporary:
            shutil.rmtree(self.path, ignore_errors=True)


def bind_stream_socket(path: Path) -> socket.socket:
    """A listening Unix stream socket at ``path``, mode 0600. A file left by a dead service is replaced; one a live
    service still answers on is not (SocketInUse)."""
    if path.exists():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(path))
            except OSError:
                path.unlink()  # nobody answers: stale (kill -9)
            else:
                raise SocketInUse(f"{path}: another autodialer serve runs on this data directory")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
