"""An office CA and a server certificate made with openssl, as the playbook makes them for an office
without certificates of its own: for the TLS tests, the broker ACL tests and the flood benchmark."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OfficeCA:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def make_office_ca(directory: Path, hosts: Iterable[str] = ("localhost",), ips: Iterable[str] = ("127.0.0.1",),
                   name: str = "wartemarke office CA") -> OfficeCA:
    """A small CA (EC P-256) and a server certificate for `hosts`/`ips` (subjectAltName), as the
    playbook makes for an office without certificates of its own."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = OfficeCA(directory / "ca.crt", directory / "ca.key", directory / "server.crt", directory / "server.key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", ca.ca_key.name, "-out", ca.ca_cert.name, "-days", "3650", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    hosts, ips = list(hosts), list(ips)
    san = ",".join([f"DNS:{h}" for h in hosts] + [f"IP:{ip}" for ip in ips])
    (directory / "server.ext").write_text(
        f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n", encoding="utf-8")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", ca.server_key.name, "-out", "server.csr", "-subj", f"/CN={(hosts or ips)[0]}", cwd=directory)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", ca.ca_cert.name, "-CAkey", ca.ca_key.name,
             "-CAcreateserial", "-out", ca.server_cert.name, "-days", "825", "-extfile", "server.ext", cwd=directory)
    for key in (ca.ca_key, ca.server_key):
        key.chmod(0o600)
    return ca
