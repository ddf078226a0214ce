"""Access control on a bus configured like the system bus, with the policy file we ship.

The service runs as root; a client runs as ``nobody`` (``setpriv``).  Mutating calls from
nobody are refused with AccessDenied and change nothing; reads work; root's calls work; a
group given with ``--allow-group`` lets its members in.
"""

import os
import shutil
import subprocess
import tempfile
import unittest as pyunittest
from pathlib import Path

from twisted.trial import unittest

from ovsdbus.api import BUS_NAME, INTERFACE, OBJECT_PATH
from ovsdbus.testing import sandbox
from tests.realstack import require_programs

POLICY_FILE = Path(__file__).resolve().parent.parent / "debian" / "dbus" / "org.openvswitch.ovsdb.conf"

# The parts of Debian's system.conf that matter here: nobody may own names or call methods
# unless a policy file allows it.
SYSTEM_LIKE_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"""

PROGRAMS = ("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovsdb-client", "dbus-daemon", "busctl", "setpriv")


def require_root_and_programs():
    require_programs(*PROGRAMS)
    if os.getuid() != 0:
        message = "needs root, to run the service as root and a client as nobody"
        if os.environ.get("CI"):
            raise AssertionError(message + " (CI is set: real-stack tests must run)")
        raise pyunittest.SkipTest(message)


class AccessTests(unittest.TestCase):
    """One stack per test class (started on first use, stopped in tearDownClass or at exit)."""

    # nobody's own group is nogroup; "users" (a Debian base group) is the one let in.
    service_args = ("--polkit", "no", "--allow-group", "users")
    stack = None

    @classmethod
    def start_stack(cls):
        require_root_and_programs()
        directory = tempfile.mkdtemp(prefix="ovsdbus-")
        os.chmod(directory, 0o755)   # nobody must reach the bus socket
        config = Path(directory, "system.conf")
        config.write_text(SYSTEM_LIKE_CONFIG.format(socket=Path(directory, "bus.sock"), policy=POLICY_FILE))
        ovsdb = sandbox.OvsdbServer(directory).start()
        bus = sandbox.DbusDaemon(directory, config_file=config)
        service = None
        try:
            bus.start()
            service = sandbox.ServiceProcess(ovsdb.remote, bus.address, cls.service_args, directory=directory)
            service.start()
        except BaseException:
            for c in (service, bus, ovsdb):
                if c is not None:
                    c.stop()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        cls.stack = (directory, ovsdb, bus, service)

    @classmethod
    def tearDownClass(cls):
        if cls.stack is not None:
            directory, ovsdb, bus, service = cls.stack
            cls.stack = None
            service.stop(remove=False)
            bus.stop()
            ovsdb.stop()
            shutil.rmtree(directory, ignore_errors=True)

    def setUp(self):
        if type(self).stack is None:
            type(self).start_stack()
            # trial has no tearDownClass: stop when the process ends at the latest.
            import atexit
            atexit.register(type(self).tearDownClass)
        self.directory, self.ovsdb, self.bus, self.service = type(self).stack

    def busctl(self, method, signature="", *args, user=None, groups=None):
        """Call a method with busctl, as root or as ``user``; return (returncode, output)."""
        argv = ["busctl", "--address=" + self.bus.address, "call", BUS_NAME, OBJECT_PATH, INTERFACE, method]
        if signature:
            argv += [signature, *args]
        if user is not None:
            prefix = ["setpriv", "--reuid=" + user, "--regid=nogroup"]
            prefix += ["--groups=" + groups] if groups else ["--clear-groups"]
            argv = prefix + argv
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return done.returncode, (done.stdout + done.stderr).strip()

    def dump(self):
        return subprocess.run(["ovsdb-client", "dump", self.ovsdb.remote, "Open_vSwitch"],
                              capture_output=True, text=True, check=True).stdout

    def test_nobody_cannot_change_the_switch(self):
        """A caller running as nobody gets AccessDenied for every mutating method, and OVSDB is unchanged."""
        self.ovsdb.vsctl("--may-exist", "add-br", "keep0")
        self.ovsdb.vsctl("--may-exist", "add-port", "keep0", "kp0")
        before = self.dump()
        for method, sig, args in (("CreateBridge", "s", ["evil0"]), ("DeleteBridge", "s", ["keep0"]),
                                  ("AddPort", "ss", ["keep0", "evilp"]), ("DeletePort", "ss", ["keep0", "kp0"])):
            code, out = self.busctl(method, sig, *args, user="nobody")
            self.assertNotEqual(code, 0, method)
            self.assertIn("Access denied", out, method)
        self.assertEqual(self.dump(), before)

    def test_nobody_can_read(self):
        """Reads stay open to everyone: nobody can list bridges and ports and ask whether one exists."""
        self.ovsdb.vsctl("--may-exist", "add-br", "seen0")
        self.ovsdb.vsctl("--may-exist", "add-port", "seen0", "sp0")
        code, out = self.busctl("ListBridges", user="nobody")
        self.assertEqual(code, 0, out)
        self.assertIn('"seen0"', out)
        self.assertEqual(self.busctl("BridgeExists", "s", "seen0", user="nobody"), (0, "b true"))
        self.assertEqual(self.busctl("ListBridgePorts", "s", "seen0", user="nobody"), (0, 'as 1 "sp0"'))

    def test_root_can_change_the_switch(self):
        """root's calls work through the same bus and policy."""
        self.assertEqual(self.busctl("CreateBridge", "s", "root0")[0], 0)
        self.assertEqual(self.busctl("AddPort", "ss", "root0", "rp0")[0], 0)
        self.assertIn("rp0", self.ovsdb.vsctl("list-ports", "root0"))
        self.assertEqual(self.busctl("DeleteBridge", "s", "root0")[0], 0)
        self.assertNotIn("root0", self.ovsdb.vsctl("list-br"))

    def test_allowed_group_member_can_change_the_switch(self):
        """A member of the --allow-group group may change the switch without being root."""
        gid = subprocess.run(["getent", "group", "users"], capture_output=True, text=True,
                             check=True).stdout.split(":")[2]
        code, out = self.busctl("CreateBridge", "s", "grp0", user="nobody", groups=gid)
        self.assertEqual(code, 0, out)
        self.assertIn("grp0", self.ovsdb.vsctl("list-br"))
        self.busctl("DeleteBridge", "s", "grp0")
