"""Running ``ovs-ofctl`` as a child process of the reactor.

:class:`Ofctl` builds the argument vector (never through a shell), hands the input (flows, one a
line) to the child's stdin, collects stdout and stderr, and kills the child when it has not
finished within the timeout, so a stuck ovs-vswitchd can never hold a caller for longer.
"""

import math
import os
import shutil
import signal

from twisted.internet import defer, protocol
from twisted.logger import Logger

from ovsdbus.vswitch.errors import SwitchUnavailable

log = Logger()

#: Where ``ovs-ofctl`` is looked for after ``$PATH`` (a service's PATH may lack sbin).
EXTRA_PATH = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")

#: Seconds an ``ovs-ofctl`` run may take by default.
DEFAULT_TIMEOUT = 10.0

#: Seconds past its own ``--timeout`` before a still running ovs-ofctl is killed.
GRACE = 2.0

#: OVS's run directory when $OVS_RUNDIR is not set (Debian's openvswitch-switch).
OVS_RUNDIR = "/var/run/openvswitch"


def default_rundir():
    """Where ovs-vswitchd puts its bridges' management sockets: $OVS_RUNDIR, else :data:`OVS_RUNDIR`."""
    return os.environ.get("OVS_RUNDIR") or OVS_RUNDIR


def find_program(name="ovs-ofctl", path=None):
    """The absolute path of ``name`` on ``path`` (default ``$PATH``) or in :data:`EXTRA_PATH`; None if absent."""
    search = path if path is not None else os.environ.get("PATH", "")
    return shutil.which(name, path=os.pathsep.join([search, *EXTRA_PATH]))


class Result:
    """What a finished ``ovs-ofctl`` run gave: its exit ``status`` (None when killed by a signal),
    and its ``stdout`` and ``stderr`` as text."""

    def __init__(self, status, stdout, stderr):
        self.status = status
        self.stdout = stdout
        self.stderr = stderr

    @property
    def ok(self):
        """Whether it exited with status 0."""
        return self.status == 0

    def __repr__(self):
        return "Result(%r, %r, %r)" % (self.status, self.stdout[:200], self.stderr[:200])


class _Collector(protocol.ProcessProtocol):
    """Writes the input, collects the output, fires ``done`` with a :class:`Result`."""

    def __init__(self, stdin_bytes):
        self.stdin_bytes = stdin_bytes
        self.out = []
        self.err = []
        self.done = defer.Deferred()

    def connectionMade(self):
        if self.stdin_bytes:
            self.transport.write(self.stdin_bytes)
        self.transport.closeStdin()

    def outReceived(self, data):
        self.out.append(data)

    def errReceived(self, data):
        self.err.append(data)

    def processEnded(self, reason):
        status = getattr(reason.value, "exitCode", None)
        result = Result(status, b"".join(self.out).decode("utf-8", "replace"),
                        b"".join(self.err).decode("utf-8", "replace"))
        done, self.done = self.done, None
        if done is not None:
            done.callback(result)


class Ofctl:
    """Runs ``ovs-ofctl`` from ``reactor`` (``IReactorProcess`` and ``IReactorTime``).

    :param program: path of ``ovs-ofctl`` (default: :func:`find_program`).
    :param timeout: seconds a run may take: ovs-ofctl is given ``--timeout`` (it then ends itself
        with SIGALRM), and is killed (SIGKILL) if it still runs :data:`GRACE` seconds later.
    :param env: the child's environment (default: this process's).
    """

    def __init__(self, reactor, program=None, timeout=DEFAULT_TIMEOUT, env=None):
        self.reactor = reactor
        self.program = program
        self.timeout = timeout
        self.env = env

    def _program(self):
        program = self.program or find_program()
        if program is None:
            raise SwitchUnavailable("ovs-ofctl is not installed (looked on PATH and in %s)" % ", ".join(EXTRA_PATH))
        # Checked here: older Twisted reports a failed exec only as the child's output.
        if not os.access(program, os.X_OK):
            raise SwitchUnavailable("cannot run %s" % program)
        return program

    def argv(self, args):
        """The full argument vector for ``ovs-ofctl ARGS``."""
        return [self._program(), "--timeout=%d" % max(1, math.ceil(self.timeout)), *args]

    def run(self, args, stdin=""):
        """Run ``ovs-ofctl ARGS`` with ``stdin`` (text) as its input; a Deferred :class:`Result`.

        Fails with :class:`SwitchUnavailable` when it does not finish within the timeout (it is
        killed then) and when it cannot be started at all.
        """
        try:
            argv = self.argv(args)
        except SwitchUnavailable:
            return defer.fail()
        collector = _Collector(stdin.encode("utf-8"))
        env = dict(os.environ) if self.env is None else dict(self.env)
        try:
            transport = self.reactor.spawnProcess(collector, argv[0], argv, env=env)
        except OSError as e:
            return defer.fail(SwitchUnavailable("cannot run %s: %s" % (argv[0], e)))
        done = collector.done
        result = defer.Deferred()
        timed_out = []

        def expire():
            timed_out.append(True)
            try:
                transport.signalProcess(signal.SIGKILL if hasattr(signal, "SIGKILL") else "KILL")
            except Exception:  # already gone
                pass

        timer = self.reactor.callLater(max(1, math.ceil(self.timeout)) + GRACE, expire)

        def finished(outcome):
            if timer.active():
                timer.cancel()
            if timed_out:
                result.errback(SwitchUnavailable(
                    "ovs-vswitchd did not answer within %g s (ovs-ofctl killed)" % self.timeout))
            else:
                result.callback(outcome)

        done.addCallback(finished)
        return result
