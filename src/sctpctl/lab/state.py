"""The lab's state folder: where its store, certificates, token and kubeconfig live.

Layout (all files mode 0600, the folder 0700)::

    <state>/                   $SCTPCTL_LAB_STATE, else /var/lib/sctpctl/lab
      store.db                 the SQLite store (plus store.db-wal, store.db-shm)
      pki/ca.crt, ca.key       the lab's CA
      pki/apiserver.crt, .key  the serving certificate for 127.0.0.1
      token                    the bearer token
      kubeconfig               for kubectl and sctpctl (server, CA, token)

Secrets are created once and kept, so a restarted lab keeps its kubeconfig valid. Every file is
written to a temporary name, flushed and renamed: a crash never leaves half a file.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sctpctl.lab.certs import KeyPair, make_ca, make_serving_certificate

ENV_VAR = "SCTPCTL_LAB_STATE"
DEFAULT_PATH = Path("/var/lib/sctpctl/lab")


def default_state_dir() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


@dataclass(frozen=True)
class LabState:
    root: Path

    @property
    def store(self) -> Path:
        return self.root / "store.db"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def ca_certificate(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.pki / "ca.key"

    @property
    def serving_certificate(self) -> Path:
        return self.pki / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.pki / "apiserver.key"

    @property
    def token_file(self) -> Path:
        return self.root / "token"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def ensure(self) -> None:
        """Create the folder, the CA, the serving certificate and the token when missing."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        if not (self.ca_certificate.exists() and self.ca_key.exists()):
            ca = make_ca()
            write_private(self.ca_key, ca.key_pem)
            write_private(self.ca_certificate, ca.certificate_pem)
            for stale in (self.serving_certificate, self.serving_key):
                stale.unlink(missing_ok=True)
        if not (self.serving_certificate.exists() and self.serving_key.exists()):
            serving = make_serving_certificate(self.ca())
            write_private(self.serving_key, serving.key_pem)
            write_private(self.serving_certificate, serving.certificate_pem)
        if not self.token_file.exists():
            write_private(self.token_file, secrets.token_urlsafe(32).encode())

    def ca(self) -> KeyPair:
        return KeyPair(self.ca_certificate.read_bytes(), self.ca_key.read_bytes())

    def token(self) -> str:
        return self.token_file.read_text().strip()
