"""``org.openvswitch.ovsdb.Flows`` on the bus: D-Bus arguments to :class:`~ovsdbus.openflow.keeper.FlowService`
calls, and its results to D-Bus values with exact signatures.

Mutating methods (``mutating`` in :data:`~ovsdbus.api.flows.FLOWS_SPEC`) first ask
``authorize(caller)``, as the root's do, so a refused caller never reaches ovs-ofctl.
"""

from twisted.internet import defer

from ovsdbus.api.flows import FLOWS_INTERFACE, FLOWS_SPEC
from ovsdbus.ovsdb.errors import InvalidArgs

#: Method -> the FlowService verb behind it.
_VERBS = {"AddFlows": "add_flows", "DeleteFlows": "delete_flows", "ReplaceFlows": "replace_flows",
          "DumpFlows": "dump_flows", "AddGroups": "add_groups", "DeleteGroups": "delete_groups",
          "DumpGroups": "dump_groups"}

_SHAPES = {"b": lambda v: isinstance(v, bool), "s": lambda v: isinstance(v, str),
           "t": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 64}


def options(spec, value):
    """The ``a{sv}`` options of a call of ``spec`` as ``{name: Python value}``, each one the method
    declares (:attr:`~ovsdbus.api.MethodSpec.options`) and of its type."""
    if not isinstance(value, dict):
        raise InvalidArgs("options must be a{sv}")
    declared = {a.name: a.signature for a in spec.options}
    for name, item in value.items():
        signature = declared.get(name)
        if signature is None:
            raise InvalidArgs("%s has no option %r (options: %s)" % (spec.name, name, ", ".join(declared)))
        if not _SHAPES[signature](item):
            raise InvalidArgs("option %r must be of type %s" % (name, signature))
    return dict(value)


def flow_value(flow):
    """A :class:`~ovsdbus.openflow.flows.Flow` as ``a{sv}``."""
    result = {
        "table": ("u", flow.table), "priority": ("u", flow.priority), "cookie": ("t", flow.cookie),
        "match": ("s", flow.match), "actions": ("s", flow.actions), "idle_timeout": ("u", flow.idle_timeout),
        "hard_timeout": ("u", flow.hard_timeout), "importance": ("u", flow.importance),
        "flags": ("as", list(flow.flags)), "text": ("s", flow.text()),
    }
    if flow.n_packets is not None:
        result["n_packets"] = ("t", flow.n_packets)
    if flow.n_bytes is not None:
        result["n_bytes"] = ("t", flow.n_bytes)
    if flow.duration is not None:
        result["duration"] = ("d", flow.duration)
    return result


def group_value(group):
    """A :class:`~ovsdbus.openflow.flows.Group` as ``a{sv}``."""
    return {"group_id": ("u", group.group_id), "type": ("s", group.type), "text": ("s", group.text)}


def _result(method, value):
    if method == "DumpFlows":
        return [flow_value(f) for f in value]
    if method == "DumpGroups":
        return [group_value(g) for g in value]
    if method == "ReplaceFlows":
        return {name: ("u", count) for name, count in value.items()}
    return None


def flows_handlers(flows, bridge_name, authorize):
    """``{(interface, method): callable}`` of the Flows interface of one bridge object.

    :param flows: the :class:`~ovsdbus.openflow.keeper.FlowService`.
    :param bridge_name: gives the bridge's name (when called: the object shows it).
    :param authorize: ``authorize(caller, action)``, a Deferred that fails with AccessDenied.
    """
    handlers = {}
    for spec in FLOWS_SPEC.methods:
        handlers[(FLOWS_INTERFACE, spec.name)] = _handler(flows, bridge_name, authorize, spec)
    return handlers


def _handler(flows, bridge_name, authorize, spec):
    verb = getattr(flows, _VERBS[spec.name])

    def run(entries, opts):
        d = defer.maybeDeferred(lambda: verb(bridge_name(), entries, options(spec, opts)))
        return d.addCallback(lambda value: _result(spec.name, value))

    def call(entries, opts, caller):
        if not spec.mutating:
            return run(entries, opts)
        d = authorize(caller, spec.action)
        d.addCallback(lambda _: run(entries, opts))
        return d
    return call
