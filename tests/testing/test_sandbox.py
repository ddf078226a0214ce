"""Tests for ovsdbus.testing.sandbox: the real daemons that other tests and ``./dev sandbox`` run.

These start real ovsdb-server, ovs-vswitchd and dbus-daemon processes in private temporary
directories.  Without those programs installed they are skipped, except under CI (``CI`` set),
where a missing program is a failure.
"""

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from twisted.trial.unittest import TestCase

from ovsdbus.testing import sandbox
from tests.realstack import require_programs

OVS = ("ovsdb-tool", "ovsdb-server", "ovs-vsctl")


def need_bus_client(testcase):
    """Like :func:`need`, for any one of the programs name_has_owner can use."""
    if len(sandbox.missing_binaries("busctl", "dbus-send", "gdbus")) == 3:
        require_programs("busctl")


def private_directory(testcase):
    """A new short temporary directory (socket paths are limited to 107 bytes), removed afterwards."""
    directory = tempfile.mkdtemp(prefix="ovsdbus-test-")
    testcase.addCleanup(shutil.rmtree, directory, ignore_errors=True)
    return Path(directory)


def poll(predicate, timeout=10.0):
    """Return once ``predicate()`` is true; fail the test if it is not within ``timeout`` seconds."""
    return sandbox.wait_until(predicate, timeout, getattr(predicate, "__name__", "a condition"))


class MissingBinariesTests(TestCase):
    """missing_binaries tells which programs are absent."""

    def test_reports_only_missing(self):
        """A test can tell "ovsdb-server is not installed" from "everything is there"."""
        missing = sandbox.missing_binaries("sh", "no-such-program-ovsdbus")
        self.assertEqual(missing, ["no-such-program-ovsdbus"])
        self.assertEqual(sandbox.missing_binaries("sh"), [])


