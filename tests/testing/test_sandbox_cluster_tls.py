"""The sandbox's cluster and TLS set-ups (``./dev sandbox --cluster`` / ``--tls``), with real daemons.

Without the programs installed these are skipped, except under CI, where that is a failure.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from twisted.trial.unittest import TestCase

from ovsdbus.api import BUS_NAME, INTERFACE, OBJECT_PATH
from ovsdbus.testing import sandbox
from tests.realstack import require_programs

STACK = ("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovs-appctl", "dbus-daemon", "busctl")


def busctl(sb, *args):
    """``busctl --address=BUS ARGS`` against the sandbox's bus; its stdout."""
    return sandbox._run([sandbox.find_binary("busctl"), "--address=" + sb.dbus.address, *args])


def properties(sb):
    """(Connected, ClusterMember, Leader) of the sandbox's service, as busctl prints them."""
    out = busctl(sb, "get-property", BUS_NAME, OBJECT_PATH, INTERFACE, "Connected", "ClusterMember", "Leader")
    return tuple(out.split("\n")[:3])


class SandboxClusterTests(TestCase):
    """``Sandbox(cluster=True)``: three ovsdb-servers in one Raft cluster standing for the one server."""

    def setUp(self):
        require_programs(*STACK)
        self.directory = Path(tempfile.mkdtemp(prefix="ovsdbus-test-"))
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)

    def test_cluster_sandbox(self):
        """The service is given the three members, is connected to the leader, and what it creates is
        seen by ovs-vsctl through all three; the examples name cluster/status; stop stops every member
        by pid and a new start of the same directory brings the same cluster back."""
        sb = sandbox.Sandbox(self.directory, vswitchd=False, cluster=True)
        self.addCleanup(sb.stop)
        sb.start()
        members = sb.ovsdb.members
        self.assertEqual(sb.service_remote, ",".join("unix:%s/%s.sock" % (self.directory, n) for n in "abc"))
        self.assertTrue(sb.ovsdb.formed())
        leader = sb.ovsdb.leader()
        sandbox.wait_until(lambda: properties(sb) == ("b true", 's "%s"' % leader.remote, "b true"), 10,
                           "the service to be on the leader")
        busctl(sb, "call", BUS_NAME, OBJECT_PATH, INTERFACE, "CreateBridge", "s", "br0")
        self.assertEqual(sb.ovsdb.vsctl("list-br").split(), ["br0"])
        self.assertIn("cluster/status Open_vSwitch", sb.examples())
        pids = [m.pid for m in members]
        sb.stop()
        self.assertFalse(any(sandbox.pid_alive(pid) for pid in pids))
        again = sandbox.OvsdbCluster(self.directory)
        self.addCleanup(again.stop)
        again.start()
        self.assertEqual(again.vsctl("list-br").split(), ["br0"])


class SandboxTlsTests(TestCase):
    """``Sandbox(tls=True)``: certificates made at start, ovsdb-server on pssl:, the service on ssl:."""

    def setUp(self):
        require_programs(*STACK, "openssl")
        self.directory = Path(tempfile.mkdtemp(prefix="ovsdbus-test-"))
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)

    def test_tls_sandbox(self):
        """The service connects over ssl: with the client certificate; ovs-vsctl over ssl: with the same
        files sees its bridge; without a client certificate ovs-vsctl is refused."""
        sb = sandbox.Sandbox(self.directory, vswitchd=False, tls=True)
        self.addCleanup(sb.stop)
        sb.start()
        self.assertRegex(sb.service_remote, r"^ssl:127\.0\.0\.1:\d+$")
        self.assertTrue(all(os.path.isfile(path) for path in sb.tls))
        sandbox.wait_until(lambda: properties(sb)[:2] == ("b true", 's "%s"' % sb.service_remote), 10,
                           "the service to connect over ssl:")
        busctl(sb, "call", BUS_NAME, OBJECT_PATH, INTERFACE, "CreateBridge", "s", "br-tls")
        vsctl = [sandbox.find_binary("ovs-vsctl"), "--db=" + sb.service_remote, "--timeout=5"]
        env = sb.ovsdb._ovs_env()
        self.assertEqual(sandbox._run(vsctl + sb.tls.client_args() + ["list-br"], env=env).split(), ["br-tls"])
        self.assertIn(" ".join(sb.tls.client_args()), sb.examples())
        plain = subprocess.run(vsctl + ["list-br"], env=env, capture_output=True, text=True, timeout=20)
        self.assertNotEqual(plain.returncode, 0)


class SandboxOptionsTests(TestCase):
    """``python -m ovsdbus.testing.sandbox`` options."""

    def test_cluster_and_tls_together_refused(self):
        """--cluster with --tls is a usage error (exit status 2), before anything starts."""
        with self.assertRaises(SystemExit) as caught:
            sandbox.main(["--cluster", "--tls"])
        self.assertEqual(caught.exception.code, 2)
