"""The one error tree of ovsdbus.

Every error a D-Bus caller can see derives from :class:`OvsdbusError` and carries
the D-Bus error name it crosses the bus with (``dbus_name``).  Lower layers raise
these; only the D-Bus adapter turns them into txdbus errors.
"""

ERROR_PREFIX = "org.openvswitch.ovsdb.Error."


class OvsdbusError(Exception):
    """Base class of all ovsdbus errors; ``dbus_name`` is what a D-Bus caller sees."""

    dbus_name = ERROR_PREFIX + "Failed"


class InvalidArgs(OvsdbusError):
    """A caller passed an argument that can never be valid (empty name, oversize input, ...)."""

    dbus_name = "org.freedesktop.DBus.Error.InvalidArgs"


class AccessDenied(OvsdbusError):
    """The caller may not perform this operation."""

    dbus_name = "org.freedesktop.DBus.Error.AccessDenied"


class AlreadyExists(OvsdbusError):
    """The name to create is already used."""

    dbus_name = ERROR_PREFIX + "AlreadyExists"


class NotFound(OvsdbusError):
    """The object named by the caller does not exist."""

    dbus_name = ERROR_PREFIX + "NotFound"


class Disconnected(OvsdbusError):
    """The connection to ovsdb-server is down, or dropped before the reply came."""

    dbus_name = ERROR_PREFIX + "Disconnected"


class Timeout(OvsdbusError):
    """ovsdb-server did not answer in time."""

    dbus_name = ERROR_PREFIX + "Timeout"


class ProtocolError(OvsdbusError):
    """The peer broke the wire protocol (malformed JSON, oversize message, bad JSON-RPC)."""

    dbus_name = ERROR_PREFIX + "ProtocolError"


class RpcError(OvsdbusError):
    """ovsdb-server answered a request with a JSON-RPC level error.

    ``error`` is what the server sent: a bare string such as ``"unknown method"`` or an
    object with an ``"error"`` member and optional ``"details"``.
    """

    dbus_name = ERROR_PREFIX + "TransactionFailed"

    def __init__(self, error):
        self.error = error
        if isinstance(error, dict):
            self.kind = str(error.get("error", "unknown error"))
            self.details = error.get("details")
        else:
            self.kind = str(error)
            self.details = None
        text = self.kind if not self.details else "%s: %s" % (self.kind, self.details)
        super().__init__(text)


class TransactionError(OvsdbusError):
    """An OVSDB transaction failed; ``error`` and ``details`` are OVSDB's own words.

    Use :func:`transaction_error` to get the subclass that matches ``error``.
    """

    dbus_name = ERROR_PREFIX + "TransactionFailed"

    def __init__(self, error, details=None, op_index=None):
        self.error = error
        self.details = details
        self.op_index = op_index
        text = error if not details else "%s: %s" % (error, details)
        super().__init__(text)


class ConstraintViolation(TransactionError):
    """OVSDB "constraint violation" (duplicate index value, set size, enum, range...)."""

    dbus_name = ERROR_PREFIX + "ConstraintViolation"


class ReferentialIntegrity(TransactionError):
    """OVSDB "referential integrity violation"."""

    dbus_name = ERROR_PREFIX + "ReferentialIntegrity"


class ResourcesExhausted(TransactionError):
    """OVSDB "resources exhausted"."""

    dbus_name = ERROR_PREFIX + "ResourcesExhausted"


class NotSupported(TransactionError):
    """OVSDB "not supported"."""

    dbus_name = ERROR_PREFIX + "NotSupported"


class WaitTimedOut(TransactionError):
    """A ``wait`` operation did not hold: what the transaction assumed has changed.

    ovsdbus retries such a transaction; if it never goes through, the caller gets
    TransactionFailed ("conflict")."""


_TRANSACTION_ERRORS = {
    "constraint violation": ConstraintViolation,
    "referential integrity violation": ReferentialIntegrity,
    "resources exhausted": ResourcesExhausted,
    "not supported": NotSupported,
    "timed out": WaitTimedOut,
}


def transaction_error(error, details=None, op_index=None):
    """Return the :class:`TransactionError` subclass instance for OVSDB error string ``error``."""
    cls = _TRANSACTION_ERRORS.get(error, TransactionError)
    return cls(error, details, op_index)
