"""The MultiKueue testbed's pieces that need no cluster: the worker kubeconfig the manager gets
(what Kueue v0.19.2's validateKubeconfig accepts), the Kueue settings merged into its
Configuration, a shared etcd's key prefixes, ports never handed out twice."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from testbed.controlplane import ControlPlane, free_port  # noqa: E402
from testbed.controlplane.kueue import merged  # noqa: E402
from testbed.controlplane.pki import PKI, write_kubeconfig  # noqa: E402


def test_the_managers_kubeconfig_holds_everything_inline_and_no_token_or_insecure_tls(tmp_path):
    pki = PKI(tmp_path / "pki")
    pki.make_ca()
    pki.make_cert("multikueue-manager", "/CN=multikueue-manager", client=True)
    path = tmp_path / "kubeconfig"
    write_kubeconfig(pki, 6443, path, user="multikueue-manager")
    config = json.loads(path.read_text())
    [cluster] = [c["cluster"] for c in config["clusters"]]
    [user] = [u["user"] for u in config["users"]]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert set(cluster) == {"server", "certificate-authority-data"}  # no file, no insecure TLS
    assert set(user) == {"client-certificate-data", "client-key-data"}  # no token(File), exec
    assert b"BEGIN CERTIFICATE" in base64.b64decode(user["client-certificate-data"])
    assert path.stat().st_mode & 0o077 == 0


def test_kueue_settings_are_merged_key_by_key():
    base = {"featureGates": {"VisibilityOnDemand": False}, "namespace": "kueue-system"}
    extra = {"featureGates": {"MultiKueue": True}, "multiKueue": {"gcInterval": "30s"}}
    assert merged(base, extra) == {
        "featureGates": {"VisibilityOnDemand": False, "MultiKueue": True},
        "namespace": "kueue-system",
        "multiKueue": {"gcInterval": "30s"},
    }
    assert base["featureGates"] == {"VisibilityOnDemand": False}  # not changed in place


def test_planes_sharing_an_etcd_keep_their_objects_under_their_own_prefix():
    manager = ControlPlane(name="manager")
    worker = ControlPlane(name="worker-a", etcd_of=manager)
    assert worker.etcd_url == manager.etcd_url
    assert (manager.etcd_prefix, worker.etcd_prefix) == ("/registry", "/worker-a")


def test_a_port_is_never_handed_out_twice():
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


def test_listening_ports_are_outside_the_ephemeral_range():
    # an outgoing connection's local port comes from the ephemeral range; a listening port from
    # there can be taken between being picked and being bound
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(free_port() < low for _ in range(100))
