"""The testbed's PKI: one CA, serving and client certificates, made with the openssl CLI
(EC P-256). Components ask for their own serving certs (`cp.pki.make_cert`)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .common import ControlPlaneError, b64

LOOPBACK_SANS = ("IP:127.0.0.1", "DNS:localhost")


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)} failed: {proc.stderr.strip()}")


class PKI:
    """CA, serving and client certificates made with the openssl CLI (EC P-256)."""

    def __init__(self, d: Path):
        self.dir = d
        d.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.dir / name

    def _key(self, name: str) -> None:
        _openssl(
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            f"{name}.key",
            cwd=self.dir,
        )

    def make_ca(self) -> None:
        self._key("ca")
        _openssl(
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-sha256",
            "-days",
            "3650",
            "-subj",
            "/CN=manifest-compiler-testbed-ca",
            "-out",
            "ca.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            cwd=self.dir,
        )

    def make_cert(
        self, name: str, subject: str, *, server_sans: Sequence[str] = (), client: bool = False
    ) -> None:
        self._key(name)
        _openssl(
            "req",
            "-new",
            "-key",
            f"{name}.key",
            "-subj",
            subject,
            "-out",
            f"{name}.csr",
            cwd=self.dir,
        )
        usages = []
        if server_sans:
            usages.append("serverAuth")
        if client:
            usages.append("clientAuth")
        ext = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=" + ",".join(usages),
        ]
        if server_sans:
            ext.append("subjectAltName=" + ",".join(server_sans))
        (self.dir / f"{name}.ext").write_text("\n".join(ext) + "\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.crt",
            cwd=self.dir,
        )

    def make_sa_keypair(self) -> None:
        self._key("sa")
        _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=self.dir)

    def serving_cert_dir(self, name: str, dest: Path) -> Path:
        """`dest` holding <name>'s cert and key as tls.crt/tls.key (controller-runtime's layout)."""
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "tls.crt").write_bytes(self.path(f"{name}.crt").read_bytes())
        (dest / "tls.key").write_bytes(self.path(f"{name}.key").read_bytes())
        return dest


def make(directory: Path, apiserver_port: int, kubeconfig: Path) -> PKI:
    """The CA and the certificates of the API server and its clients in `directory`; the
    admin kubeconfig for the API server on 127.0.0.1:`apiserver_port`."""
    pki = PKI(directory)
    pki.make_ca()
    pki.make_cert(
        "apiserver",
        "/CN=kube-apiserver",
        server_sans=[
            "IP:127.0.0.1",
            "IP:10.0.0.1",
            "DNS:localhost",
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
        ],
    )
    pki.make_cert("admin", "/O=system:masters/CN=testbed-admin", client=True)
    pki.make_cert(
        "apiserver-kubelet-client",
        "/O=system:masters/CN=kube-apiserver-kubelet-client",
        client=True,
    )
    # front proxy (aggregation layer) identity: unused here, but without it
    # every component logs a missing requestheader CA over and over
    pki.make_cert("front-proxy-client", "/CN=front-proxy-client", client=True)
    pki.make_sa_keypair()
    write_kubeconfig(pki, apiserver_port, kubeconfig)
    return pki


def write_kubeconfig(pki: PKI, apiserver_port: int, kubeconfig: Path, user: str = "admin") -> None:
    """A kubeconfig for the API server on 127.0.0.1:`apiserver_port` that authenticates with
    the client certificate `user` (its cert, key and the CA inline: nothing refers to a file)."""
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "testbed",
                "cluster": {
                    "server": f"https://127.0.0.1:{apiserver_port}",
                    "certificate-authority-data": b64(pki.path("ca.crt")),
                },
            }
        ],
        "users": [
            {
                "name": "testbed-admin",
                "user": {
                    "client-certificate-data": b64(pki.path(f"{user}.crt")),
                    "client-key-data": b64(pki.path(f"{user}.key")),
                },
            }
        ],
        "contexts": [
            {"name": "testbed", "context": {"cluster": "testbed", "user": "testbed-admin"}}
        ],
        "current-context": "testbed",
    }
    # JSON is valid YAML: kubectl and every client-go reader accept it
    kubeconfig.write_text(json.dumps(cfg, indent=2) + "\n")
    kubeconfig.chmod(0o600)