class OvsdbServerTests(TestCase):
    """A private ovsdb-server that can be stopped, changed offline and started again."""

    def setUp(self):
        require_programs(*OVS)
        self.directory = private_directory(self)
        self.server = sandbox.OvsdbServer(self.directory)
        self.addCleanup(self.server.stop)

    def test_start_creates_database_in_directory(self):
        """Starting makes a database with the root row, listening only inside the sandbox directory."""
        self.server.start()
        self.assertEqual(self.server.remote, f"unix:{self.directory / 'db.sock'}")
        self.assertTrue(self.server.socket_path.exists())
        self.assertTrue((self.directory / "conf.db").exists())
        self.assertEqual(len(self.server.vsctl("--columns=_uuid", "list", "Open_vSwitch").split("\n\n")), 1)
        self.assertEqual(self.server.vsctl("list-br"), "")

    def test_restart_keeps_data_and_offline_changes(self):
        """A bridge made before a restart survives it, and one written to the file while stopped appears."""
        self.server.start()
        self.server.vsctl("add-br", "before")
        first_pid = self.server.pid
        self.server.stop()
        self.assertFalse(sandbox.pid_alive(first_pid))
        self.assertFalse(self.server.socket_path.exists())

        result = self.server.tool_transact(
            [
                "Open_vSwitch",
                {
                    "op": "insert",
                    "table": "Interface",
                    "row": {"name": "offline", "type": "internal"},
                    "uuid-name": "iface",
                },
                {
                    "op": "insert",
                    "table": "Port",
                    "row": {"name": "offline", "interfaces": ["named-uuid", "iface"]},
                    "uuid-name": "port",
                },
                {
                    "op": "insert",
                    "table": "Bridge",
                    "row": {"name": "offline", "ports": ["named-uuid", "port"]},
                    "uuid-name": "bridge",
                },
                {
                    "op": "mutate",
                    "table": "Open_vSwitch",
                    "where": [],
                    "mutations": [["bridges", "insert", ["set", [["named-uuid", "bridge"]]]]],
                },
            ]
        )
        self.assertEqual(len(result), 4)

        self.server.start()
        self.assertNotEqual(self.server.pid, first_pid)
        self.assertEqual(self.server.vsctl("list-br").split(), ["before", "offline"])
        self.assertEqual(self.server.vsctl("get", "Interface", "offline", "type").strip(), "internal")

    def test_tool_transact_reports_failed_operation(self):
        """An offline change the database rejects is an error, not a silent no-op."""
        self.server.start()
        self.server.stop()
        with self.assertRaises(sandbox.SandboxError) as caught:
            self.server.tool_transact(
                json.dumps(["Open_vSwitch", {"op": "select", "table": "Nope", "where": []}])
            )
        self.assertIn("No table named Nope", str(caught.exception))

    def test_tool_transact_refuses_while_running(self):
        """Changing the file under a running server is refused with a clear message."""
        self.server.start()
        with self.assertRaises(sandbox.SandboxError) as caught:
            self.server.tool_transact(["Open_vSwitch"])
        self.assertIn("stop ovsdb-server", str(caught.exception))

    def test_vsctl_failure_carries_stderr(self):
        """A failing ovs-vsctl command raises with ovs-vsctl's own explanation."""
        self.server.start()
        with self.assertRaises(sandbox.SandboxError) as caught:
            self.server.vsctl("del-br", "nosuchbridge")
        self.assertIn("no bridge named nosuchbridge", str(caught.exception))

    def test_start_twice_and_stop_twice(self):
        """Starting a running server is an error; stopping a stopped one is harmless."""
        self.server.start()
        self.assertRaises(sandbox.SandboxError, self.server.start)
        self.server.stop()
        self.server.stop()
        self.assertFalse(self.server.running)

    def test_failed_start_shows_log(self):
        """When ovsdb-server cannot start, the error quotes its log instead of only an exit status."""
        (self.directory / "conf.db").write_text("not a database\n")
        with self.assertRaises(sandbox.SandboxError) as caught:
            self.server.start()
        message = str(caught.exception)
        self.assertIn("ovsdb-server", message)
        self.assertIn("last lines of", message)
        self.assertFalse(self.server.running)

    def test_long_directory_refused(self):
        """A directory too deep for a UNIX socket path is refused up front with advice."""
        deep = self.directory / ("d" * 120)
        with self.assertRaises(sandbox.SandboxError) as caught:
            sandbox.OvsdbServer(deep).start()
        self.assertIn("shorter directory", str(caught.exception))

    def test_missing_schema(self):
        """A wrong schema path is named in the error."""
        server = sandbox.OvsdbServer(self.directory / "other", schema=self.directory / "nope.ovsschema")
        with self.assertRaises(sandbox.SandboxError) as caught:
            server.start()
        self.assertIn("nope.ovsschema", str(caught.exception))


class VswitchdTests(TestCase):
    """A private ovs-vswitchd that applies bridges without touching the machine's network."""

    def setUp(self):
        require_programs(*OVS, "ovs-vswitchd", "ovs-appctl")
        self.directory = private_directory(self)
        self.server = sandbox.OvsdbServer(self.directory).start()
        self.addCleanup(self.server.stop)

    def test_bridge_is_applied_in_memory(self):
        """A bridge and a port get OpenFlow port numbers, and no network device appears on the machine."""
        name = f"sbx{os.getpid() % 100000}"
        self.assertFalse(Path("/sys/class/net", name).exists())
        vswitchd = sandbox.Vswitchd(self.directory, self.server).start()
        self.addCleanup(vswitchd.stop)
        self.server.vsctl("add-br", name, "--", "add-port", name, f"{name}p")

        def applied():
            return self.server.vsctl("get", "Interface", f"{name}p", "ofport").strip() not in ("[]", "-1")

        poll(applied)
        self.assertEqual(self.server.vsctl("get", "Interface", name, "ofport").strip(), "65534")
        self.assertIn(name, vswitchd.appctl("dpif/show"))
        self.assertFalse(Path("/sys/class/net", name).exists())

        pid = vswitchd.pid
        vswitchd.stop()
        self.assertFalse(sandbox.pid_alive(pid))


