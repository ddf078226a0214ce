"""Fault injection for the fake ovsdb-server: the knobs a test turns to break it.

:class:`FaultKnobs` is mixed into :class:`~ovsdbus.testing.FakeOvsdbFactory`; the connections
(:class:`~ovsdbus.testing.FakeOvsdbProtocol`) consult it for every request: hold it while
paused, serve it after :attr:`~FaultKnobs.reply_delay`, answer it with an injected error, and
close a new connection at once while :attr:`~FaultKnobs.reject_connections` is set.  Part of the
fake OVSDB: use it through :mod:`ovsdbus.testing`.
"""


class FaultKnobs:
    """The fault-injection knobs of a fake server factory (uses its ``connections``).

    :ivar reply_delay: seconds (on the factory's clock) before each request is served.
    :ivar paused: while true, requests are held unanswered (see :meth:`pause`).
    :ivar reject_connections: while true, connections are accepted and closed at once.
    """

    def __init__(self):
        self.reply_delay = 0
        self.paused = False
        self.reject_connections = False
        self._failures = []

    def drop_all_connections(self, abort=False):
        """Close every client connection (``abort``: without flushing what is queued)."""
        for protocol in list(self.connections):
            if abort and hasattr(protocol.transport, "abortConnection"):
                protocol.transport.abortConnection()
            else:
                protocol.transport.loseConnection()

    def fail_next(self, error, count=1, method=None):
        """Answer the next ``count`` requests (of ``method`` only, if given) with ``error``.

        ``error`` is what goes in the reply's ``"error"`` member: a string such as
        "unknown method" or an object such as ``{"error": "ovsdb error"}``.  Without
        ``method``, ``echo`` requests are not affected.
        """
        for _ in range(count):
            self._failures.append((method, error))

    def _take_failure(self, method):
        for index, (wanted, error) in enumerate(self._failures):
            if wanted == method or (wanted is None and method != "echo"):
                del self._failures[index]
                return error
        return None

    def send_garbage(self, data=b"}\x00not json{"):
        """Write ``data`` (not valid JSON by default) to every connected client."""
        for protocol in list(self.connections):
            protocol.send_garbage(data)

    def pause(self):
        """Hold every request from now on (nothing is answered) until :meth:`resume`."""
        self.paused = True

    def resume(self):
        """Serve the held requests, in order, and stop holding new ones."""
        self.paused = False
        for protocol in list(self.connections):
            protocol._release_held()
