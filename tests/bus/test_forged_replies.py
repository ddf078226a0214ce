"""Forged D-Bus replies never grant access.

txdbus pairs a reply with its call by reply serial alone.  The service's serials are
sequential and show in every reply it sends, so a caller can guess the serial of the
service's next call (``GetConnectionCredentials`` about itself, polkit's
``CheckAuthorization``) and answer it first.  A bus that forwards unrequested replies (a
session-style bus with ``<allow send_destination="*"/>``) delivers such answers; the service
must take a reply only from the peer it asked.
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.internet import defer
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher
from twisted.trial import unittest
from txdbus import client as txdbus_client
from txdbus import message as txdbus_message
from txdbus.error import TimeOut

from ovsdbus.bus import wire as dbuswire
from ovsdbus.bus.authorization import Authorizer, BusQueries, Credentials, Policy
from ovsdbus.bus.service import CheckedReplyConnection, TxdbusBusQueries, UncheckableCall
from ovsdbus.ovsdb.errors import AccessDenied
from ovsdbus.testing import sandbox
from tests.realstack import require_programs

BUS_DAEMON = "org.freedesktop.DBus"
SELF = ":1.1"        # the service's unique name
CALLER = ":1.7"      # a caller, and forger
POLKIT_OWNER = ":1.3"
ROOT_ANSWER = [{"UnixUserID": ("u", 0), "UnixGroupIDs": ("au", [0])}]
NOBODY_ANSWER = [{"UnixUserID": ("u", 65534), "UnixGroupIDs": ("au", [65534])}]


class Bus:
    """A :class:`CheckedReplyConnection` over a StringTransport, greeted as SELF: the test reads
    the calls it sends and answers them with messages from any sender it likes."""

    def __init__(self):
        self.connection = CheckedReplyConnection()
        self.connection.factory = txdbus_client.DBusClientFactory()
        self.transport = StringTransport()
        self.connection.transport = self.transport
        self.serial = 100
        self.connection.connectionAuthenticated()
        self.answer(self.call(), BUS_DAEMON, "s", [SELF])  # Hello

    def sent(self):
        """The messages sent since last asked, parsed."""
        data, messages = self.transport.value(), []
        self.transport.clear()
        while data:
            body_length, _, fields_length = struct.unpack_from("<III", data, 4)
            total = 16 + fields_length + (-fields_length % 8) + body_length
            messages.append(txdbus_message.parseMessage(data[:total], []))
            data = data[total:]
        return messages

    def call(self):
        """The one call sent since last asked."""
        [call] = self.sent()
        return call

    def answer(self, call, sender, signature="", body=()):
        """Deliver a method return to ``call`` from ``sender``."""
        self.serial += 1
        fields = {dbuswire.REPLY_SERIAL: call.serial, dbuswire.DESTINATION: SELF, dbuswire.SENDER: sender}
        self.connection.rawDBusMessageReceived(dbuswire.encode_message(2, self.serial, fields, signature, body))

    def fail(self, call, sender, name):
        """Deliver an error ``name`` in answer to ``call`` from ``sender``."""
        self.serial += 1
        fields = {dbuswire.REPLY_SERIAL: call.serial, dbuswire.DESTINATION: SELF, dbuswire.SENDER: sender,
                  dbuswire.ERROR_NAME: name}
        self.connection.rawDBusMessageReceived(dbuswire.encode_message(3, self.serial, fields, "s", ["no"]))


class CheckedReplyTests(unittest.TestCase):
    """The service's bus connection takes an answer only from the peer it asked."""

    def setUp(self):
        self.bus = Bus()
        self.queries = TxdbusBusQueries(self.bus.connection)

    def test_forged_credentials_are_ignored(self):
        """A caller's "uid 0" answer to GetConnectionCredentials about itself is ignored; the bus
        daemon's answer, arriving after it, is the one used."""
        d = self.queries.credentials(CALLER)
        call = self.bus.call()
        self.assertEqual((call.destination, call.member, call.body), (BUS_DAEMON, "GetConnectionCredentials",
                                                                       [CALLER]))
        self.bus.answer(call, CALLER, "a{sv}", ROOT_ANSWER)
        self.assertNoResult(d)
        self.bus.answer(call, BUS_DAEMON, "a{sv}", NOBODY_ANSWER)
        self.assertEqual(self.successResultOf(d), Credentials(65534, [65534]))

    def test_forged_credentials_are_never_cached(self):
        """After a forged "uid 0", the caller is refused as who the bus daemon says it is, and
        stays refused on its next call (the forgery was not cached)."""
        authorizer = Authorizer(Policy(allowed_uids={0}, polkit="no"), self.queries)
        d = authorizer.authorize(CALLER)
        call = self.bus.call()
        self.bus.answer(call, CALLER, "a{sv}", ROOT_ANSWER)
        self.bus.answer(call, BUS_DAEMON, "a{sv}", NOBODY_ANSWER)
        self.assertIn("65534", str(self.failureResultOf(d, AccessDenied).value))
        self.failureResultOf(authorizer.authorize(CALLER), AccessDenied)
        self.assertEqual(self.bus.sent(), [])  # answered from the cache: nobody

    def test_forged_error_is_ignored(self):
        """An error from anyone but the bus daemon does not end a call to the bus daemon either."""
        d = self.queries.credentials(CALLER)
        call = self.bus.call()
        self.bus.fail(call, CALLER, "org.freedesktop.DBus.Error.Failed")
        self.assertNoResult(d)
        self.bus.answer(call, BUS_DAEMON, "a{sv}", ROOT_ANSWER)
        self.assertEqual(self.successResultOf(d).uid, 0)

    def polkit_call(self, owner_answers):
        """Start polkit_allows; answer GetNameOwner with ``owner_answers`` [(sender, name)]; return
        (the Deferred, the CheckAuthorization call)."""
        d = self.queries.polkit_allows(CALLER, "org.openvswitch.ovsdb.modify", False)
        ask = self.bus.call()
        self.assertEqual((ask.destination, ask.member, ask.body), (BUS_DAEMON, "GetNameOwner",
                                                                     ["org.freedesktop.PolicyKit1"]))
        for sender, name in owner_answers:
            self.bus.answer(ask, sender, "s", [name])
        check = self.bus.call()
        self.assertEqual((check.destination, check.member), (POLKIT_OWNER, "CheckAuthorization"))
        return d, check

    def test_polkit_answer_taken_only_from_polkit(self):
        """CheckAuthorization goes to polkit's owner as the bus daemon names it (a forged
        GetNameOwner answer naming the caller is ignored), and only that owner's answer counts:
        a caller's "authorized" is ignored, polkit's "no" refuses."""
        d, check = self.polkit_call([(CALLER, CALLER), (BUS_DAEMON, POLKIT_OWNER)])
        self.bus.answer(check, CALLER, "(bba{ss})", [(True, False, {})])
        self.assertNoResult(d)
        self.bus.answer(check, POLKIT_OWNER, "(bba{ss})", [(False, False, {})])
        self.assertIs(self.successResultOf(d), False)

    def test_polkit_yes_from_polkit(self):
        """polkit's own "authorized", from its unique name, still lets the call through."""
        d, check = self.polkit_call([(BUS_DAEMON, POLKIT_OWNER)])
        self.bus.answer(check, POLKIT_OWNER, "(bba{ss})", [(True, False, {})])
        self.assertIs(self.successResultOf(d), True)

    def test_bus_daemon_error_for_polkit_counts(self):
        """When polkit has gone, the bus daemon's error answers the call for it (refused); the same
        error from a caller is ignored."""
        d, check = self.polkit_call([(BUS_DAEMON, POLKIT_OWNER)])
        self.bus.fail(check, CALLER, "org.freedesktop.DBus.Error.ServiceUnknown")
        self.assertNoResult(d)
        self.bus.fail(check, BUS_DAEMON, "org.freedesktop.DBus.Error.ServiceUnknown")
        self.assertIs(self.successResultOf(d), False)

    def test_activatable_polkit_is_started_first(self):
        """A polkit that is bus-activatable but not running is started (StartServiceByName), then
        asked at the unique name it gets."""
        d = self.queries.polkit_allows(CALLER, "org.openvswitch.ovsdb.modify", False)
        self.bus.fail(self.bus.call(), BUS_DAEMON, "org.freedesktop.DBus.Error.NameHasNoOwner")
        start = self.bus.call()
        self.assertEqual((start.destination, start.member, start.body),
                         (BUS_DAEMON, "StartServiceByName", ["org.freedesktop.PolicyKit1", 0]))
        self.bus.answer(start, BUS_DAEMON, "u", [1])
        self.bus.answer(self.bus.call(), BUS_DAEMON, "s", [POLKIT_OWNER])
        check = self.bus.call()
        self.assertEqual(check.destination, POLKIT_OWNER)
        self.bus.answer(check, POLKIT_OWNER, "(bba{ss})", [(True, False, {})])
        self.assertIs(self.successResultOf(d), True)

    def test_unknown_polkit_refuses(self):
        """No polkit at all (not even activatable): refused, and nothing is sent to anyone else."""
        d = self.queries.polkit_allows(CALLER, "org.openvswitch.ovsdb.modify", False)
        self.bus.fail(self.bus.call(), BUS_DAEMON, "org.freedesktop.DBus.Error.NameHasNoOwner")
        self.bus.fail(self.bus.call(), BUS_DAEMON, "org.freedesktop.DBus.Error.ServiceUnknown")
        self.assertIs(self.successResultOf(d), False)
        self.assertEqual(self.bus.sent(), [])

    def test_call_to_well_known_name_by_hand_is_refused(self):
        """A call message built by hand for a well-known name cannot be checked, so it is not sent."""
        mcall = txdbus_message.MethodCallMessage("/", "Ping", interface="org.freedesktop.DBus.Peer",
                                                 destination="org.example.Name")
        self.failureResultOf(self.bus.connection.callRemoteMessage(mcall), UncheckableCall)
        self.assertEqual(self.bus.sent(), [])

    def test_forgeries_logged_once_per_call(self):
        """A flood of forged answers to one call is logged once, and leaves nothing behind once the
        call is answered; answers to calls nobody made are dropped quietly."""
        events = []
        observer = events.append
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        d = self.queries.credentials(CALLER)
        call = self.bus.call()
        for _ in range(50):
            self.bus.answer(call, CALLER, "a{sv}", ROOT_ANSWER)
        stray = txdbus_message.MethodCallMessage("/", "Nothing", destination=BUS_DAEMON)
        self.bus.answer(stray, CALLER, "a{sv}", ROOT_ANSWER)
        self.bus.answer(call, BUS_DAEMON, "a{sv}", NOBODY_ANSWER)
        self.assertEqual(self.successResultOf(d).uid, 65534)
        forged = [e for e in events if "forged" in e.get("log_format", "")]
        self.assertEqual(len(forged), 1)
        self.assertEqual((forged[0]["sender"], forged[0]["expected"]), (CALLER, BUS_DAEMON))
        self.assertEqual((self.bus.connection._repliers, self.bus.connection._forgeries), ({}, set()))

    @defer.inlineCallbacks
    def test_timed_out_call_leaves_nothing_behind(self):
        """A call that times out forgets whose answer it awaited; a late answer is dropped quietly."""
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        d = self.bus.connection.callRemote("/org/freedesktop/DBus", "ListNames", interface=BUS_DAEMON,
                                           destination=BUS_DAEMON, timeout=0.01)
        call = self.bus.call()
        yield self.assertFailure(d, TimeOut)
        self.assertEqual(self.bus.connection._repliers, {})
        self.bus.answer(call, CALLER, "as", [[]])
        self.bus.answer(call, BUS_DAEMON, "as", [[]])
        self.assertEqual([e for e in events if "forged" in e.get("log_format", "")], [])


