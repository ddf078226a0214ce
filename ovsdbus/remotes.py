"""OVS remote strings (``unix:PATH``, ``tcp:HOST[:PORT]``, ``ssl:HOST[:PORT]``, comma
lists) and the Twisted client endpoints they become.

:func:`parse_remotes` is pure and table-tested; :func:`remotes_endpoint` turns the
parsed list into one endpoint that tries the remotes in turn, one per connection
attempt, as OVS's own clients do.
"""

import re
from typing import NamedTuple

from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint
from twisted.internet.interfaces import IStreamClientEndpoint
from zope.interface import implementer

DEFAULT_REMOTE = "unix:/var/run/openvswitch/db.sock"
DEFAULT_PORT = 6640

_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+))(?::(?P<port>[0-9]+))?$")


class Remote(NamedTuple):
    """One parsed remote: ``kind`` is ``unix``, ``tcp`` or ``ssl``; ``address`` is the
    socket path (unix) or host (tcp/ssl); ``port`` is an int or ``None``."""

    kind: str
    address: str
    port: int = None

    def __str__(self):
        if self.kind == "unix":
            return "unix:" + self.address
        host = "[%s]" % self.address if ":" in self.address else self.address
        return "%s:%s:%d" % (self.kind, host, self.port)


def parse_remote(text):
    """Parse one remote; raise ValueError with a readable reason if it is not valid."""
    text = text.strip()
    kind, sep, rest = text.partition(":")
    if not sep or not rest:
        raise ValueError("%r is not a remote (expected unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT)" % text)
    if kind == "unix":
        return Remote("unix", rest)
    if kind in ("tcp", "ssl"):
        m = _HOST_PORT.match(rest)
        if not m:
            raise ValueError("%r: expected %s:HOST[:PORT]" % (text, kind))
        port = int(m.group("port")) if m.group("port") else DEFAULT_PORT
        if not 0 < port < 65536:
            raise ValueError("%r: port %d out of range" % (text, port))
        return Remote(kind, m.group("v6") or m.group("host"), port)
    if kind in ("punix", "ptcp", "pssl"):
        raise ValueError("%r is a listening remote; ovsdbus connects, so use %s:" % (text, kind[1:]))
    raise ValueError("%r: unknown remote type %r" % (text, kind))


def parse_remotes(text):
    """Parse a comma-separated list of remotes (at least one)."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError("no remote given")
    return [parse_remote(p) for p in parts]


def remote_endpoint(reactor, remote, tls_options=None, timeout=10):
    """The client endpoint for one :class:`Remote`.

    ``tls_options`` (an ``IOpenSSLClientConnectionCreator``) is required for ssl.
    """
    if remote.kind == "unix":
        return UNIXClientEndpoint(reactor, remote.address, timeout=timeout)
    endpoint = HostnameEndpoint(reactor, remote.address, remote.port, timeout=timeout)
    if remote.kind == "ssl":
        if tls_options is None:
            raise ValueError("%s needs TLS options (private key, certificate, CA certificate)" % (remote,))
        from twisted.internet.endpoints import wrapClientTLS
        endpoint = wrapClientTLS(tls_options, endpoint)
    return endpoint


@implementer(IStreamClientEndpoint)
class RoundRobinEndpoint:
    """An endpoint that connects to the next of several endpoints at each attempt.

    ``current`` is the index of the endpoint of the latest attempt, so callers can tell
    which remote a connection went to.
    """

    def __init__(self, endpoints):
        if not endpoints:
            raise ValueError("no endpoints")
        self.endpoints = list(endpoints)
        self.current = -1

    def connect(self, protocol_factory):
        self.current = (self.current + 1) % len(self.endpoints)
        return self.endpoints[self.current].connect(protocol_factory)


def remotes_endpoint(reactor, remotes, tls_options=None, timeout=10):
    """One endpoint for a list of :class:`Remote`: the remote itself, or a round robin."""
    endpoints = [remote_endpoint(reactor, r, tls_options, timeout) for r in remotes]
    return endpoints[0] if len(endpoints) == 1 else RoundRobinEndpoint(endpoints)
