"""Tests for ovsdbus.ovsdb.remotes: OVS remote strings and the endpoints they become."""

from twisted.internet import defer
from twisted.internet.interfaces import IReactorPluggableNameResolver, IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import TestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from ovsdbus import tap
from ovsdbus.ovsdb.remotes import (
    DEFAULT_PORT,
    DEFAULT_REMOTE,
    Remote,
    RoundRobinEndpoint,
    TlsClientEndpoint,
    TlsFiles,
    TlsSetupError,
    parse_remote,
    parse_remotes,
    remote_endpoint,
    remotes_endpoint,
)


class ParseRemotesTests(TestCase):
    """The --remote option takes OVS syntax, as ovs-vsctl --db does."""

    GOOD = [
        ("unix:/var/run/openvswitch/db.sock", [Remote("unix", "/var/run/openvswitch/db.sock", None)]),
        ("unix:db.sock", [Remote("unix", "db.sock", None)]),
        ("tcp:127.0.0.1:6641", [Remote("tcp", "127.0.0.1", 6641)]),
        ("tcp:127.0.0.1", [Remote("tcp", "127.0.0.1", DEFAULT_PORT)]),
        ("tcp:ovsdb.example.com:1", [Remote("tcp", "ovsdb.example.com", 1)]),
        ("tcp:ovsdb.example.com:65535", [Remote("tcp", "ovsdb.example.com", 65535)]),
        ("tcp:[::1]:6640", [Remote("tcp", "::1", 6640)]),
        ("tcp:[::1]", [Remote("tcp", "::1", DEFAULT_PORT)]),
        ("tcp:[fe80::1:2]:7000", [Remote("tcp", "fe80::1:2", 7000)]),
        ("ssl:10.0.0.1:6640", [Remote("ssl", "10.0.0.1", 6640)]),
        ("ssl:ovsdb.example.com", [Remote("ssl", "ovsdb.example.com", DEFAULT_PORT)]),
        ("ssl:[2001:db8::5]:6643", [Remote("ssl", "2001:db8::5", 6643)]),
        ("  tcp:127.0.0.1:6640  ", [Remote("tcp", "127.0.0.1", 6640)]),
        ("unix:/a.sock,tcp:10.0.0.2:6641,ssl:[::1]:6642",
         [Remote("unix", "/a.sock", None), Remote("tcp", "10.0.0.2", 6641), Remote("ssl", "::1", 6642)]),
        ("tcp:10.0.0.1:6641, tcp:10.0.0.2:6641 ,tcp:10.0.0.3:6641",
         [Remote("tcp", "10.0.0.%d" % i, 6641) for i in (1, 2, 3)]),
        ("tcp:10.0.0.1:6641,", [Remote("tcp", "10.0.0.1", 6641)]),
    ]

    BAD = [
        "",
        " ",
        ",",
        " , ",
        "/var/run/openvswitch/db.sock",
        "unix:",
        "tcp:",
        "tcp::6640",
        "tcp:host:",
        "tcp:host:port",
        "tcp:host:0",
        "tcp:host:65536",
        "tcp:host:-1",
        "tcp:host:6640:1",
        "tcp:::1",
        "tcp:::1:6640",
        "tcp:[::1",
        "tcp:[::1]:",
        "tcp:[]:6640",
        "tcp:[host]:6640",
        "ssl:",
        "ssl:host:99999",
        "punix:/var/run/openvswitch/db.sock",
        "ptcp:6640",
        "ptcp:6640:127.0.0.1",
        "pssl:6640",
        "http://localhost:6640",
        "udp:host:6640",
        "unix:/a.sock,bogus",
        "tcp:10.0.0.1:6641,tcp:10.0.0.2:0",
    ]

    def test_good(self):
        """Valid remotes and comma lists parse to what they name, with the default port 6640."""
        for text, expected in self.GOOD:
            self.assertEqual(parse_remotes(text), expected, text)

    def test_bad(self):
        """Invalid remotes are refused with ValueError (the daemon exits with a usage message)."""
        for text in self.BAD:
            self.assertRaises(ValueError, parse_remotes, text)

    def test_default_remote(self):
        """The default remote is the local ovsdb-server's unix socket."""
        self.assertEqual(parse_remotes(DEFAULT_REMOTE), [Remote("unix", "/var/run/openvswitch/db.sock")])

    def test_listening_remote_explained(self):
        """Passing a listening remote (punix:, ptcp:) says how to fix it."""
        error = self.assertRaises(ValueError, parse_remote, "punix:/run/db.sock")
        self.assertIn("unix:", str(error))

    def test_error_names_remote(self):
        """The error message quotes the remote that is wrong, so the user can find it in a list."""
        error = self.assertRaises(ValueError, parse_remotes, "tcp:10.0.0.1:6641,tcp:10.0.0.2:99999")
        self.assertIn("10.0.0.2", str(error))

    def test_non_ascii_digits_in_port(self):
        """A port written with non-ASCII digits is refused, as OVS refuses it."""
        for text in ["tcp:host:\uff16\uff16\uff14\uff10", "tcp:host:\u0666\u0666\u0664\u0660"]:
            self.assertRaises(ValueError, parse_remotes, text)

    def test_str_round_trip(self):
        """A remote prints back in OVS syntax that parses to the same remote (IPv6 bracketed)."""
        for _, expected in self.GOOD:
            for remote in expected:
                self.assertEqual(parse_remote(str(remote)), remote, str(remote))
        self.assertEqual(str(Remote("tcp", "::1", 6640)), "tcp:[::1]:6640")