class DbusDaemonTests(TestCase):
    """A private message bus whose address clients can use."""

    def setUp(self):
        require_programs("dbus-daemon")
        need_bus_client(self)
        self.directory = private_directory(self)
        self.bus = sandbox.DbusDaemon(self.directory).start()
        self.addCleanup(self.bus.stop)

    def test_address_is_private_and_usable(self):
        """The bus listens inside the sandbox directory and answers; nobody owns the service name yet."""
        self.assertTrue(self.bus.address.startswith(f"unix:path={self.directory / 'bus.sock'}"))
        self.assertTrue(self.bus.name_has_owner("org.freedesktop.DBus"))
        self.assertFalse(self.bus.name_has_owner(sandbox.BUS_NAME))
        self.assertEqual(self.bus.environ()["DBUS_SESSION_BUS_ADDRESS"], self.bus.address)

    def test_stop(self):
        """After stop the daemon is gone and the bus cannot be reached."""
        pid, address = self.bus.pid, self.bus.address
        self.bus.stop()
        self.assertFalse(sandbox.pid_alive(pid))
        self.assertIsNone(self.bus.address)
        self.assertRaises(sandbox.SandboxError, sandbox.name_has_owner, address, "org.freedesktop.DBus")

    def test_restart(self):
        """A stopped bus can be started again in the same directory."""
        self.bus.stop()
        self.bus.start()
        self.assertTrue(self.bus.name_has_owner("org.freedesktop.DBus"))


# A stand-in for the service: takes the well-known name with txdbus, as ovsdbus does.
_OWN_NAME = textwrap.dedent(
    """
    import sys
    from twisted.internet import reactor
    from txdbus import client

    def fail(failure):
        print(failure.getTraceback(), flush=True)
        reactor.stop()

    def own(connection):
        d = connection.requestBusName(sys.argv[2])
        d.addCallback(lambda _: print("owned", sys.argv[2], flush=True))
        return d

    d = client.connect(reactor, sys.argv[1])
    d.addCallback(own)
    d.addErrback(fail)
    reactor.run()
    """
)


class ServiceProcessTests(TestCase):
    """The machinery that starts the service and waits for it, tried on stand-ins."""

    def setUp(self):
        require_programs("dbus-daemon")
        need_bus_client(self)
        self.directory = private_directory(self)
        self.bus = sandbox.DbusDaemon(self.directory).start()
        self.addCleanup(self.bus.stop)

    def test_ready_when_name_owned(self):
        """wait_ready returns once a txdbus client owns org.openvswitch.ovsdb on the private bus."""
        service = sandbox.ServiceProcess(
            "unix:/nonexistent",
            self.bus.address,
            directory=self.directory,
            argv=[sys.executable, "-c", _OWN_NAME, self.bus.address, sandbox.BUS_NAME],
        )
        self.addCleanup(service.stop)
        service.start()
        self.assertTrue(self.bus.name_has_owner(sandbox.BUS_NAME))
        self.assertIn(service.stop(), (0, -signal.SIGTERM))
        self.assertFalse(service.running)
        poll(lambda: not self.bus.name_has_owner(sandbox.BUS_NAME))

    def test_early_exit_shows_log(self):
        """A service that dies at startup is reported at once, with the last lines it printed."""
        service = sandbox.ServiceProcess(
            "unix:/nonexistent",
            self.bus.address,
            directory=self.directory,
            timeout=60,
            argv=[sys.executable, "-c", "print('bad option --frob'); raise SystemExit(3)"],
        )
        self.addCleanup(service.stop)
        started = time.monotonic()
        with self.assertRaises(sandbox.SandboxError) as caught:
            service.start()
        self.assertLess(time.monotonic() - started, 30)
        self.assertIn("status 3", str(caught.exception))
        self.assertIn("bad option --frob", str(caught.exception))

    def test_timeout_shows_log(self):
        """A service that never takes its name fails after the deadline and is not left running."""
        service = sandbox.ServiceProcess(
            "unix:/nonexistent",
            self.bus.address,
            directory=self.directory,
            timeout=1,
            argv=[sys.executable, "-c", "import time; print('stuck', flush=True); time.sleep(60)"],
        )
        self.addCleanup(service.stop)
        with self.assertRaises(sandbox.SandboxError) as caught:
            service.start()
        self.assertIn("did not own", str(caught.exception))
        self.assertIn("stuck", str(caught.exception))
        self.assertFalse(service.running)

    def test_default_command(self):
        """By default the service runs as `twistd -n ovsdbus --ovsdb REMOTE --bus BUS` in this Python."""
        service = sandbox.ServiceProcess("unix:/x/db.sock", "unix:path=/x/bus", ["--verbose"])
        self.addCleanup(service.stop)
        self.assertEqual(service.argv[0], sys.executable)
        self.assertEqual(
            service.argv[3:],
            [
                "--nodaemon",
                "--pidfile=",
                "ovsdbus",
                "--ovsdb",
                "unix:/x/db.sock",
                "--bus",
                "unix:path=/x/bus",
                "--verbose",
            ],
        )


