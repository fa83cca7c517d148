"""kube-apiserver on 127.0.0.1 with client-cert auth, RBAC, and kwok's server as every
node's kubelet (pod logs)."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request

from .common import SERVICE_CIDR, wait_for
from .plane import Plane
from .process import Proc

NAME = "kube-apiserver"


def argv(cp: Plane) -> list[str]:
    pki = cp.pki
    return [
        str(cp.bins["kube-apiserver"]),
        "--bind-address",
        "127.0.0.1",
        "--advertise-address",
        "127.0.0.1",
        "--secure-port",
        str(cp.port("apiserver")),
        "--etcd-servers",
        cp.etcd_url,
        "--etcd-prefix",
        cp.etcd_prefix,
        "--tls-cert-file",
        str(pki.path("apiserver.crt")),
        "--tls-private-key-file",
        str(pki.path("apiserver.key")),
        "--client-ca-file",
        str(pki.path("ca.crt")),
        "--service-account-issuer",
        "https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file",
        str(pki.path("sa.pub")),
        "--service-account-signing-key-file",
        str(pki.path("sa.key")),
        "--api-audiences",
        "https://kubernetes.default.svc.cluster.local",
        "--requestheader-client-ca-file",
        str(pki.path("ca.crt")),
        "--requestheader-allowed-names",
        "front-proxy-client",
        "--requestheader-username-headers",
        "X-Remote-User",
        "--requestheader-group-headers",
        "X-Remote-Group",
        "--requestheader-extra-headers-prefix",
        "X-Remote-Extra-",
        "--proxy-client-cert-file",
        str(pki.path("front-proxy-client.crt")),
        "--proxy-client-key-file",
        str(pki.path("front-proxy-client.key")),
        "--service-cluster-ip-range",
        SERVICE_CIDR,
        "--authorization-mode",
        "Node,RBAC",
        # pod logs: the API server calls the node's kubelet endpoint, here kwok's
        # server at <InternalIP>:<daemonEndpoints.kubeletEndpoint.Port>, verifying its cert
        "--kubelet-preferred-address-types",
        "InternalIP",
        "--kubelet-certificate-authority",
        str(pki.path("ca.crt")),
        "--kubelet-client-certificate",
        str(pki.path("apiserver-kubelet-client.crt")),
        "--kubelet-client-key",
        str(pki.path("apiserver-kubelet-client.key")),
        "--allow-privileged=true",
        # both act only on namespaces annotated scheduler.alpha.kubernetes.io/node-selector
        # or .../defaultTolerations: a test sends all pods of its namespace to one node
        # (e.g. the node agent's), including those an operator creates
        "--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction",
        # no kube-apiserver endpoint in the `kubernetes` Service: it would be
        # 127.0.0.1, which Endpoints may not hold, and nothing here needs it
        "--endpoint-reconciler-type",
        "none",
        "--cert-dir",
        str(cp.path("apiserver-certs")),
        "--profiling=false",
        "--v",
        "1",
    ]


def start(cp: Plane) -> None:
    wait_ready(cp, cp.spawn(NAME, argv(cp)))


def ssl_context(cp: Plane) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cp.pki.path("ca.crt")))
    ctx.load_cert_chain(str(cp.pki.path("admin.crt")), str(cp.pki.path("admin.key")))
    return ctx


def get(cp: Plane, path: str, timeout: float = 5) -> tuple[int, bytes]:
    """GET `path` as the admin: (HTTP status, body)."""
    req = urllib.request.Request(cp.server + path)
    try:
        with urllib.request.urlopen(req, context=ssl_context(cp), timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(cp: Plane, proc: Proc, timeout: float = 120) -> None:
    wait_for(
        "kube-apiserver /readyz",
        lambda: get(cp, "/readyz")[0] == 200,
        timeout,
        alive=proc.check_alive,
    )