class ConnectTests(unittest.TestCase):
    """Connecting to the bus with the checked connection fails as clearly as txdbus's own."""

    @defer.inlineCallbacks
    def test_no_bus_there(self):
        """A bus address where nothing listens, or none usable, fails with ConnectError naming it."""
        from twisted.internet import reactor
        from twisted.internet.error import ConnectError

        from ovsdbus.bus.service import connect
        directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, directory, True)
        error = yield self.assertFailure(connect(reactor, "unix:path=%s/none.sock" % directory), ConnectError)
        self.assertIn("cannot connect to the bus", str(error))
        error = yield self.assertFailure(connect(reactor, "bogus:x=1"), ConnectError)
        self.assertIn("bogus:x=1", str(error))


class WrongShapeTests(unittest.TestCase):
    """Answers of the wrong shape, even from the right peer, refuse and never crash or grant."""

    def setUp(self):
        self.bus = Bus()
        self.queries = TxdbusBusQueries(self.bus.connection)
        self.authorizer = Authorizer(Policy(allowed_uids={0}, polkit="no"), self.queries)

    def refused(self, signature, body):
        d = self.authorizer.authorize(CALLER)
        self.bus.answer(self.bus.call(), BUS_DAEMON, signature, body)
        failure = self.failureResultOf(d, AccessDenied)
        self.assertEqual(self.authorizer._credentials, {})
        return str(failure.value)

    def test_uid_as_string(self):
        """UnixUserID "0" (a string) is not uid 0: refused, not cached."""
        self.refused("a{sv}", [{"UnixUserID": ("s", "0")}])

    def test_uid_negative_or_bool(self):
        """UnixUserID as a negative int32 or a boolean is refused."""
        self.refused("a{sv}", [{"UnixUserID": ("i", -1)}])
        self.refused("a{sv}", [{"UnixUserID": ("b", False)}])

    def test_groups_not_a_list_of_ids(self):
        """UnixGroupIDs that are not a list of ids refuse the call."""
        self.refused("a{sv}", [{"UnixUserID": ("u", 0), "UnixGroupIDs": ("s", "0")}])
        self.refused("a{sv}", [{"UnixUserID": ("u", 0), "UnixGroupIDs": ("as", ["0"])}])

    def test_reply_of_another_signature(self):
        """An answer that is not a{sv} at all refuses the call."""
        self.refused("s", ["root"])
        self.refused("", [])

    def test_polkit_answer_of_another_shape(self):
        """A CheckAuthorization answer that is not (bba{ss}) refuses."""
        for signature, body in (("b", [True]), ("(sba{ss})", [("yes", False, {})]), ("(bb)", [(True, True)])):
            d = self.queries.polkit_allows(CALLER, "org.openvswitch.ovsdb.modify", False)
            self.bus.answer(self.bus.call(), BUS_DAEMON, "s", [POLKIT_OWNER])
            self.bus.answer(self.bus.call(), POLKIT_OWNER, signature, body)
            self.assertIs(self.successResultOf(d), False, signature)


