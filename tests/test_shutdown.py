"""How the ovsdbus process ends: a requested stop exits 0, a lost bus exits 1.

At system shutdown the service and dbus-daemon get SIGTERM at the same moment, so the bus may
go away while the service is already stopping; that must still be a clean stop (status 0, no
error logged), while a bus lost during normal running exits 1 so that systemd restarts it.
"""

import os
import signal

from twisted.internet import defer
from twisted.internet.error import ReactorNotRunning
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import TestCase

from ovsdbus.tap import ProcessExit
from tests.realstack import RealStack, poll_until

#: How often the simultaneous SIGTERM is repeated: the outcome depends on which event the
#: service sees first, so one run may miss the bad order.
SIMULTANEOUS_RUNS = 4


class FakeReactor:
    """The parts of a running reactor :class:`ProcessExit` uses; ``stop`` fails when called
    twice, as the real one does."""

    def __init__(self, running=True):
        self.running = running
        self.stopped = False
        self.when_running = []
        self.thread_calls = []
        self.triggers = []

    def stop(self):
        if self.stopped:
            raise ReactorNotRunning("Can't stop reactor that isn't running.")
        self.stopped = True

    def callWhenRunning(self, f, *args):
        self.when_running.append((f, args))

    def callFromThread(self, f, *args):
        self.thread_calls.append((f, args))

    def addSystemEventTrigger(self, phase, event, f, *args):
        self.triggers.append((phase, event, f, args))

    def run_thread_calls(self):
        calls, self.thread_calls = self.thread_calls, []
        for f, args in calls:
            f(*args)

    def shut_down(self):
        for phase, event, f, args in self.triggers:
            if (phase, event) == ("after", "shutdown"):
                f(*args)


class ProcessExitTests(TestCase):
    """The decisions, with a fake reactor: which status, what is logged, one reactor.stop()."""

    def setUp(self):
        self.reactor = FakeReactor()
        self.exits = []
        self.process_exit = ProcessExit(self.reactor, exit=self.exits.append)
        self.process_exit.install()

    def test_requested_stop_exits_0(self):
        """SIGTERM stops the reactor and the process ends with twistd's own status 0 (no forced exit)."""
        with capturedLogs() as events:
            self.process_exit.request_stop(signal.SIGTERM, None)
            self.reactor.run_thread_calls()
        self.assertTrue(self.reactor.stopped)
        self.reactor.shut_down()
        self.assertEqual(self.exits, [])
        self.assertEqual([e for e in events if e["log_level"] >= LogLevel.warn], [])

    def test_bus_lost_exits_1(self):
        """Losing the bus while running logs an error naming the reason and exits with status 1."""
        with capturedLogs() as events:
            self.process_exit.on_bus_lost("lost the D-Bus connection: Connection was closed cleanly.")
        self.assertTrue(self.reactor.stopped)
        errors = [e for e in events if e["log_level"] == LogLevel.error]
        self.assertEqual(len(errors), 1)
        self.assertIn("Connection was closed cleanly", errors[0]["reason"])
        self.reactor.shut_down()
        self.assertEqual(self.exits, [1])

    def test_bus_lost_after_sigterm(self):
        """The bus going away after SIGTERM arrived but before the reactor stopped (system shutdown) is no
        error: one reactor.stop(), nothing logged above info, status 0."""
        with capturedLogs() as events:
            self.process_exit.request_stop(signal.SIGTERM, None)
            self.process_exit.on_bus_lost("lost the D-Bus connection: Connection was closed cleanly.")
            self.reactor.run_thread_calls()   # would raise ReactorNotRunning on a second stop()
        self.assertTrue(self.reactor.stopped)
        self.assertEqual([e for e in events if e["log_level"] >= LogLevel.warn], [])
        self.reactor.shut_down()
        self.assertEqual(self.exits, [])

    def test_sigterm_after_bus_lost(self):
        """A SIGTERM arriving while the service stops after losing the bus makes it a requested stop:
        status 0, and no second reactor.stop()."""
        self.process_exit.on_bus_lost("lost the D-Bus connection: Connection was closed cleanly.")
        self.process_exit.request_stop(signal.SIGTERM, None)
        self.reactor.run_thread_calls()
        self.reactor.shut_down()
        self.assertEqual(self.exits, [])

    def test_stopped_by_someone_else(self):
        """When something else already stopped the reactor, losing the bus does not raise."""
        self.reactor.stop()
        self.process_exit.on_bus_lost("lost the D-Bus connection: gone")
        self.reactor.shut_down()
        self.assertEqual(self.exits, [1])

    def test_bus_lost_before_running(self):
        """A bus lost before the reactor runs stops it as soon as it runs."""
        reactor = FakeReactor(running=False)
        process_exit = ProcessExit(reactor, exit=self.exits.append)
        process_exit.on_bus_lost("D-Bus: no such bus")
        self.assertFalse(reactor.stopped)
        for f, args in reactor.when_running:
            f(*args)
        self.assertTrue(reactor.stopped)

    def test_signals_taken_when_running(self):
        """Once the reactor runs (after Twisted installed its own handlers), SIGTERM goes to ovsdbus's handler,
        which stops the reactor for an exit with status 0; before that the handlers are left alone."""
        previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
        self.addCleanup(lambda: [signal.signal(number, handler) for number, handler in previous.items()])
        self.assertEqual(signal.getsignal(signal.SIGTERM), previous[signal.SIGTERM])
        for f, args in self.reactor.when_running:
            f(*args)
        handler = signal.getsignal(signal.SIGTERM)
        self.assertNotEqual(handler, previous[signal.SIGTERM])
        handler(signal.SIGTERM, None)
        self.assertFalse(self.reactor.stopped)   # a signal handler only hands over to the reactor
        self.reactor.run_thread_calls()
        self.assertTrue(self.reactor.stopped)
        self.reactor.shut_down()
        self.assertEqual(self.exits, [])


