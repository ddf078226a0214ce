"""ovsdbus.openflow.ofctl: ovs-ofctl run as a child process, its input on stdin, a timeout that kills it."""

import json
import os
import shutil
import signal
import sys
import tempfile

from twisted.internet import defer, error, reactor
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from ovsdbus.openflow.ofctl import GRACE, Ofctl, find_program
from ovsdbus.vswitch.errors import SwitchUnavailable

# A stand-in for ovs-ofctl: prints its arguments and its input, and exits with the status the
# input's first line asks for.
FAKE = """#!{python}
import json, sys
data = sys.stdin.read()
sys.stdout.write(json.dumps({{"argv": sys.argv[1:], "stdin": data}}))
sys.stderr.write("to stderr\\n")
first = data.splitlines()[0] if data else ""
sys.exit(int(first[len("exit="):]) if first.startswith("exit=") else 0)
"""


class SpawnTests(TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="ofctl-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.program = os.path.join(self.directory, "ovs-ofctl")
        with open(self.program, "w") as f:
            f.write(FAKE.format(python=sys.executable))
        os.chmod(self.program, 0o755)

    @defer.inlineCallbacks
    def test_input_on_stdin_and_argv_without_shell(self):
        """The flows reach the program on stdin, the arguments as they are (no shell: a ';' or a
        space stays inside its argument), with --timeout first; stdout and stderr come back."""
        result = yield Ofctl(reactor, self.program, timeout=4).run(["add-flows", "br0; rm -rf x", "-"],
                                                                     "priority=1,actions=drop\n")
        self.assertTrue(result.ok)
        seen = json.loads(result.stdout)
        self.assertEqual(seen["argv"], ["--timeout=4", "add-flows", "br0; rm -rf x", "-"])
        self.assertEqual(seen["stdin"], "priority=1,actions=drop\n")
        self.assertEqual(result.stderr, "to stderr\n")

    @defer.inlineCallbacks
    def test_exit_status(self):
        """A failing run gives its status and output, no exception (the caller names the error)."""
        result = yield Ofctl(reactor, self.program).run(["x"], "exit=3\n")
        self.assertEqual(result.status, 3)
        self.assertFalse(result.ok)

    def test_missing_program_is_switch_unavailable(self):
        """A program that cannot be run is SwitchUnavailable, not a crash."""
        d = Ofctl(reactor, os.path.join(self.directory, "absent")).run(["x"])
        return self.assertFailure(d, SwitchUnavailable)

    def test_find_program_looks_beyond_path(self):
        """ovs-ofctl is found in the directories given and, without them on PATH, in sbin."""
        self.assertEqual(find_program("ovs-ofctl", path=self.directory), self.program)
        self.assertIsNone(find_program("surely-no-such-program-here", path=self.directory))


class _FakeTransport:
    def __init__(self):
        self.signals = []

    def signalProcess(self, name):
        self.signals.append(name)

    def write(self, data):
        pass

    def closeStdin(self):
        pass


class _FakeReactor(Clock):
    """A Clock that records spawnProcess instead of running anything."""

    def __init__(self):
        super().__init__()
        self.spawned = []

    def spawnProcess(self, protocol, executable, args, env=None):
        transport = _FakeTransport()
        protocol.makeConnection(transport)
        self.spawned.append((protocol, args, transport))
        return transport


class TimeoutTests(TestCase):
    def test_stuck_run_is_killed_and_switch_unavailable(self):
        """A run still going GRACE seconds after ovs-ofctl's own --timeout is killed with SIGKILL,
        and the caller gets SwitchUnavailable saying how long it waited; no call is left behind."""
        fake = _FakeReactor()
        d = Ofctl(fake, "/bin/ovs-ofctl", timeout=3).run(["dump-flows", "br0"])
        protocol, args, transport = fake.spawned[0]
        self.assertEqual(args[:2], ["/bin/ovs-ofctl", "--timeout=3"])
        fake.advance(3 + GRACE - 0.1)
        self.assertEqual(transport.signals, [])
        fake.advance(0.2)
        self.assertEqual(transport.signals, [signal.SIGKILL])
        protocol.processEnded(Failure(error.ProcessTerminated(signal=signal.SIGKILL)))
        failure = self.failureResultOf(d, SwitchUnavailable)
        self.assertIn("did not answer within 3 s", failure.getErrorMessage())
        self.assertEqual(fake.getDelayedCalls(), [])

    def test_finished_run_cancels_the_timer(self):
        """A run that ends in time leaves no delayed call."""
        fake = _FakeReactor()
        d = Ofctl(fake, "/bin/ovs-ofctl", timeout=3).run(["dump-flows", "br0"])
        protocol, _, _ = fake.spawned[0]
        protocol.outReceived(b"out")
        protocol.processEnded(Failure(error.ProcessDone(0)))
        self.assertEqual(self.successResultOf(d).stdout, "out")
        self.assertEqual(fake.getDelayedCalls(), [])