@implementer(IStreamClientEndpoint)
class FakeEndpoint:
    """Records connection attempts."""

    def __init__(self, name, attempts):
        self.name = name
        self.attempts = attempts

    def connect(self, protocol_factory):
        self.attempts.append(self.name)
        return defer.succeed(self.name)


class RoundRobinTests(TestCase):
    """Several remotes are tried in turn, one per connection attempt."""

    def test_rotates(self):
        """Successive attempts go to each remote in order, then start over."""
        attempts = []
        endpoint = RoundRobinEndpoint([FakeEndpoint(n, attempts) for n in "abc"])
        verifyObject(IStreamClientEndpoint, endpoint)
        results = []
        for _ in range(7):
            results.append(self.successResultOf(endpoint.connect(Factory.forProtocol(Protocol))))
            self.assertEqual(endpoint.endpoints[endpoint.current].name, results[-1])
        self.assertEqual(attempts, list("abcabca"))
        self.assertEqual(results, list("abcabca"))

    def test_single(self):
        """With one endpoint every attempt goes to it."""
        attempts = []
        endpoint = RoundRobinEndpoint([FakeEndpoint("only", attempts)])
        for _ in range(3):
            endpoint.connect(Factory.forProtocol(Protocol))
        self.assertEqual(attempts, ["only"] * 3)

    def test_failed_attempt_still_rotates(self):
        """A remote that refuses does not stop the next attempt from trying the next remote."""
        attempts = []

        @implementer(IStreamClientEndpoint)
        class Refusing(FakeEndpoint):
            def connect(self, protocol_factory):
                self.attempts.append(self.name)
                return defer.fail(ConnectionRefusedError())

        endpoint = RoundRobinEndpoint([Refusing("down", attempts), FakeEndpoint("up", attempts)])
        self.failureResultOf(endpoint.connect(Factory.forProtocol(Protocol)), ConnectionRefusedError)
        self.assertEqual(self.successResultOf(endpoint.connect(Factory.forProtocol(Protocol))), "up")
        self.assertEqual(attempts, ["down", "up"])

    def test_empty(self):
        """A round robin of nothing is refused at once."""
        self.assertRaises(ValueError, RoundRobinEndpoint, [])


class EndpointTests(TestCase):
    """Parsed remotes become endpoints that connect where they say."""

    def test_unix_endpoint_connects_to_path(self):
        """unix:PATH connects to that socket path."""
        reactor = MemoryReactorClock()
        endpoint = remote_endpoint(reactor, Remote("unix", "/run/openvswitch/db.sock"))
        endpoint.connect(Factory.forProtocol(Protocol))
        self.assertEqual([c[0] for c in reactor.unixClients], ["/run/openvswitch/db.sock"])

    def test_ssl_needs_tls_options(self):
        """ssl: without key/certificate/CA options is refused with a message saying what is missing."""
        error = self.assertRaises(ValueError, remote_endpoint, MemoryReactorClock(), Remote("ssl", "h", 6640))
        self.assertIn("TLS", str(error))

    def test_list_round_robin(self):
        """A list of unix remotes connects to each socket in turn."""
        reactor = MemoryReactorClock()
        endpoint = remotes_endpoint(reactor, parse_remotes("unix:/a.sock,unix:/b.sock"))
        for _ in range(3):
            endpoint.connect(Factory.forProtocol(Protocol))
        self.assertEqual([c[0] for c in reactor.unixClients], ["/a.sock", "/b.sock", "/a.sock"])

    def test_single_remote(self):
        """A single remote connects straight to its socket, every time."""
        reactor = MemoryReactorClock()
        endpoint = remotes_endpoint(reactor, parse_remotes("unix:/a.sock"))
        endpoint.connect(Factory.forProtocol(Protocol))
        endpoint.connect(Factory.forProtocol(Protocol))
        self.assertEqual([c[0] for c in reactor.unixClients], ["/a.sock", "/a.sock"])


