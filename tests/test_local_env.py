"""compiler.local resolves a container's environment and command line as the kubelet does (the
testbed agent and `compile local` share these rules).

Expected values are written out by hand from the Kubernetes docs ("Define Dependent Environment
Variables", "Expose Pod Information to Containers Through Environment Variables", "Define a
Command and Arguments for a Container", the API reference of EnvVar/EnvFromSource)."""

from __future__ import annotations

import pytest

from compiler.local.env import (
    EnvError,
    PodContext,
    expand,
    expand_command,
    mapping_for,
    resolve_env,
)

CONTEXT = PodContext(
    pod_ip="127.64.240.7", host_ip="127.0.0.1", node_name="agent-0", node_allocatable={"cpu": "64"}
)


def pod(**meta):
    return {
        "metadata": {
            "name": "train-worker-0-1-abcde",
            "namespace": "team-a",
            "uid": "1234",
            "labels": {"app": "train", "jobset.sigs.k8s.io/replicatedjob-name": "worker"},
            "annotations": {
                "jobset.sigs.k8s.io/job-global-index": "3",
                "jobset.sigs.k8s.io/job-index": "1",
            },
            **meta,
        },
        "spec": {"nodeName": "agent-0", "serviceAccountName": "default"},
    }


def env_of(container, objects=None, service_env=None, the_pod=None):
    objects = objects or {}

    def lookup(kind, namespace, name):
        return objects.get((kind, namespace, name))

    return resolve_env(the_pod or pod(), container, CONTEXT, lookup, service_env)


# --------------------------------------------------------------------------------- expansion


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)", "alpha"),
        ("$(A)$(B)", "alphabeta"),
        ("x-$(A)-y", "x-alpha-y"),
        ("$(UNDEFINED)", "$(UNDEFINED)"),  # undefined: left as written
        ("$(A)/$(UNDEFINED)", "alpha/$(UNDEFINED)"),
        ("$$(A)", "$(A)"),  # $$ escapes: the reference is not expanded
        ("$$$(A)", "$alpha"),
        ("$$$$(A)", "$$(A)"),
        ("$$", "$"),
        ("$$$$", "$$"),
        ("$", "$"),  # a lone trailing $ stays
        ("$(A)$", "alpha$"),
        ("$A", "$A"),  # shell syntax is not kubelet syntax
        ("${A}", "${A}"),
        ("$(A", "$(A"),  # unclosed
        ("$()", "$()"),  # the empty name is not defined
        ("100$ and $(B)", "100$ and beta"),
        ("$(EMPTY)|", "|"),
        ("no references", "no references"),
        ("", ""),
    ],
)
def test_expansion_follows_the_kubelet_syntax(text, expected):
    assert expand(text, mapping_for({"A": "alpha", "B": "beta", "EMPTY": ""})) == expected


def test_an_expanded_value_is_not_expanded_again():
    assert expand("$(A)", mapping_for({"A": "$(B)", "B": "no"})) == "$(B)"


# ------------------------------------------------------------------------------ ordering


def test_the_docs_dependent_variables_example():
    container = {
        "env": [
            {"name": "SERVICE_PORT", "value": "80"},
            {"name": "SERVICE_IP", "value": "172.17.0.1"},
            {"name": "UNCHANGED_REFERENCE", "value": "$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"},
            {"name": "PROTOCOL", "value": "https"},
            {"name": "SERVICE_ADDRESS", "value": "$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"},
            {"name": "ESCAPED_REFERENCE", "value": "$$(PROTOCOL)://$(SERVICE_IP):$(SERVICE_PORT)"},
        ]
    }
    env = env_of(container)
    assert env["UNCHANGED_REFERENCE"] == "$(PROTOCOL)://172.17.0.1:80"
    assert env["SERVICE_ADDRESS"] == "https://172.17.0.1:80"
    assert env["ESCAPED_REFERENCE"] == "$(PROTOCOL)://172.17.0.1:80"


def test_a_later_entry_wins_and_sees_the_earlier_value():
    env = env_of(
        {
            "env": [
                {"name": "P", "value": "/a"},
                {"name": "P", "value": "$(P):/b"},
            ]
        }
    )
    assert env["P"] == "/a:/b"


def test_a_variable_cannot_refer_to_itself_before_it_is_defined():
    assert env_of({"env": [{"name": "X", "value": "<$(X)>"}]})["X"] == "<$(X)>"


def test_values_from_sources_are_never_expanded():
    objects = {("configmap", "team-a", "cfg"): {"TEMPLATE": "$(A)"}}
    env = env_of(
        {
            "env": [
                {"name": "A", "value": "alpha"},
                {
                    "name": "T",
                    "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "TEMPLATE"}},
                },
                {"name": "U", "value": "$(T)"},  # T's value is inserted as is, not re-expanded
            ]
        },
        objects,
    )
    assert env["T"] == "$(A)"
    assert env["U"] == "$(A)"