class OddIdentity(BusQueries):
    """A bus that describes every caller with the given credentials."""

    def __init__(self, credentials):
        self.answer = credentials

    def credentials(self, bus_name):
        return defer.succeed(self.answer)


class AuthorizerIdentityTests(unittest.TestCase):
    """Whatever the bus side hands over, only a real uid and gids can let a caller in."""

    def test_odd_identities_refused_and_not_cached(self):
        """A uid that is a string, a bool, negative or too large, or gids that are not ids, refuse."""
        for odd in (Credentials("0"), Credentials(True), Credentials(-1), Credentials(2 ** 32),
                    Credentials(0, ["0"]), Credentials(0, [None]), (0, frozenset())):
            authorizer = Authorizer(Policy(allowed_uids={0}, polkit="no"), OddIdentity(odd))
            self.failureResultOf(authorizer.authorize(CALLER), AccessDenied)
            self.assertEqual(authorizer._credentials, {}, odd)

    def test_real_identity_allowed(self):
        """uid 0 as an int is still root."""
        authorizer = Authorizer(Policy(allowed_uids={0}, polkit="no"), OddIdentity(Credentials(0, [0])))
        self.successResultOf(authorizer.authorize(CALLER))

# A bus that lets anyone send anything to anyone, unrequested replies included, and eavesdrop.
PERMISSIVE_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""