class TlsOptionTests(TestCase):
    """``twistd ovsdbus`` options for ssl: remotes, as ovs-vsctl spells them."""

    def parse(self, *args):
        options = tap.Options()
        options.parseOptions(list(args))
        return options

    def test_ssl_needs_key_certificate_and_ca(self):
        """An ssl: remote without --private-key, --certificate and --ca-cert is a usage error naming what is
        missing."""
        error = self.assertRaises(usage.UsageError, self.parse, "--ovsdb", "ssl:127.0.0.1:6640")
        for option in ("--private-key", "--certificate", "--ca-cert"):
            self.assertIn(option, str(error))
        error = self.assertRaises(usage.UsageError, self.parse, "--ovsdb", "unix:/a.sock,ssl:10.0.0.1",
                                  "--private-key", "k.pem", "--certificate", "c.pem")
        self.assertIn("--ca-cert", str(error))
        self.assertNotIn("--private-key", str(error))

    def test_ca_cert_and_bootstrap_exclusive(self):
        """--ca-cert and --bootstrap-ca-cert together are refused, as in OVS."""
        error = self.assertRaises(usage.UsageError, self.parse, "--ovsdb", "ssl:127.0.0.1", "-p", "k.pem",
                                  "-c", "c.pem", "-C", "ca.pem", "--bootstrap-ca-cert", "boot.pem")
        self.assertIn("--bootstrap-ca-cert", str(error))

    def test_no_verification_refused(self):
        """``--ca-cert none`` (OVS's way to skip verifying the server) is refused: ovsdbus always verifies."""
        error = self.assertRaises(usage.UsageError, self.parse, "--ovsdb", "ssl:127.0.0.1", "-p", "k.pem",
                                  "-c", "c.pem", "-C", "none")
        self.assertIn("none", str(error))

    def test_missing_files_named(self):
        """A key, certificate or CA file that cannot be read is a usage error naming the option and the file."""
        error = self.assertRaises(usage.UsageError, self.parse, "--ovsdb", "ssl:127.0.0.1",
                                  "--private-key", "/nonexistent/k.pem", "--certificate", "/nonexistent/c.pem",
                                  "--ca-cert", "/nonexistent/ca.pem")
        self.assertRegex(str(error), r"^--\S+ /nonexistent/\S+\.pem: No such file")

    def test_plain_remotes_need_no_tls(self):
        """unix: and tcp: remotes need no TLS options, and TLS options given anyway are not used."""
        self.assertIsNone(self.parse("--ovsdb", "unix:/a.sock,tcp:127.0.0.1")["tls"])
        self.assertIsNone(self.parse("--ovsdb", "tcp:127.0.0.1", "-C", "/nonexistent/ca.pem")["tls"])

    def test_help_documents_tls_options(self):
        """``--help`` lists the TLS options with ovs-vsctl's short forms."""
        text = str(tap.Options())
        for option in ("-p, --private-key=", "-c, --certificate=", "-C, --ca-cert=", "--bootstrap-ca-cert="):
            self.assertIn(option, text)


@implementer(IReactorPluggableNameResolver)
class ResolvingMemoryReactor(MemoryReactorClock):
    """A memory reactor HostnameEndpoint accepts on every Twisted version (it wants a name resolver)."""

    nameResolver = None

    def installNameResolver(self, resolver):
        previous, self.nameResolver = self.nameResolver, resolver
        return previous


class TlsEndpointTests(TestCase):
    """ssl: remotes become TLS endpoints that never connect without their TLS files."""

    FILES = TlsFiles("/nonexistent/key.pem", "/nonexistent/cert.pem", "/nonexistent/ca.pem")

    def test_ssl_remote_is_tls(self):
        """An ssl: remote with TLS files becomes a TLS endpoint for its host and port."""
        endpoint = remote_endpoint(ResolvingMemoryReactor(), Remote("ssl", "10.0.0.1", 6643), self.FILES)
        self.assertIsInstance(endpoint, TlsClientEndpoint)
        self.assertEqual((endpoint.remote, endpoint.files), (Remote("ssl", "10.0.0.1", 6643), self.FILES))

    def test_unusable_files_fail_without_connecting(self):
        """When the TLS files cannot be read at connection time, the attempt fails with TlsSetupError naming
        the file, and no TCP connection is even tried (nothing could go out in plain text)."""
        reactor = ResolvingMemoryReactor()
        endpoint = remotes_endpoint(reactor, parse_remotes("ssl:10.0.0.1:6643"), self.FILES)
        failure = self.failureResultOf(endpoint.connect(Factory.forProtocol(Protocol)), TlsSetupError)
        self.assertIn("/nonexistent/key.pem", str(failure.value))
        self.assertEqual(reactor.tcpClients, [])
        self.assertEqual(len(self.flushLoggedErrors()), 0)
