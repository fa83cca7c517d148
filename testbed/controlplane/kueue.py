"""Kueue, out of cluster, every listener on 127.0.0.1, its webhooks registered.

Config: the batch/job, jobset.x-k8s.io/jobset, ray.io/rayjob and ray.io/raycluster
integrations; only jobs that carry `kueue.x-k8s.io/queue-name` are managed; leader election,
internal cert management and the visibility server off. Its webhook server and metrics
serve a testbed-CA cert for 127.0.0.1. Kueue reads the metrics cert from a hard-coded
/etc/kueue/metrics/certs, so it runs in a mount namespace of its own with a directory laid
over /etc (the host's /etc is untouched).

The webhook configurations are the module's own (config/components/webhook/manifests.yaml,
copied by build.sh), with `clientConfig.service` turned into a 127.0.0.1 URL, the CA bundle
added and, as Kueue's kustomization does, kube-system and kueue-system left out of the
job and pod webhooks. The CRDs with a v1beta1 <-> v1beta2 conversion webhook get it the same way.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from .common import b64, wait_for
from .pki import LOOPBACK_SANS
from .plane import Plane
from .process import in_private_mounts

NAME = "kueue"
BINARIES = (NAME,)
NAMESPACE = "kueue-system"
FRAMEWORKS = ("batch/job", "jobset.x-k8s.io/jobset", "ray.io/rayjob", "ray.io/raycluster")
# as config/components/crd/kustomization.yaml's webhook_in_* patches
CONVERTED_CRDS = ("localqueues", "clusterqueues", "cohorts", "workloads", "multikueueclusters")
_SYSTEM_NAMESPACES = {
    "matchExpressions": [
        {
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": ["kube-system", NAMESPACE],
        }
    ]
}


def crd_files(cp: Plane) -> list[Path]:
    return sorted((cp.bins[NAME].parent / "crds").glob("*.yaml"))


def config_yaml(cp: Plane, certdir: Path) -> str:
    # JSON is YAML; Kueue decodes its Configuration strictly, so only real fields
    cfg = {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": NAMESPACE,
        "manageJobsWithoutQueueName": False,
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        "webhook": {"port": cp.port("kueue-webhook"), "host": "127.0.0.1", "certDir": str(certdir)},
        "metrics": {"bindAddress": f"127.0.0.1:{cp.port('kueue-metrics')}"},
        "health": {"healthProbeBindAddress": f"127.0.0.1:{cp.port('kueue-health')}"},
        "featureGates": {"VisibilityOnDemand": False},
        "integrations": {"frameworks": list(FRAMEWORKS)},
    }
    return json.dumps(merged(cfg, cp.component_config.get(NAME, {})), indent=2) + "\n"


def merged(base: dict, extra: Mapping) -> dict:
    """`base` with `extra` laid over it, mappings key by key (e.g. one more feature gate)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def start(cp: Plane) -> None:
    cp.kubectl("create", "namespace", NAMESPACE)
    _patch_conversion(cp)
    pki = cp.pki
    pki.make_cert("kueue-webhook", "/CN=kueue-webhook", server_sans=LOOPBACK_SANS)
    certdir = pki.serving_cert_dir("kueue-webhook", cp.path("kueue/certs"))
    upper, work = cp.path("kueue/etc-upper"), cp.path("kueue/etc-work")
    pki.serving_cert_dir("kueue-webhook", upper / "kueue" / "metrics" / "certs")
    work.mkdir(parents=True, exist_ok=True)
    cfg = cp.path("kueue/config.yaml")
    cfg.write_text(config_yaml(cp, certdir))
    argv = [
        str(cp.bins[NAME]),
        "--config",
        str(cfg),
        "--kubeconfig",
        str(cp.kubeconfig),
        "--zap-log-level=info",
    ]
    proc = cp.spawn(NAME, in_private_mounts(argv, etc_overlay=(upper, work)), env=cp.child_env())
    health = cp.port("kueue-health")

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz", timeout=2) as r:
            return r.status == 200

    wait_for("kueue /readyz", ready, 90, alive=proc.check_alive)
    _register_webhooks(cp)


def _url(cp: Plane, path: str) -> dict:
    return {
        "url": f"https://127.0.0.1:{cp.port('kueue-webhook')}{path}",
        "caBundle": b64(cp.pki.path("ca.crt")),
    }


def _patch_conversion(cp: Plane) -> None:
    for plural in CONVERTED_CRDS:
        patch = {
            "spec": {
                "conversion": {
                    "strategy": "Webhook",
                    "webhook": {
                        "clientConfig": _url(cp, "/convert"),
                        "conversionReviewVersions": ["v1"],
                    },
                }
            }
        }
        cp.kubectl(
            "patch", "crd", f"{plural}.kueue.x-k8s.io", "--type=merge", "-p", json.dumps(patch)
        )


def json_documents(text: str) -> list[dict]:
    """kubectl -o json prints one JSON document per object, one after the other."""
    decoder, i = json.JSONDecoder(), 0
    docs: list[dict] = []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return docs
        doc, i = decoder.raw_decode(text, i)
        docs.extend(doc["items"] if doc.get("kind") == "List" else [doc])


def webhook_configurations(cp: Plane, manifests: list[dict]) -> list[dict]:
    """The module's webhook configurations pointed at 127.0.0.1."""
    docs = []
    for doc in manifests:
        doc = json.loads(json.dumps(doc))
        doc["metadata"] = {"name": "kueue-" + doc["metadata"]["name"]}
        for hook in doc["webhooks"]:
            hook["clientConfig"] = _url(cp, hook["clientConfig"]["service"]["path"])
            if any(r["apiGroups"] != ["kueue.x-k8s.io"] for r in hook["rules"]):
                hook["namespaceSelector"] = _SYSTEM_NAMESPACES
        docs.append(doc)
    return docs


def _register_webhooks(cp: Plane) -> None:
    manifests = cp.bins[NAME].parent / "manifests.yaml"
    # kubectl turns the YAML into JSON (the testbed is standard library only)
    printed = cp.kubectl("create", "--dry-run=client", "-f", str(manifests), "-o", "json").stdout
    docs = webhook_configurations(cp, json_documents(printed))
    cp.kubectl(
        "apply",
        "--server-side",
        "--field-manager=testbed",
        "--validate=false",  # as webhooks.register
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
    )
