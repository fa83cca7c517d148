"""Will Kueue admit it? (SPEC §6 ``compile admit``, §2.5.) Pure: compiled objects and Kueue
objects in, verdicts out. Kueue's own accounting (v0.19.2): pod sets as its job integrations build
them, flavors as its flavor assigner picks them, quota as its resource nodes count it; ``--live``
adds what the cluster's Workloads hold and wait for."""

from .verdict import Verdict, live_verdict, offline_verdict

__all__ = ["Verdict", "live_verdict", "offline_verdict"]
