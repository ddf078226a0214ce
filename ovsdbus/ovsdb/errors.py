"""The one error tree of ovsdbus.

Every error a caller can see derives from :class:`OvsdbusError`.  Lower layers raise
these and know nothing of D-Bus: the one table of :mod:`ovsdbus.api.errors` names the
D-Bus error each class crosses the bus as, and only the D-Bus adapter uses it.
"""


class OvsdbusError(Exception):
    """Base class of all ovsdbus errors."""


class InvalidArgs(OvsdbusError):
    """A caller passed an argument that can never be valid (empty name, oversize input, ...)."""


class AccessDenied(OvsdbusError):
    """The caller may not perform this operation."""


class AlreadyExists(OvsdbusError):
    """The name to create is already used."""


class NotFound(OvsdbusError):
    """The object named by the caller does not exist."""


class Ambiguous(OvsdbusError):
    """A record name matches several rows (as ovs-vsctl's "multiple rows in T match")."""


class Disconnected(OvsdbusError):
    """The connection to ovsdb-server is down, or dropped before the reply came."""


class Timeout(OvsdbusError):
    """ovsdb-server did not answer in time."""


class ProtocolError(OvsdbusError):
    """The peer broke the wire protocol (malformed JSON, oversize message, bad JSON-RPC)."""


class RpcError(OvsdbusError):
    """ovsdb-server answered a request with a JSON-RPC level error.

    ``error`` is what the server sent: a bare string such as ``"unknown method"`` or an
    object with an ``"error"`` member and optional ``"details"``.
    """

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

    def __init__(self, error, details=None, op_index=None):
        self.error = error
        self.details = details
        self.op_index = op_index
        text = error if not details else "%s: %s" % (error, details)
        super().__init__(text)


class ConstraintViolation(TransactionError):
    """OVSDB "constraint violation" (duplicate index value, set size, enum, range...)."""


class ReferentialIntegrity(TransactionError):
    """OVSDB "referential integrity violation"."""


class ResourcesExhausted(TransactionError):
    """OVSDB "resources exhausted"."""


class NotSupported(TransactionError):
    """OVSDB "not supported"."""


class WaitTimedOut(TransactionError):
    """A ``wait`` operation did not hold: what the transaction assumed has changed.

    ovsdbus retries such a transaction; if it never goes through, the caller gets this
    error (a :class:`TransactionError`, "conflict")."""


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