def test_env_from_comes_first_and_env_overrides_it():
    objects = {
        ("configmap", "team-a", "base"): {"LEVEL": "info", "REGION": "eu", "bad=name": "x"},
        ("secret", "team-a", "creds"): {"TOKEN": "s3cr3t", "LEVEL": "from-secret"},
    }
    env = env_of(
        {
            "envFrom": [
                {"configMapRef": {"name": "base"}},
                {"secretRef": {"name": "creds"}, "prefix": "S_"},
                {"secretRef": {"name": "creds"}},  # a later source wins
            ],
            "env": [
                {"name": "REGION", "value": "us"},
                {"name": "WHERE", "value": "$(REGION)/$(S_TOKEN)"},
            ],
        },
        objects,
    )
    assert env["LEVEL"] == "from-secret"
    assert env["S_TOKEN"] == "s3cr3t"
    assert env["S_LEVEL"] == "from-secret"
    assert env["REGION"] == "us"
    assert env["WHERE"] == "us/s3cr3t"
    assert "bad=name" not in env


def test_service_variables_are_a_fallback_for_expansion_and_are_set_unless_defined():
    env = env_of(
        {
            "env": [
                {"name": "URL", "value": "http://$(HEAD_SERVICE_HOST)"},
                {"name": "OWN", "value": "1"},
            ]
        },
        service_env={"HEAD_SERVICE_HOST": "10.0.0.7", "OWN": "service"},
    )
    assert env["URL"] == "http://10.0.0.7"
    assert env["HEAD_SERVICE_HOST"] == "10.0.0.7"
    assert env["OWN"] == "1"


# ------------------------------------------------------------------------ downward API


def test_field_refs_give_the_pods_own_values():
    def field(path):
        return {"name": path, "valueFrom": {"fieldRef": {"fieldPath": path}}}

    paths = [
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.labels['app']",
        "metadata.annotations['jobset.sigs.k8s.io/job-global-index']",
        "metadata.annotations['absent']",
        "spec.nodeName",
        "spec.serviceAccountName",
        "status.podIP",
        "status.hostIP",
    ]
    env = env_of({"env": [field(p) for p in paths]})
    assert [env[p] for p in paths] == [
        "train-worker-0-1-abcde",
        "team-a",
        "1234",
        "train",
        "3",
        "",
        "agent-0",
        "default",
        "127.64.240.7",
        "127.0.0.1",
    ]


def test_a_field_ref_value_can_be_used_by_later_entries():
    env = env_of(
        {
            "env": [
                {
                    "name": "RANK",
                    "valueFrom": {
                        "fieldRef": {
                            "fieldPath": "metadata.annotations['jobset.sigs.k8s.io/job-global-index']"
                        }
                    },
                },
                {"name": "ID", "value": "worker-$(RANK)"},
            ]
        }
    )
    assert env["ID"] == "worker-3"