class RealServiceTests(TestCase):
    """The service itself, started the way the sandbox and the integration tests start it."""

    def setUp(self):
        require_programs(*OVS, "dbus-daemon")
        need_bus_client(self)
        self.directory = private_directory(self)
        self.server = sandbox.OvsdbServer(self.directory).start()
        self.addCleanup(self.server.stop)
        self.bus = sandbox.DbusDaemon(self.directory).start()
        self.addCleanup(self.bus.stop)

    def test_service_takes_its_name(self):
        """`twistd -n ovsdbus --ovsdb REMOTE --bus ADDRESS` serves org.openvswitch.ovsdb on that bus."""
        service = sandbox.ServiceProcess(self.server.remote, self.bus.address, directory=self.directory)
        self.addCleanup(service.stop)
        service.start()
        self.assertTrue(self.bus.name_has_owner(sandbox.BUS_NAME))
        service.stop()
        self.assertFalse(service.running)


def _read_until(process, marker, timeout=30.0):
    """Read ``process``'s stdout until it contains ``marker``; return everything read."""
    fd = process.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    data = b""
    try:
        while marker.encode() not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise AssertionError(f"no {marker!r} within {timeout} s; got:\n{data.decode()}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"exited ({process.wait()}) before {marker!r}; got:\n{data.decode()}")
            data += chunk
    finally:
        selector.close()
    return data.decode()


def _stop_leftovers(tmpdir):
    """Stop daemons whose pidfiles remain under ``tmpdir`` (only after a failed test)."""
    for pidfile in Path(tmpdir).glob("*/*.pid"):
        text = pidfile.read_text().strip()
        if text.isdigit():
            sandbox.stop_pid(int(text))


class MainTests(TestCase):
    """``python -m ovsdbus.testing.sandbox``, the newcomer's ``./dev sandbox``."""

    def setUp(self):
        require_programs(*OVS, "ovs-vswitchd", "dbus-daemon")
        need_bus_client(self)
        # The sandbox makes its directory under TMPDIR: one of ours, so nothing can escape.
        self.tmpdir = private_directory(self)
        self.addCleanup(_stop_leftovers, self.tmpdir)

    def run_until_stopped(self, signum):
        process = subprocess.Popen(
            [sys.executable, "-m", "ovsdbus.testing.sandbox", "--no-service"],
            env=dict(os.environ, TMPDIR=str(self.tmpdir)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

        def kill():
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()

        self.addCleanup(kill)
        text = _read_until(process, "Ctrl-C stops everything")
        directory = Path(text.split("Sandbox directory:")[1].split()[0])
        self.assertEqual(directory.parent, self.tmpdir)
        pids = [int((directory / f).read_text()) for f in ("ovsdb.pid", "vswitchd.pid", "dbus.pid")]
        self.assertTrue(all(sandbox.pid_alive(pid) for pid in pids))
        process.send_signal(signum)
        self.assertEqual(process.wait(30), 0)
        self.assertFalse([pid for pid in pids if sandbox.pid_alive(pid)])
        self.assertFalse(directory.exists())
        return text

    def test_ctrl_c_stops_everything(self):
        """The sandbox prints ready-to-paste commands, and Ctrl-C leaves no daemon and no directory behind."""
        text = self.run_until_stopped(signal.SIGINT)
        self.assertIn("CreateBridge s br0", text)
        self.assertIn("ovs-vsctl --db=unix:", text)
        self.assertIn("gdbus monitor", text)

    def test_sigterm_stops_everything(self):
        """Stopping the sandbox with kill (SIGTERM) cleans up like Ctrl-C does."""
        self.run_until_stopped(signal.SIGTERM)
