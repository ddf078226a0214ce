"""The D-Bus error names of ovsdbus: the one table from error class to D-Bus name.

The lower layers (:mod:`ovsdbus.ovsdb`, :mod:`ovsdbus.vswitch`) raise errors that know
nothing of D-Bus; the D-Bus adapter answers each with the name found here for the nearest
class in the error's MRO (:func:`dbus_error_name`).  The table is keyed by class *name*, so
this module imports nothing of ovsdbus.
"""

PREFIX = "org.openvswitch.ovsdb.Error."
DBUS_PREFIX = "org.freedesktop.DBus.Error."

#: The name of an error no entry covers (and of unexpected internal errors).
FAILED = PREFIX + "Failed"

#: Error class name -> D-Bus error name.  A class without an entry takes its base class's.
ERROR_NAMES = {
    "OvsdbusError": FAILED,
    "InvalidArgs": DBUS_PREFIX + "InvalidArgs",
    "AccessDenied": DBUS_PREFIX + "AccessDenied",
    "AlreadyExists": PREFIX + "AlreadyExists",
    "NotFound": PREFIX + "NotFound",
    "Ambiguous": PREFIX + "Ambiguous",
    "Disconnected": PREFIX + "Disconnected",
    "Timeout": PREFIX + "Timeout",
    "ProtocolError": PREFIX + "ProtocolError",
    "RpcError": PREFIX + "TransactionFailed",
    "TransactionError": PREFIX + "TransactionFailed",
    "ConstraintViolation": PREFIX + "ConstraintViolation",
    "ReferentialIntegrity": PREFIX + "ReferentialIntegrity",
    "ResourcesExhausted": PREFIX + "ResourcesExhausted",
    "NotSupported": PREFIX + "NotSupported",
    "ApplyFailed": PREFIX + "ApplyFailed",
    "NotApplied": PREFIX + "NotApplied",
    "SwitchUnavailable": PREFIX + "SwitchUnavailable",
    "CommandFailed": FAILED,
}

#: What each name means to a caller, for the README and the introspection docs.
MEANINGS = {
    DBUS_PREFIX + "InvalidArgs": "an argument can never be valid (wrong type, out of range, unknown column, ...)",
    DBUS_PREFIX + "AccessDenied": "the caller may not change the switch",
    PREFIX + "AlreadyExists": "the name to create is already used",
    PREFIX + "NotFound": "the record, table or object named does not exist",
    PREFIX + "Ambiguous": "a record name matches several rows",
    PREFIX + "Disconnected": "ovsdbus is not connected to ovsdb-server",
    PREFIX + "Timeout": "ovsdb-server, or the condition waited for, did not come in time",
    PREFIX + "ProtocolError": "ovsdb-server broke the wire protocol",
    PREFIX + "TransactionFailed": "OVSDB refused the transaction for another reason (e.g. a conflict that "
                                  "outlasted the retries)",
    PREFIX + "ConstraintViolation": "OVSDB: constraint violation (duplicate index, set size, enum, range)",
    PREFIX + "ReferentialIntegrity": "OVSDB: referential integrity violation",
    PREFIX + "ResourcesExhausted": "OVSDB: resources exhausted",
    PREFIX + "NotSupported": "OVSDB: not supported",
    PREFIX + "ApplyFailed": "ovs-vswitchd took the change but could not set up an interface (the change stays "
                            "committed; the message lists each interface and its error)",
    PREFIX + "NotApplied": "ovs-vswitchd did not take the committed change in time (stopped or stuck; the change "
                           "stays committed)",
    PREFIX + "SwitchUnavailable": "ovs-vswitchd is not running or does not answer",
    FAILED: "an unexpected internal error (logged by the service), or ovs-ofctl failing for a reason no other "
            "name covers (its message included)",
}


def dbus_error_name(error):
    """The D-Bus error name for exception ``error``: the entry of the nearest class of its MRO,
    :data:`FAILED` when none has one."""
    for cls in type(error).__mro__:
        name = ERROR_NAMES.get(cls.__name__)
        if name is not None:
            return name
    return FAILED
