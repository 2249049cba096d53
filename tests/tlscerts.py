"""Certificates for a Docker engine behind TLS, made with openssl for the tests: a CA, a server
certificate for 127.0.0.1 and a client certificate, laid out as DOCKER_CERT_PATH expects."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def tls_certificates(d: Path) -> Path:
    """Make them in ``d`` (server: ``ca.pem``, ``server-cert.pem``, ``server-key.pem``); return
    the client folder (``ca.pem``, ``cert.pem``, ``key.pem``)."""
    client = d / "client"
    client.mkdir(parents=True, exist_ok=True)

    def ssl(args: str) -> None:
        proc = subprocess.run(["openssl", *args.split()], cwd=d, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr

    ssl("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rh-test-ca"
        " -keyout ca-key.pem -out ca.pem")  # fmt: skip
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for who in ("server", "client"):
        ssl(f"req -newkey rsa:2048 -nodes -subj /CN=rh-test-{who}"
            f" -keyout {who}-key.pem -out {who}.csr")  # fmt: skip
        ssl(f"x509 -req -in {who}.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2"
            f" -extfile {who}.ext -out {who}-cert.pem")  # fmt: skip
    for name, source in (("ca.pem", "ca.pem"), ("cert.pem", "client-cert.pem"),
                         ("key.pem", "client-key.pem")):  # fmt: skip
        shutil.copy(d / source, client / name)
    return client
