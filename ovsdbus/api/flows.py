"""``org.openvswitch.ovsdb.Flows``: OpenFlow flows and groups of a bridge, as data.

Shown on each bridge object (``/org/openvswitch/ovsdb/bridge/<escaped name>``) next to
``org.openvswitch.ovsdb.Bridge``.  Flows and groups are written in ovs-ofctl's syntax, the text
people already know from ``ovs-ofctl add-flow``.
"""

from ovsdbus.api import InterfaceSpec, method, signal

FLOWS_INTERFACE = "org.openvswitch.ovsdb.Flows"

#: Every option of a Flows method: name -> D-Bus signature (each method's ``options`` say which it takes).
FLOW_OPTIONS = {"bundle": "b", "protocols": "s", "persist": "b", "strict": "b", "cookie": "t", "cookie_mask": "t"}


def _options(*names):
    return tuple((name, FLOW_OPTIONS[name]) for name in names)

_OPTIONS = ("OPTIONS (a{sv}): 'bundle' (b, default true: the whole change is one OpenFlow bundle that the switch "
            "applies completely or not at all; bundles need OpenFlow 1.4, so a bridge whose protocols column "
            "allows neither OpenFlow14 nor OpenFlow15 answers Error.NotSupported saying so: add OpenFlow14 to it, "
            "or pass bundle false for ovs-ofctl's flow-by-flow, non-atomic change), 'protocols' (s, e.g. "
            "'OpenFlow14' or 'OpenFlow13,OpenFlow14'; default: OpenFlow14 or 15 when the bridge allows it, else "
            "its newest)")
_ERRORS = ("Errors: org.freedesktop.DBus.Error.InvalidArgs (an entry ovs-ofctl cannot parse, or ovs-vswitchd "
           "refuses: the message names it by its 0-based index, flows[i], and quotes ovs-ofctl), "
           "org.openvswitch.ovsdb.Error.NotFound (no such bridge), org.openvswitch.ovsdb.Error.SwitchUnavailable "
           "(ovs-vswitchd not running or not answering within the timeout), org.openvswitch.ovsdb.Error.NotSupported "
           "(a bundle on a bridge without OpenFlow 1.4), org.openvswitch.ovsdb.Error.Failed (ovs-ofctl failed "
           "otherwise; its message included), org.freedesktop.DBus.Error.AccessDenied (changes only).")
_FLOW_FIELDS = ("Each flow: 'table' (u), 'priority' (u), 'cookie' (t), 'match' (s, ovs-ofctl's normalised match "
                "without the priority), 'actions' (s), 'n_packets' (t), 'n_bytes' (t), 'duration' (d, seconds), "
                "'idle_timeout' (u), 'hard_timeout' (u), 'importance' (u), 'flags' (as: send_flow_rem, ...), and "
                "'text' (s, the flow in ovs-ofctl's syntax, fit for AddFlows).")