def test_resource_field_refs_round_up_and_fall_back_to_the_node():
    container = {
        "resources": {"limits": {"memory": "1536Mi"}, "requests": {"cpu": "250m"}},
        "env": [
            {
                "name": "MEM_MI",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
            {"name": "REQ_CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu"}}},
            {
                "name": "REQ_MILLI",
                "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}},
            },
            {"name": "LIM_CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        ],
    }
    env = env_of(container)
    assert env["MEM_MI"] == "1536"
    assert env["MEM"] == str(1536 * 1024 * 1024)
    assert env["REQ_CPU"] == "1"  # 0.25 rounded up
    assert env["REQ_MILLI"] == "250"
    assert env["LIM_CPU"] == "64"  # no limit: the node's allocatable


# ------------------------------------------------------------------------ secrets, configmaps


def test_missing_sources_fail_unless_optional():
    ref = {"name": "nope", "key": "k"}
    with pytest.raises(EnvError, match='secret "nope" not found'):
        env_of({"env": [{"name": "S", "valueFrom": {"secretKeyRef": ref}}]})
    objects = {("configmap", "team-a", "cfg"): {"other": "1"}}
    with pytest.raises(EnvError, match="couldn't find key k"):
        env_of(
            {"env": [{"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]},
            objects,
        )
    with pytest.raises(EnvError):
        env_of({"envFrom": [{"configMapRef": {"name": "nope"}}]})
    env = env_of(
        {
            "envFrom": [{"configMapRef": {"name": "nope", "optional": True}}],
            "env": [
                {"name": "S", "valueFrom": {"secretKeyRef": {**ref, "optional": True}}},
                {"name": "T", "value": "[$(S)]"},
            ],
        }
    )
    assert "S" not in env  # an optional missing value leaves the variable unset
    assert env["T"] == "[$(S)]"


def test_secret_values_are_the_decoded_text():
    objects = {("secret", "team-a", "hf"): {"token": "hf_abc"}}
    env = env_of(
        {
            "env": [
                {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}
            ]
        },
        objects,
    )
    assert env["HF_TOKEN"] == "hf_abc"


# ------------------------------------------------------------------------ command and args


def test_command_and_args_are_expanded_against_the_final_environment():
    container = {
        "command": ["/bin/sh", "-c", "echo $(GREETING) $$(GREETING) $GREETING"],
        "args": ["$(NAME)", "$(MISSING)", "$$HOME"],
        "env": [
            {"name": "GREETING", "value": "hi"},
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
    }
    env = env_of(container)
    command, args = expand_command(container, env)
    assert command == ["/bin/sh", "-c", "echo hi $(GREETING) $GREETING"]
    assert args == ["train-worker-0-1-abcde", "$(MISSING)", "$HOME"]


def test_no_command_and_no_args_stay_empty():
    assert expand_command({}, {}) == ([], [])


# ------------------------------------------------------------------ ray start on a shared host


def test_ray_start_gets_its_pod_address_and_its_moved_ports():
    from compiler.local.ray import adapt_ray_start, fixed_ports, move_ports

    line = (
        "ulimit -n 65536; ray start --head --metrics-export-port=8080 --block "
        "--dashboard-agent-listen-port=52365 --dashboard-host=0.0.0.0"
    )
    assert fixed_ports(line) == [8080, 52365]
    assert adapt_ray_start(line, "127.64.240.5", {52365: 41002}) == (
        "ulimit -n 65536; ray start --node-ip-address=127.64.240.5 --head "
        "--metrics-export-port=8080 --block --dashboard-agent-listen-port=41002 "
        "--dashboard-host=0.0.0.0"
    )
    assert fixed_ports("python train.py --metrics-export-port=8080") == []
    assert adapt_ray_start("python train.py --port 8080", "127.64.240.5", {8080: 1}) == (
        "python train.py --port 8080"
    )
    given = "ray start --node-ip-address=10.1.1.1 --address=h:6379"
    assert adapt_ray_start(given, "127.64.240.5", {}) == given
    probe = "wget -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz | grep success"
    assert move_ports(probe, {52365: 41002}) == probe.replace("52365", "41002")


# ------------------------------------------------------------------------------ names


def test_hosts_table_has_every_name_form_of_pods_and_selecting_services():
    from compiler.local import hosts

    pod = {
        "metadata": {"name": "js-w-0-0-x", "namespace": "ns", "labels": {"app": "js"}},
        "spec": {"hostname": "js-w-0-0", "subdomain": "js"},
        "status": {"podIP": "127.64.240.1"},
    }
    other = {
        "metadata": {"name": "lonely", "namespace": "ns", "labels": {"app": "x"}},
        "spec": {},
        "status": {"podIP": "127.64.240.2"},
    }
    svc = {"metadata": {"name": "js", "namespace": "ns"}, "spec": {"selector": {"app": "js"}}}
    elsewhere = {"metadata": {"name": "js", "namespace": "b"}, "spec": {"selector": {"app": "js"}}}
    table = hosts.entries([pod, other], [svc, elsewhere])
    assert table == [
        (
            "127.64.240.1",
            ["js-w-0-0.js.ns.svc.cluster.local", "js-w-0-0.js.ns.svc", "js-w-0-0.js.ns"]
            + ["js-w-0-0.js", "js-w-0-0"],
        ),
        ("127.64.240.2", ["lonely"]),
        ("127.64.240.1", ["js.ns.svc.cluster.local", "js.ns.svc", "js.ns", "js"]),
    ]


def test_the_agents_block_is_replaced_and_other_lines_kept():
    from compiler.local import hosts

    text = "127.0.0.1 localhost\n"
    once = hosts.replace_block(text, [("127.64.240.1", ["a", "a.ns"])])
    added_later = once + "127.0.0.9 someone-else\n"
    twice = hosts.replace_block(added_later, [("127.64.240.2", ["b"])])
    assert twice.splitlines() == [
        "127.0.0.1 localhost",
        "127.0.0.9 someone-else",
        hosts.BEGIN,
        "127.64.240.2\tb",
        hosts.END,
    ]
    assert hosts.replace_block(twice, []) == "127.0.0.1 localhost\n127.0.0.9 someone-else\n"