# The peers below are raw D-Bus clients (messages encoded by ovsdbus.bus.wire, parsed by
# txdbus), run as separate processes.
PEER = r"""
import binascii, os, select, socket, struct, sys
from txdbus import message
from ovsdbus.bus import wire as dbuswire

BUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
SERVICE = ("org.openvswitch.ovsdb", "/org/openvswitch/ovsdb")
POLKIT = ("org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority")


class Peer:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""
        self.serial = 0
        uid = binascii.hexlify(str(os.getuid()).encode())
        self.sock.sendall(b"\0AUTH EXTERNAL " + uid + b"\r\n")
        while b"\r\n" not in self.buf:
            self.recv()
        line, _, self.buf = self.buf.partition(b"\r\n")
        assert line.startswith(b"OK"), line
        self.sock.sendall(b"BEGIN\r\n")
        self.name = self.wait(self.call(*BUS, "Hello")).body[0]

    def recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise SystemExit("the bus hung up")
        self.buf += data

    def call(self, destination, path, interface, member, signature="", body=(), send=True):
        self.serial += 1
        raw = dbuswire.encode_message(1, self.serial, {dbuswire.PATH: path, dbuswire.INTERFACE: interface,
                                                      dbuswire.MEMBER: member, dbuswire.DESTINATION: destination},
                                      signature, body)
        if send:
            self.sock.sendall(raw)
        return self.serial if send else (self.serial, raw)

    def reply(self, call, signature, body):
        self.serial += 1
        self.sock.sendall(dbuswire.method_return(self.serial, call.serial, call.sender, signature, body))

    def pending(self):
        return len(self.buf) >= 16 or bool(select.select([self.sock], [], [], 0)[0])

    def message(self):
        while len(self.buf) < 16:
            self.recv()
        body_length, _, fields_length = struct.unpack_from("<III", self.buf, 4)
        total = 16 + fields_length + (-fields_length % 8) + body_length
        while len(self.buf) < total:
            self.recv()
        raw, self.buf = self.buf[:total], self.buf[total:]
        return message.parseMessage(raw, [])

    def wait(self, serial):
        while True:
            m = self.message()
            if getattr(m, "reply_serial", None) == serial:
                return m

    def watch(self, rule):
        self.wait(self.call(*BUS, "AddMatch", "s", [rule]))


def outcome(reply):
    return "ok" if reply._messageType == 2 else reply.error_name
"""

