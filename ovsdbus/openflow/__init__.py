"""OpenFlow flows and groups through ``ovs-ofctl`` child processes.

OpenFlow tables are not in OVSDB: ovs-vswitchd keeps them in memory and serves them on each
bridge's management socket (``<OVS rundir>/<bridge>.mgmt``).  This package runs ``ovs-ofctl``
against that socket from the reactor (no shell, no threads; flows always on stdin), parses what
it prints (:mod:`ovsdbus.openflow.flows`), keeps the flows callers asked to persist in a state
file (:mod:`ovsdbus.openflow.store`) and puts them back when ovs-vswitchd loses them
(:mod:`ovsdbus.openflow.keeper`).  It knows nothing of D-Bus.
"""
