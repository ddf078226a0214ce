"""A real ovsdb-server in a private directory, for tests that compare the fake with reality.

Blocking (:mod:`subprocess`), meant for ``setUp``/``tearDown``.  Nothing touches the
system's Open vSwitch: every path the server writes is inside the given directory, the
OVS_*DIR variables point there too, and the server is stopped by its own pid.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import unittest

SCHEMA_PATH = "/usr/share/openvswitch/vswitch.ovsschema"
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
_DEADLINE = 10.0
_POLL = 0.01


def find_binary(name):
    """Full path of program ``name`` (also looked for in the sbin directories), or None."""
    path = os.pathsep.join([os.environ.get("PATH", "")] + list(_SBIN_DIRS))
    return shutil.which(name, path=path)


def require_binaries(*names):
    """Return {name: path} for the programs a test needs, or stop the test.

    A missing program skips the test on a developer machine, but fails it when the
    ``CI`` environment variable is set: CI must never skip real-stack tests.
    """
    found = {name: find_binary(name) for name in names}
    missing = sorted(name for name, path in found.items() if path is None)
    if missing:
        message = "not installed: %s" % ", ".join(missing)
        if os.environ.get("CI"):
            raise AssertionError(message + " (CI is set: real-stack tests must run, not skip)")
        raise unittest.SkipTest(message)
    return found


def _wait_until(predicate, what, deadline=_DEADLINE):
    end = time.monotonic() + deadline
    while not predicate():
        if time.monotonic() > end:
            raise RuntimeError("timed out waiting for %s" % what)
        time.sleep(_POLL)


class RealOvsdbServer:
    """ovsdb-server on a fresh Open_vSwitch database in ``directory`` (an existing directory).

    ``remote`` is its OVS remote (``unix:/abs/path``) and ``socket_path`` the socket.
    Keep ``directory`` short: a unix socket path is limited to 107 bytes.
    """

    def __init__(self, directory, schema_path=SCHEMA_PATH):
        self.directory = os.path.abspath(directory)
        self.schema_path = schema_path
        self.db_path = os.path.join(self.directory, "conf.db")
        self.socket_path = os.path.join(self.directory, "db.sock")
        self.log_path = os.path.join(self.directory, "ovsdb-server.log")
        self.remote = "unix:" + self.socket_path
        self.process = None

    @property
    def pid(self):
        """The server's process id, or None when it is not running."""
        return None if self.process is None else self.process.pid

    def _env(self):
        env = dict(os.environ)
        for var in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"):
            env[var] = self.directory
        return env

    def start(self):
        """Create the database and start the server; return once it accepts connections."""
        binaries = require_binaries("ovsdb-server", "ovsdb-tool")
        if len(self.socket_path) > 107:
            raise ValueError("socket path too long: %s" % self.socket_path)
        subprocess.run([binaries["ovsdb-tool"], "create", self.db_path, self.schema_path],
                       check=True, env=self._env(), capture_output=True, timeout=_DEADLINE)
        self.process = subprocess.Popen(
            [binaries["ovsdb-server"], self.db_path,
             "--remote=punix:" + self.socket_path,
             "--unixctl=" + os.path.join(self.directory, "ovsdb-server.ctl"),
             "--pidfile=" + os.path.join(self.directory, "ovsdb-server.pid"),
             "--log-file=" + self.log_path, "-vconsole:off"],
            env=self._env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.directory)
        try:
            _wait_until(self._accepts, "ovsdb-server to listen on %s" % self.socket_path)
        except Exception:
            self.stop()
            raise

    def _accepts(self):
        if self.process.poll() is not None:
            raise RuntimeError("ovsdb-server exited with status %s; see %s"
                               % (self.process.returncode, self.log_path))
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(self.socket_path)
        except OSError:
            return False
        finally:
            probe.close()
        return True

    def stop(self):
        """Stop the server (SIGTERM to its pid, SIGKILL if it lingers) and reap it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_DEADLINE)

    def vsctl(self, *args):
        """Run ``ovs-vsctl --db=<remote> --no-wait ARGS...``; return its standard output."""
        binary = require_binaries("ovs-vsctl")["ovs-vsctl"]
        result = subprocess.run([binary, "--db=" + self.remote, "--no-wait"] + list(args),
                                check=True, env=self._env(), capture_output=True, text=True,
                                timeout=_DEADLINE)
        return result.stdout