# Each try uses a new connection (a new caller, whose credentials nobody has cached), learns
# the service's current serial from the reply to a Ping, then sends CreateBridge and right
# behind it method returns to the next serials, saying "uid 0".  Prints one line per try: "ok"
# or the D-Bus error name of the reply to CreateBridge.
FORGE_CREDENTIALS = PEER + r"""
path, tries, prefix, guesses = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for n in range(tries):
    peer = Peer(path)
    pong = peer.wait(peer.call(SERVICE[0], SERVICE[1], "org.freedesktop.DBus.Peer", "Ping"))
    serial, raw = peer.call(SERVICE[0], SERVICE[1], SERVICE[0], "CreateBridge", "s", ["%s%d" % (prefix, n)],
                            send=False)
    forged = b"".join(
        dbuswire.method_return(1000 + i, pong.serial + i, pong.sender, "a{sv}",
                               [{"UnixUserID": ("u", 0), "UnixGroupIDs": ("au", [0])}])
        for i in range(1, guesses + 1))
    peer.sock.sendall(raw + forged)
    print(outcome(peer.wait(serial)), flush=True)
    peer.sock.close()
"""

# For each try (a new connection): learns the service's serial from a Ping, sends CreateBridge,
# then until the reply comes, keeps sending "authorized" answers of CheckAuthorization's shape
# to the serials of the service's next calls but the first (that one asks the bus daemon who
# the caller is, and answering it with the wrong shape would only make the call fail).
FORGE_POLKIT = PEER + r"""
path, tries, prefix, guesses = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for n in range(tries):
    peer = Peer(path)
    pong = peer.wait(peer.call(SERVICE[0], SERVICE[1], "org.freedesktop.DBus.Peer", "Ping"))
    serial = peer.call(SERVICE[0], SERVICE[1], SERVICE[0], "CreateBridge", "s", ["%s%d" % (prefix, n)])
    forged = b"".join(dbuswire.method_return(1000 + i, pong.serial + i, pong.sender, "(bba{ss})",
                                             [(True, False, {})])
                      for i in range(2, guesses + 2))
    reply = None
    while reply is None:
        peer.sock.sendall(forged)
        select.select([peer.sock], [], [], 0.01)
        while reply is None and peer.pending():
            m = peer.message()
            if getattr(m, "reply_serial", None) == serial:
                reply = m
    print(outcome(reply), flush=True)
    peer.sock.close()
"""

