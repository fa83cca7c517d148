"""The testbed's topology node set (testbed.controlplane.Topology): kwok Nodes in blocks x racks x
hosts, labelled as a Kueue Topology's levels read them. Pure: no control plane is started."""

from __future__ import annotations

import pytest

from testbed.controlplane.cli import main
from testbed.controlplane.cluster import ControlPlane
from testbed.controlplane.kwok import (
    BLOCK_LABEL,
    HOST_LABEL,
    KWOK_NODE_ANNOTATION,
    RACK_LABEL,
    Topology,
)


def test_two_blocks_of_two_racks_of_two_hosts_are_eight_labelled_kwok_nodes():
    nodes = Topology().node_manifests()
    labels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in nodes}
    assert len(labels) == 8
    assert {k: labels["kwok-b1-r0-h1"][k] for k in (BLOCK_LABEL, RACK_LABEL, HOST_LABEL)} == {
        BLOCK_LABEL: "b1",
        RACK_LABEL: "b1-r0",
        HOST_LABEL: "kwok-b1-r0-h1",
    }
    # racks are unique across blocks, hosts across the cluster
    assert len({node[RACK_LABEL] for node in labels.values()}) == 4
    assert {node[HOST_LABEL] for node in labels.values()} == set(labels)
    for node in nodes:
        assert node["metadata"]["annotations"][KWOK_NODE_ANNOTATION] == "fake"
        assert node["status"]["allocatable"]["cpu"] == "4"
        assert "taints" not in node["spec"]


def test_the_shape_is_parsed_from_the_cli_form():
    assert Topology.parse("3x1x2") == Topology(3, 1, 2)
    assert len(Topology.parse("3x1x2").node_manifests()) == 6
    for bad in ("2x2", "2x0x2", "axbxc"):
        with pytest.raises(ValueError):
            Topology.parse(bad)


def test_a_plane_with_a_topology_creates_its_nodes_after_the_plain_ones():
    plane = ControlPlane(nodes=2, topology=Topology(1, 1, 2))
    assert plane.node_names() == ["kwok-node-0", "kwok-node-1", "kwok-b0-r0-h0", "kwok-b0-r0-h1"]
    assert ControlPlane(nodes=0, topology=Topology()).node_names()[0] == "kwok-b0-r0-h0"
    assert ControlPlane().node_names() == [f"kwok-node-{i}" for i in range(4)]


def test_the_cli_refuses_a_shape_it_cannot_lay_out(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["start", "--topology", "2x0x2", "--no-build"])
    assert exit_.value.code == 2
    assert "'2x0x2': want BxRxH" in capsys.readouterr().err