class RealShutdownTests(TestCase):
    """``twistd -n ovsdbus`` with a real ovsdb-server and a private dbus-daemon, stopped by signals."""

    def setUp(self):
        self.stack = RealStack()
        self.addCleanup(self.stack.stop)

    def start(self):
        """Start the bus and the service (and ovsdb-server the first time); the service process."""
        self.stack.start(ovsdb=not self.stack.ovsdb.running)
        return self.stack.service.process

    @defer.inlineCallbacks
    def wait_exit(self, process):
        yield poll_until(lambda: process.poll() is not None, 15, what="the service to exit")
        return process.returncode

    def assertCleanLog(self, position):
        """The service logged no error, critical message or traceback after ``position``."""
        with open(os.path.join(self.stack.directory, "service.log"), encoding="utf-8", errors="replace") as f:
            f.seek(position)
            log = f.read()
        for bad in ("#critical]", "#error]", "Traceback", "ReactorNotRunning", "Unhandled"):
            self.assertNotIn(bad, log)

    @defer.inlineCallbacks
    def test_sigterm_with_bus(self):
        """SIGTERM to the service and to dbus-daemon at the same moment (system shutdown): the service exits
        with status 0 and logs no error, every time."""
        for run in range(SIMULTANEOUS_RUNS):
            position = self.stack.log_position()
            process = self.start()
            os.kill(process.pid, signal.SIGTERM)
            os.kill(self.stack.dbus.pid, signal.SIGTERM)
            status = yield self.wait_exit(process)
            self.assertEqual(status, 0, "run %d: %s" % (run, self.stack.service_log()))
            self.assertCleanLog(position)
            self.stack.dbus.stop()

    @defer.inlineCallbacks
    def test_sigterm(self):
        """SIGTERM alone (systemctl stop) exits with status 0, not killed by the signal, and logs no error."""
        process = self.start()
        os.kill(process.pid, signal.SIGTERM)
        status = yield self.wait_exit(process)
        self.assertEqual(status, 0, self.stack.service_log())
        self.assertCleanLog(0)

    @defer.inlineCallbacks
    def test_bus_lost(self):
        """The bus going away on its own still exits with status 1 (so systemd restarts the service), with an
        error saying the D-Bus connection was lost."""
        process = self.start()
        os.kill(self.stack.dbus.pid, signal.SIGTERM)
        status = yield self.wait_exit(process)
        self.assertEqual(status, 1, self.stack.service_log())
        self.assertRegex(self.stack.service_log(), r"#error\] lost the D-Bus connection")