FLOWS_SPEC = InterfaceSpec(
    FLOWS_INTERFACE,
    "The OpenFlow flow tables and groups of this bridge, changed and read through ovs-ofctl against the bridge's "
    "management socket. Flows are not in OVSDB: ovs-vswitchd holds them in memory, loses them when it restarts, "
    "and OpenFlow has no feed of changes made by others (FlowsChanged reports only changes made through "
    "ovsdbus). Flows added or replaced with persist true are kept in ovsdbus's state file and installed again "
    "after ovs-vswitchd restarts or the bridge is re-created. " + _ERRORS,
    methods=(
        method("AddFlows", [("flows", "as"), ("options", "a{sv}")], [],
               "Add FLOWS (one flow per string, in ovs-ofctl add-flow syntax, e.g. "
               "'table=0,priority=100,ip,nw_dst=10.0.0.1,actions=drop'), like 'ovs-ofctl --bundle add-flows': "
               "all or none. A flow with the same table, priority and match as an existing one replaces it. "
               + _OPTIONS + ", 'cookie' (t: the cookie of every flow, which then must not name one), 'persist' "
               "(b: keep the flows of 'cookie' across ovs-vswitchd restarts; needs 'cookie').",
               mutating=True, batchable=False, options=_options("bundle", "protocols", "cookie", "persist")),
        method("DeleteFlows", [("matches", "as"), ("options", "a{sv}")], [],
               "Delete the flows each of MATCHES selects (ovs-ofctl del-flows syntax; '' selects every flow), "
               "like 'ovs-ofctl --bundle del-flows': all or none. " + _OPTIONS + ", 'strict' (b: a match selects "
               "only the flow with exactly that match and priority), 'cookie' and 'cookie_mask' (t: only flows "
               "whose cookie equals 'cookie' in the bits of 'cookie_mask', default all bits). Persisted flows "
               "deleted are no longer persisted.",
               mutating=True, batchable=False,
               options=_options("bundle", "protocols", "strict", "cookie", "cookie_mask")),
        method("ReplaceFlows", [("flows", "as"), ("options", "a{sv}")], [("summary", "a{sv}")],
               "Make the flows under 'cookie'/'cookie_mask' (default cookie 0, all bits) exactly FLOWS, in ONE "
               "bundle that adds the missing flows, replaces those whose actions, cookie or timeouts differ "
               "(their counters restart) and deletes those not in FLOWS; flows under other cookies are "
               "untouched, as are flows already as wanted (their counters go on). A flow that names no cookie "
               "gets 'cookie'. Flows are compared by table, priority and match as ovs-ofctl normalises them. "
               "SUMMARY: 'added', 'modified', 'deleted', 'unchanged' (u). " + _OPTIONS.replace(
                   "'bundle' (b, default true", "'bundle' (b, must be true if given") + ", 'cookie', "
               "'cookie_mask' (t), 'persist' (b: true keeps these flows across ovs-vswitchd restarts; false "
               "stops keeping them; when not given, flows already persisted stay persisted).",
               mutating=True, batchable=False,
               options=_options("bundle", "protocols", "cookie", "cookie_mask", "persist")),
        method("DumpFlows", [("match", "s"), ("options", "a{sv}")], [("flows", "aa{sv}")],
               "The flows MATCH selects (ovs-ofctl dump-flows syntax, '' for all), like 'ovs-ofctl dump-flows'. "
               + _FLOW_FIELDS + " OPTIONS: 'protocols' (s), 'cookie' and 'cookie_mask' (t).",
               batchable=False, options=_options("protocols", "cookie", "cookie_mask")),
        method("AddGroups", [("groups", "as"), ("options", "a{sv}")], [],
               "Add GROUPS (ovs-ofctl add-group syntax, e.g. 'group_id=1,type=all,bucket=output:1'), like "
               "'ovs-ofctl --bundle add-groups': all or none. " + _OPTIONS + ".",
               mutating=True, batchable=False, options=_options("bundle", "protocols")),
        method("DeleteGroups", [("groups", "as"), ("options", "a{sv}")], [],
               "Delete the groups named ('group_id=N'; '' for all), like 'ovs-ofctl --bundle del-groups'. "
               + _OPTIONS + ".",
               mutating=True, batchable=False, options=_options("bundle", "protocols")),
        method("DumpGroups", [("match", "s"), ("options", "a{sv}")], [("groups", "aa{sv}")],
               "The groups ('' for all, or 'group_id=N'), like 'ovs-ofctl dump-groups'. Each group: 'group_id' "
               "(u), 'type' (s) and 'text' (s, the whole group with its buckets). OPTIONS: 'protocols' (s).",
               batchable=False, options=_options("protocols")),
    ),
    signals=(
        signal("FlowsChanged", [("bridge", "s"), ("cookie", "t")],
               "Flows or groups of BRIDGE were changed through ovsdbus (the cookie given to the call, 0 when none; "
               "groups: 0), or persisted flows were installed again. Changes made by others (ovs-ofctl, a "
               "controller) are not reported: OpenFlow has no change feed."),
    ),
)