# polkit that says "not authorized" to everything, and says it only after it has seen someone
# else's reply to the call go by (or after 5 s), so that a forged reply comes first.
FAKE_POLKIT = PEER + r"""
peer = Peer(sys.argv[1])
assert peer.wait(peer.call(*BUS, "RequestName", "su", [POLKIT[0], 4])).body == [1]
peer.watch("type='method_return',eavesdrop='true'")
print("ready", flush=True)
peer.sock.settimeout(None)
waiting = {}
while True:
    if waiting and not peer.pending():
        select.select([peer.sock], [], [], 5)
        if not peer.pending():
            for call in waiting.values():
                peer.reply(call, "(bba{ss})", [(False, False, {})])
            waiting.clear()
            continue
    m = peer.message()
    if m._messageType == 1 and m.member == "CheckAuthorization":
        waiting[m.serial] = m
    elif m._messageType == 2 and m.sender != peer.name and m.reply_serial in waiting:
        peer.reply(waiting.pop(m.reply_serial), "(bba{ss})", [(False, False, {})])
"""


def python_env():
    """``os.environ`` with this checkout first on PYTHONPATH."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def as_nobody(argv):
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + argv


def readable_libraries(directory):
    """Copies of the ovsdbus and txdbus packages in ``directory``/lib, which nobody can read
    (the checkout and the virtualenv may be in a directory only root can enter)."""
    import txdbus

    import ovsdbus
    lib = os.path.join(directory, "lib")
    for package in (ovsdbus, txdbus):
        source = os.path.dirname(package.__file__)
        shutil.copytree(source, os.path.join(lib, os.path.basename(source)),
                        ignore=shutil.ignore_patterns("__pycache__"))
    for where, _dirs, files in os.walk(lib):
        os.chmod(where, 0o755)
        for name in files:
            os.chmod(os.path.join(where, name), 0o644)
    return lib


def run_peer(script, lib, *args):
    """Run a peer script as nobody, with the packages in ``lib``, until it ends; its output lines."""
    argv = as_nobody([sys.executable, "-c", script] + [str(a) for a in args])
    env = dict(os.environ, PYTHONPATH=lib)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    if done.returncode != 0:
        raise AssertionError("the forger failed (%d): %s" % (done.returncode, done.stderr.strip()))
    return done.stdout.split()


class ForgedReplyTests(unittest.TestCase):
    """A real stack on a permissive bus: ovsdb-server, dbus-daemon and ``twistd -n ovsdbus`` as
    root; the forgers run as nobody."""

    def start_stack(self, *service_args):
        require_programs("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "dbus-daemon", "busctl", "setpriv")
        if os.getuid() != 0:
            message = "needs root, to run the service as root and the forger as nobody"
            if os.environ.get("CI"):
                raise AssertionError(message + " (CI is set: real-stack tests must run)")
            raise unittest.SkipTest(message)
        self.directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        os.chmod(self.directory, 0o755)   # nobody must reach the bus socket
        self.lib = readable_libraries(self.directory)
        config = Path(self.directory, "bus.conf")
        config.write_text(PERMISSIVE_CONFIG.format(socket=Path(self.directory, "bus.sock")))
        self.ovsdb = sandbox.OvsdbServer(self.directory).start()
        self.addCleanup(self.ovsdb.stop)
        self.bus = sandbox.DbusDaemon(self.directory, config_file=config)
        self.bus.start()
        self.addCleanup(self.bus.stop)
        self.service = sandbox.ServiceProcess(self.ovsdb.remote, self.bus.address, service_args,
                                              directory=self.directory)
        self.service.start()
        self.addCleanup(self.service.stop, remove=False)

    def start_fake_polkit(self):
        """A polkit (as root) that refuses everything; stopped (by pid) at cleanup."""
        process = subprocess.Popen([sys.executable, "-c", FAKE_POLKIT, str(self.bus.socket_path)],
                                   stdout=subprocess.PIPE, text=True, env=python_env())

        def stop():
            process.terminate()
            process.wait(10)
            process.stdout.close()
        self.addCleanup(stop)
        self.assertEqual(process.stdout.readline().strip(), "ready")

    def assert_nothing_written(self, prefix, tries, least, most):
        """No bridge named ``prefix...`` exists, the service runs, and it logged (once per call)
        dropping forged replies to ``least`` to ``most`` of its calls per try."""
        self.assertEqual([b for b in self.ovsdb.vsctl("list-br").split() if b.startswith(prefix)], [])
        self.assertTrue(self.service.running)
        # The forgeries did reach the service (the bus forwarded them).
        log = Path(self.service.log_file).read_text()
        self.assertTrue(tries * least <= log.count("dropped a forged method return") <= tries * most, log)
        self.assertNotIn("Traceback", log)

    def test_forged_credentials_never_grant_a_write(self):
        """A caller running as nobody that answers the service's GetConnectionCredentials itself
        ("uid 0") before the bus daemon does is still refused, try after try, and no bridge appears."""
        self.start_stack("--polkit", "no")
        tries = 10
        results = run_peer(FORGE_CREDENTIALS, self.lib, self.bus.socket_path, tries, "forged", 8)
        self.assertEqual(results, ["org.freedesktop.DBus.Error.AccessDenied"] * tries,
                         sandbox.log_tail(self.service.log_file))
        self.assert_nothing_written("forged", tries, 1, 1)

    def test_forged_polkit_answer_never_grants_a_write(self):
        """A caller running as nobody that answers polkit's CheckAuthorization about itself
        ("authorized") before polkit does is still refused, try after try, and no bridge appears."""
        self.start_stack("--polkit", "yes")
        self.start_fake_polkit()
        tries = 10
        results = run_peer(FORGE_POLKIT, self.lib, self.bus.socket_path, tries, "pkforged", 6)
        self.assertEqual(results, ["org.freedesktop.DBus.Error.AccessDenied"] * tries,
                         sandbox.log_tail(self.service.log_file))
        # At least polkit's answer was forged; maybe also NameHasOwner's and GetNameOwner's.
        self.assert_nothing_written("pkforged", tries, 1, 3)
