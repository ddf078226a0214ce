"""Real ovsdb-server, ovs-vswitchd, dbus-daemon and ovsdbus, run in a private directory.

Everything here is blocking (plain :mod:`subprocess`), so it serves test ``setUp``/``tearDown``
code and scripts alike.  Nothing touches the system's Open vSwitch or the system bus:

- every path a daemon writes (database, sockets, pidfiles, logs) is an absolute path inside the
  given directory, and ``OVS_RUNDIR``/``OVS_LOGDIR``/``OVS_DBDIR`` point there too, so that no
  Open vSwitch tool falls back to ``/var/run/openvswitch``;
- every ``ovs-vsctl`` call names its database with ``--db``;
- ovs-vswitchd runs without the kernel datapath (``--disable-system``) and, by default, with
  Open vSwitch's in-memory "dummy" datapath and network devices (``--enable-dummy=override``, as
  Open vSwitch's own test suite does): bridges and ports are applied and get OpenFlow port numbers,
  but no network device appears on the machine;
- the bus is a private dbus-daemon listening on a socket in the directory;
- daemons are stopped by the pid each one wrote or printed, never by name.

Every start has a deadline and fails with :class:`SandboxError`, whose message ends with the tail
of the daemon's log.

Instead of one ovsdb-server, :class:`OvsdbCluster` runs a three-member Raft cluster of the
database (same interface: ``remote`` is the members' comma-separated list), and
:func:`make_pki` makes a CA and certificates with ``openssl`` so that an :class:`OvsdbServer`
also listens on ``pssl:``.

``python -m ovsdbus.testing.sandbox`` (:func:`main`; ``./dev sandbox``, with ``--cluster`` or
``--tls``) starts the whole stack in a temporary directory and prints commands to try it with.
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from ovsdbus.api import BUS_NAME, INTERFACE, OBJECT_PATH
from ovsdbus.vswitch import VSWITCH_SCHEMA_PATH

DEFAULT_SCHEMA = VSWITCH_SCHEMA_PATH
"""Where Debian's openvswitch-common installs the Open_vSwitch schema."""

DEFAULT_TIMEOUT = 15.0
"""Seconds any one start, stop or command may take before it is an error."""


# sun_path is 108 bytes on Linux, one of which is the terminating NUL.  ovsdb-server copes with
# longer paths, but dbus-daemon and Twisted clients do not, so we refuse them up front.
_MAX_SOCKET_PATH = 107

# Where daemons live when the PATH of an ordinary user does not include the sbin directories.
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")

_POLL_INTERVAL = 0.02


class SandboxError(RuntimeError):
    """A sandbox component failed to start, stop or run a command.

    It never crosses D-Bus, so it is not part of the :mod:`ovsdbus.ovsdb.errors` tree.
    """


def find_binary(name):
    """Return the absolute path of the executable ``name``, or ``None``.

    Looks in ``PATH`` first, then in the sbin directories, where Debian puts ovsdb-server and
    ovs-vswitchd and which an ordinary user's ``PATH`` often lacks.
    """
    found = shutil.which(name)
    if found is None:
        found = shutil.which(name, path=os.pathsep.join(_SBIN_DIRS))
    return found


def missing_binaries(*names):
    """Return the list of ``names`` that are not installed (empty when all are).

    Tests use it to decide between skipping (developer machine without the packages) and failing
    (under CI, where the packages must be there).
    """
    return [name for name in names if find_binary(name) is None]


def _require(name):
    path = find_binary(name)
    if path is None:
        raise SandboxError(f"{name} is not installed (on Debian: ./dev installs it, or see README.md)")
    return path


def log_tail(path, lines=25):
    """Return the last ``lines`` lines of the text file ``path``, or a note that it is missing."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"(no log at {path}: {e.strerror})"
    return "\n".join(text.splitlines()[-lines:])


def _with_log(message, log_file):
    return f"{message}\n--- last lines of {log_file} ---\n{log_tail(log_file)}"


def _run(argv, *, env=None, cwd=None, timeout=DEFAULT_TIMEOUT, log_file=None):
    """Run ``argv`` to completion; return its stdout, or raise SandboxError with its stderr."""
    try:
        done = subprocess.run(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        message = f"{shlex.join(argv)} did not finish within {timeout} s"
        raise SandboxError(_with_log(message, log_file) if log_file else message) from None
    if done.returncode != 0:
        message = f"{shlex.join(argv)} failed with exit status {done.returncode}:\n{done.stderr.strip()}"
        raise SandboxError(_with_log(message, log_file) if log_file else message)
    return done.stdout


def _process_state(pid):
    """Return the one-letter state of process ``pid`` from /proc, or ``None`` if there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3].decode()


def pid_alive(pid):
    """Tell whether process ``pid`` still runs.

    A daemon that detached is not our child, so we cannot reap it; once it exits it may stay a
    zombie if the machine's init does not reap (as in some containers).  A zombie counts as gone.
    """
    try:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
    except ChildProcessError:
        pass
    state = _process_state(pid)
    return state is not None and state not in ("Z", "X")


def wait_until(predicate, timeout, what):
    """Call ``predicate`` until it returns true, for at most ``timeout`` seconds.

    Returns the true value; raises SandboxError naming ``what`` when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise SandboxError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(_POLL_INTERVAL)


def stop_pid(pid, timeout=DEFAULT_TIMEOUT, name="process"):
    """Send SIGTERM to ``pid`` and wait for it to exit; SIGKILL it if it outlives ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        try:
            wait_until(lambda: not pid_alive(pid), timeout, f"{name} (pid {pid}) to exit")
            return
        except SandboxError:
            if sig == signal.SIGKILL:
                raise


def _check_socket_path(path):
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        raise SandboxError(
            f"socket path {path} is longer than {_MAX_SOCKET_PATH} bytes; use a shorter directory "
            "(for example one from tempfile.mkdtemp())"
        )


def _read_pidfile(path):
    try:
        text = Path(path).read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


class _Component:
    """Start/stop bookkeeping shared by the sandbox daemons; subclasses define ``_start``."""

    name = "component"

    def __init__(self, directory, timeout):
        self.directory = Path(directory).absolute()
        self.timeout = timeout
        self.pid = None

    @property
    def running(self):
        """True while the process this object started is alive."""
        return self.pid is not None and pid_alive(self.pid)

    def start(self):
        """Start the daemon; return ``self``.  Raises SandboxError if it is already running."""
        if self.running:
            raise SandboxError(f"{self.name} is already running (pid {self.pid})")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._start()
        return self

    def stop(self):
        """Stop the daemon by its pid and wait for it to exit; do nothing if it is not running."""
        if self.pid is not None:
            stop_pid(self.pid, self.timeout, self.name)
            self.pid = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def _ovs_env(self):
        env = dict(os.environ)
        for variable in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR"):
            env[variable] = str(self.directory)
        return env


class OvsdbServer(_Component):
    """An ovsdb-server serving a private ``conf.db`` on ``unix:DIRECTORY/db.sock``.

    The database is created from ``schema`` (default: the installed Open_vSwitch schema; any
    other schema, such as the tests' ``zoo.ovsschema``, gives an empty database of its own name).
    The database file survives :meth:`stop`, so a test can stop the server, change the file with
    :meth:`tool_transact` and :meth:`start` it again on the same data.
    """

    name = "ovsdb-server"

    def __init__(self, directory, schema=None, timeout=DEFAULT_TIMEOUT, tls=None):
        super().__init__(directory, timeout)
        self.schema = Path(schema or DEFAULT_SCHEMA)
        self.tls = tls
        """:class:`PkiFiles`: with them, the server also listens on ``pssl:`` (see :attr:`ssl_remote`)."""
        self.ssl_port = None
        self.db_path = self.directory / "conf.db"
        self.socket_path = self.directory / "db.sock"
        self.pidfile = self.directory / "ovsdb.pid"
        self.ctl_path = self.directory / "ovsdb.ctl"
        self.log_file = self.directory / "log"
        self.remote = f"unix:{self.socket_path}"
        """The OVS-syntax remote clients connect to: ``unix:/abs/dir/db.sock``."""

    @property
    def ssl_remote(self):
        """``ssl:127.0.0.1:PORT`` of the ``pssl:`` listener (with ``tls``, while running), else ``None``."""
        return f"ssl:127.0.0.1:{self.ssl_port}" if self.ssl_port else None

    @property
    def database(self):
        """The name of the database the schema describes (``Open_vSwitch`` for the default one,
        which :meth:`start` initialises like ``ovs-vsctl init``; other databases start empty)."""
        try:
            with open(self.schema, encoding="utf-8") as f:
                return json.load(f)["name"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SandboxError(f"cannot read the database name from {self.schema}: {e}") from None

    def _start(self):
        _check_socket_path(self.socket_path)
        _check_socket_path(self.ctl_path)
        env = self._ovs_env()
        if not self.db_path.exists():
            if not self.schema.is_file():
                raise SandboxError(
                    f"no Open vSwitch schema at {self.schema} (openvswitch-common installs it)"
                )
            _run([_require("ovsdb-tool"), "create", str(self.db_path), str(self.schema)], env=env)
        tls_args = []
        if self.tls is not None:
            self.ssl_port = self.ssl_port or free_tcp_port()   # the same port again after a restart
            tls_args = [f"--remote=pssl:{self.ssl_port}:127.0.0.1", f"--private-key={self.tls.server_key}",
                        f"--certificate={self.tls.server_cert}", f"--ca-cert={self.tls.ca_cert}"]
        # --detach returns once the server listens and has written its pidfile.
        _run(
            [
                _require("ovsdb-server"),
                str(self.db_path),
                f"--remote=punix:{self.socket_path}",
                *tls_args,
                f"--pidfile={self.pidfile}",
                "--detach",
                f"--unixctl={self.ctl_path}",
                f"--log-file={self.log_file}",
            ],
            env=env,
            timeout=self.timeout,
            log_file=self.log_file,
        )
        self.pid = _read_pidfile(self.pidfile)
        if self.pid is None:
            raise SandboxError(_with_log(f"ovsdb-server wrote no pid to {self.pidfile}", self.log_file))
        try:
            wait_until(self.socket_path.exists, self.timeout, f"{self.socket_path} to appear")
            if self.ssl_port:
                wait_until(lambda: accepts(self.ssl_port), self.timeout, f"pssl: on port {self.ssl_port}")
            if self.database == "Open_vSwitch":
                self.vsctl("init")
        except SandboxError as e:
            self.stop()
            raise SandboxError(_with_log(str(e), self.log_file)) from None

    def vsctl(self, *args, timeout=None):
        """Run ``ovs-vsctl --db=REMOTE --no-wait ARGS`` and return its stdout.

        ``--no-wait`` means it does not wait for ovs-vswitchd to apply the change.
        Raises SandboxError carrying ovs-vsctl's stderr when it fails.
        """
        timeout = self.timeout if timeout is None else timeout
        argv = [
            _require("ovs-vsctl"),
            f"--db={self.remote}",
            "--no-wait",
            f"--timeout={max(1, int(timeout))}",
        ]
        argv += [str(a) for a in args]
        return _run(argv, env=self._ovs_env(), timeout=timeout + 5)

    def tool_transact(self, operations, check=True):
        """Apply a transaction to the database file with ``ovsdb-tool transact``, server stopped.

        ``operations`` is the RFC 7047 transact params, ``["Open_vSwitch", op, ...]``, as a JSON
        string or as Python values.  Returns the decoded result list.  ovsdb-tool exits 0 even when
        an operation fails, so with ``check`` an ``"error"`` in any result raises SandboxError.
        """
        if self.running:
            raise SandboxError("stop ovsdb-server before changing its database file offline")
        if not isinstance(operations, str):
            operations = json.dumps(operations)
        out = _run([_require("ovsdb-tool"), "transact", str(self.db_path), operations], env=self._ovs_env())
        result = json.loads(out)
        if check and any(isinstance(r, dict) and "error" in r for r in result):
            raise SandboxError(f"ovsdb-tool transact {operations} failed: {out.strip()}")
        return result


class ClusterMember(_Component):
    """One ovsdb-server of an :class:`OvsdbCluster`: ``DIRECTORY/NAME.db``, served to clients on
    ``unix:DIRECTORY/NAME.sock`` and to its peers on ``unix:DIRECTORY/NAME.raft``.

    The database file must exist (:class:`OvsdbCluster` makes it with ``ovsdb-tool``
    ``create-cluster``/``join-cluster``) and survives :meth:`stop`/:meth:`kill`.
    """

    def __init__(self, directory, name, timeout=DEFAULT_TIMEOUT):
        super().__init__(directory, timeout)
        self.name = f"ovsdb-server {name}"
        self.member_name = name
        self.db_path = self.directory / f"{name}.db"
        self.socket_path = self.directory / f"{name}.sock"
        self.raft = f"unix:{self.directory / name}.raft"
        self.pidfile = self.directory / f"{name}.pid"
        self.ctl_path = self.directory / f"{name}.ctl"
        self.log_file = self.directory / f"{name}.log"
        self.remote = f"unix:{self.socket_path}"
        """The member's client remote, ``unix:/abs/dir/NAME.sock``."""

    def _start(self):
        for path in (self.socket_path, self.ctl_path, self.directory / f"{self.member_name}.raft"):
            _check_socket_path(path)
        _run(
            [
                _require("ovsdb-server"),
                str(self.db_path),
                f"--remote=punix:{self.socket_path}",
                f"--pidfile={self.pidfile}",
                "--detach",
                f"--unixctl={self.ctl_path}",
                f"--log-file={self.log_file}",
            ],
            env=self._ovs_env(),
            timeout=self.timeout,
            log_file=self.log_file,
        )
        self.pid = _read_pidfile(self.pidfile)
        if self.pid is None:
            raise SandboxError(_with_log(f"{self.name} wrote no pid to {self.pidfile}", self.log_file))

    def kill(self):
        """SIGKILL the member (no goodbye to its peers or clients) and wait until it is gone."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            wait_until(lambda: not pid_alive(self.pid), self.timeout, f"{self.name} to die")
            self.pid = None

    def stop(self):
        """SIGCONT (in case a test froze it), then stop it as any daemon."""
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        super().stop()

    def status(self):
        """``ovs-appctl cluster/status`` as ``{"Role": ..., "Status": ..., ...}``; ``{}`` when it does not
        answer."""
        if not self.running:
            return {}
        argv = [_require("ovs-appctl"), "-t", str(self.ctl_path), "--timeout=5", "cluster/status", "Open_vSwitch"]
        try:
            out = _run(argv, env=self._ovs_env(), timeout=10)
        except SandboxError:
            return {}
        return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


class OvsdbCluster:
    """A three-member Raft cluster of the Open_vSwitch database, standing where an
    :class:`OvsdbServer` would: ``remote`` is the members' comma-separated list (as ``ovs-vsctl
    --db`` and ``twistd ovsdbus --ovsdb`` take it), :meth:`vsctl` goes through all of them.

    The first :meth:`start` creates the cluster (``ovsdb-tool create-cluster`` for the first
    member, ``join-cluster`` for the others), waits until every member has joined and runs
    ``ovs-vsctl init``.  The files survive :meth:`stop`, so a later :meth:`start` brings the same
    cluster back.  Members are in ``members`` and can be stopped, killed and started one by one.
    """

    name = "ovsdb cluster"

    def __init__(self, directory, schema=None, timeout=DEFAULT_TIMEOUT, names="abc"):
        self.directory = Path(directory).absolute()
        self.timeout = timeout
        self.schema = Path(schema or DEFAULT_SCHEMA)
        self.members = [ClusterMember(self.directory, name, timeout) for name in names]
        self.remote = ",".join(m.remote for m in self.members)
        """``unix:DIR/a.sock,unix:DIR/b.sock,unix:DIR/c.sock``."""

    @property
    def socket_path(self):
        """The first member's client socket."""
        return self.members[0].socket_path

    @property
    def running(self):
        """True while every member runs."""
        return all(m.running for m in self.members)

    def _ovs_env(self):
        return self.members[0]._ovs_env()

    def start(self):
        """Create the cluster if need be, start every member, wait until all have joined; return ``self``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        first, others = self.members[0], self.members[1:]
        create = not first.db_path.exists()
        if create:
            if not self.schema.is_file():
                raise SandboxError(f"no Open vSwitch schema at {self.schema} (openvswitch-common installs it)")
            tool = _require("ovsdb-tool")
            _run([tool, "create-cluster", str(first.db_path), str(self.schema), first.raft], env=self._ovs_env())
            for member in others:
                _run([tool, "join-cluster", str(member.db_path), "Open_vSwitch", member.raft, first.raft],
                     env=self._ovs_env())
        try:
            for member in self.members:
                if not member.running:
                    member.start()
            wait_until(self.formed, self.timeout * 2, "every member of the cluster to join")
            if create:
                self.vsctl("init")
        except BaseException:
            self.stop()
            raise
        return self

    def formed(self):
        """Whether every member runs as a member of the cluster (joined, with a leader)."""
        statuses = [m.status() for m in self.members]
        return (all(s.get("Status") == "cluster member" for s in statuses)
                and sum(s.get("Role") == "leader" for s in statuses) == 1)

    def leader(self):
        """The member that leads now, or ``None`` (none, or two during an election)."""
        leaders = [m for m in self.members if m.status().get("Role") == "leader"]
        return leaders[0] if len(leaders) == 1 else None

    def stop(self):
        """Stop every member that runs (by pid); the files stay."""
        errors = []
        for member in self.members:
            try:
                member.stop()
            except SandboxError as e:
                errors.append(str(e))
        if errors:
            raise SandboxError("; ".join(errors))

    def vsctl(self, *args, timeout=None):
        """``ovs-vsctl --db=ALL-MEMBERS --no-wait ARGS`` (it finds the leader); returns stdout."""
        timeout = self.timeout if timeout is None else timeout
        argv = [_require("ovs-vsctl"), f"--db={self.remote}", "--no-wait", f"--timeout={max(1, int(timeout))}"]
        return _run(argv + [str(a) for a in args], env=self._ovs_env(), timeout=timeout + 5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


_PKI_CONFIG = """\
[ req ]
distinguished_name = dn
[ dn ]
[ ca_ext ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
[ leaf_ext ]
basicConstraints = CA:false
"""


class PkiFiles(NamedTuple):
    """PEM files made by :func:`make_pki`: the CA's certificate, and a key and certificate each for
    ovsdb-server and for its client (ovsdbus, ovs-vsctl)."""

    ca_cert: str
    server_key: str
    server_cert: str
    client_key: str
    client_cert: str

    def client_args(self):
        """``--private-key KEY --certificate CERT --ca-cert CA``, as ``twistd ovsdbus`` and ``ovs-vsctl``
        take them."""
        return ["--private-key", self.client_key, "--certificate", self.client_cert, "--ca-cert", self.ca_cert]


def make_pki(directory, days=30):
    """Make a CA and a server and a client certificate it signs in ``DIRECTORY/pki`` with ``openssl``
    (elliptic-curve keys, valid for ``days``); return their :class:`PkiFiles`.

    Certificates are named as Open vSwitch names them (``CN=ovsdb-server id:...``): ovsdbus, like
    ovs-vsctl, checks the chain to the CA, not a host name.
    """
    openssl = _require("openssl")
    pki = Path(directory).absolute() / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    config = pki / "openssl.cnf"
    config.write_text(_PKI_CONFIG)
    files = PkiFiles(*(str(pki / name) for name in ("ca.pem", "server.key", "server.pem", "client.key",
                                                    "client.pem")))
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_key = str(pki / "ca.key")
    _run([openssl, "req", "-x509", *new_key, "-keyout", ca_key, "-out", files.ca_cert, "-days", str(days),
          "-subj", "/CN=ovsdbus sandbox CA", "-config", str(config), "-extensions", "ca_ext"], cwd=pki)
    for key, cert, subject in ((files.server_key, files.server_cert, "ovsdb-server id:sandbox"),
                               (files.client_key, files.client_cert, "ovsdbus id:sandbox")):
        csr = cert + ".csr"
        _run([openssl, "req", *new_key, "-keyout", key, "-out", csr, "-subj", "/CN=" + subject,
              "-config", str(config)], cwd=pki)
        _run([openssl, "x509", "-req", "-in", csr, "-CA", files.ca_cert, "-CAkey", ca_key, "-CAcreateserial",
              "-days", str(days), "-out", cert, "-extfile", str(config), "-extensions", "leaf_ext"], cwd=pki)
    return files


def free_tcp_port():
    """A TCP port of 127.0.0.1 that nothing listens on now (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accepts(port):
    """True if something accepts TCP connections on ``port`` of 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class FakeOvsdbServer(_Component):
    """The fake OVSDB of :mod:`ovsdbus.testing`, run as a program (``python -m ovsdbus.testing``),
    serving the database of ``schema`` on ``unix:DIRECTORY/db.sock``.

    It stands where an :class:`OvsdbServer` would (same ``remote``, ``socket_path``, ``start``/
    ``stop``), so that one test runs against either; its database lives in memory and is gone
    when it stops.  ``python`` defaults to the current interpreter; a checkout this module comes
    from goes first on ``PYTHONPATH``.
    """

    name = "fake ovsdb-server"

    def __init__(self, directory, schema=None, timeout=DEFAULT_TIMEOUT, python=None):
        super().__init__(directory, timeout)
        self.schema = Path(schema or DEFAULT_SCHEMA)
        self.socket_path = self.directory / "db.sock"
        self.pidfile = self.directory / "ovsdb.pid"
        self.log_file = self.directory / "log"
        self.python = python or sys.executable
        self.remote = f"unix:{self.socket_path}"
        """The OVS-syntax remote clients connect to: ``unix:/abs/dir/db.sock``."""
        self._process = None

    def _start(self):
        _check_socket_path(self.socket_path)
        if not self.schema.is_file():
            raise SandboxError(f"no schema at {self.schema}")
        self.socket_path.unlink(missing_ok=True)
        self.pidfile.unlink(missing_ok=True)
        env = dict(os.environ)
        root = _checkout_root()
        if root is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        argv = [self.python, "-m", "ovsdbus.testing", str(self.schema), "--unix", str(self.socket_path),
                "--pidfile", str(self.pidfile)]
        with open(self.log_file, "ab") as log:
            self._process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self._process.pid

        def listening():
            if self._process.poll() is not None:
                raise SandboxError(_with_log(f"{self.name} exited with status {self._process.returncode}",
                                             self.log_file))
            return self.pidfile.exists() and self.socket_path.exists()

        try:
            wait_until(listening, self.timeout, f"{self.name} to listen on {self.socket_path}")
        except SandboxError as e:
            self.stop()
            raise SandboxError(_with_log(str(e), self.log_file)) from None

    def stop(self):
        super().stop()
        if self._process is not None:
            self._process.poll()   # reap it
            self._process = None


class Vswitchd(_Component):
    """An ovs-vswitchd applying the configuration of a sandbox :class:`OvsdbServer`.

    ``datapath="dummy"`` (the default) replaces every datapath and network device type by Open
    vSwitch's in-memory dummies: bridges of any ``datapath_type`` and ports naming devices that do
    not exist are applied (``ofport`` set, ``cur_cfg`` follows ``next_cfg``) and nothing appears on
    the machine.  ``datapath="netdev"`` is the real userspace datapath: bridges must then be
    created with ``datapath_type=netdev``, and their internal ports become tap devices in the
    current network namespace (needs root and /dev/net/tun).  The kernel datapath is disabled in
    both, so the system's Open vSwitch is never touched.
    """

    name = "ovs-vswitchd"

    def __init__(self, directory, ovsdb, datapath="dummy", timeout=DEFAULT_TIMEOUT):
        super().__init__(directory, timeout)
        if datapath not in ("dummy", "netdev"):
            raise ValueError(f"datapath must be 'dummy' or 'netdev', not {datapath!r}")
        self.datapath = datapath
        self.remote = getattr(ovsdb, "remote", ovsdb)
        self.pidfile = self.directory / "vswitchd.pid"
        self.ctl_path = self.directory / "vswitchd.ctl"
        self.log_file = self.directory / "vswitchd.log"

    def _start(self):
        _check_socket_path(self.ctl_path)
        argv = [
            _require("ovs-vswitchd"),
            self.remote,
            "--detach",
            f"--pidfile={self.pidfile}",
            f"--unixctl={self.ctl_path}",
            f"--log-file={self.log_file}",
        ]
        if self.datapath == "dummy":
            # Must come before --disable-system: options act in order, and the dummy that
            # overrides "system" could not register once "system" is disallowed.
            argv.append("--enable-dummy=override")
        argv += ["--disable-system", "--disable-system-route"]
        _run(argv, env=self._ovs_env(), timeout=self.timeout, log_file=self.log_file)
        self.pid = _read_pidfile(self.pidfile)
        if self.pid is None:
            raise SandboxError(_with_log(f"ovs-vswitchd wrote no pid to {self.pidfile}", self.log_file))

    def appctl(self, *args):
        """Run ``ovs-appctl -t CTL ARGS`` against this ovs-vswitchd and return its stdout."""
        argv = [_require("ovs-appctl"), "-t", str(self.ctl_path), f"--timeout={max(1, int(self.timeout))}"]
        return _run(argv + [str(a) for a in args], env=self._ovs_env(), timeout=self.timeout + 5)


class DbusDaemon(_Component):
    """A private message bus listening on ``unix:path=DIRECTORY/bus.sock``.

    Uses the distribution's session bus configuration unless ``config_file`` names another;
    either way the listening address is forced into the directory.
    """

    name = "dbus-daemon"

    def __init__(self, directory, config_file=None, timeout=DEFAULT_TIMEOUT):
        super().__init__(directory, timeout)
        self.config_file = config_file
        self.socket_path = self.directory / "bus.sock"
        self.pidfile = self.directory / "dbus.pid"
        self.address = None
        """What dbus-daemon printed, e.g. ``unix:path=/abs/dir/bus.sock,guid=...``; None when stopped."""

    def _start(self):
        _check_socket_path(self.socket_path)
        # dbus-daemon refuses to listen on a path a previous run left behind.
        self.socket_path.unlink(missing_ok=True)
        config = f"--config-file={self.config_file}" if self.config_file else "--session"
        out = _run(
            [
                _require("dbus-daemon"),
                config,
                f"--address=unix:path={self.socket_path}",
                "--print-address=1",
                "--print-pid=1",
                "--fork",
                "--nopidfile",
            ],
            timeout=self.timeout,
        )
        lines = out.split()
        if len(lines) != 2 or not lines[1].isdigit():
            raise SandboxError(f"cannot read dbus-daemon's address and pid from {out!r}")
        self.address, self.pid = lines[0], int(lines[1])
        # For people looking at the directory; stop() uses self.pid.
        self.pidfile.write_text(f"{self.pid}\n")

    def stop(self):
        super().stop()
        self.address = None
        self.socket_path.unlink(missing_ok=True)
        self.pidfile.unlink(missing_ok=True)

    def environ(self):
        """Return a copy of ``os.environ`` where this bus is the session bus."""
        env = dict(os.environ)
        env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        return env

    def name_has_owner(self, name):
        """Ask the bus whether ``name`` is owned; see :func:`name_has_owner`."""
        return name_has_owner(self.address, name)


def name_has_owner(bus_address, name, timeout=5.0):
    """Ask the bus at ``bus_address`` (org.freedesktop.DBus.NameHasOwner) whether ``name`` is owned.

    Uses whichever of busctl (systemd), dbus-send (dbus-bin) or gdbus (libglib2.0-bin) is
    installed.  Raises SandboxError when none is, or when the bus cannot be asked.
    """
    dbus_args = ("org.freedesktop.DBus", "/org/freedesktop/DBus")
    method = "org.freedesktop.DBus.NameHasOwner"
    if busctl := find_binary("busctl"):
        argv = [busctl, f"--address={bus_address}", "call", *dbus_args, "org.freedesktop.DBus"]
        argv += ["NameHasOwner", "s", name]
    elif dbus_send := find_binary("dbus-send"):
        argv = [dbus_send, f"--bus={bus_address}", "--print-reply", f"--dest={dbus_args[0]}"]
        argv += [dbus_args[1], method, f"string:{name}"]
    elif gdbus := find_binary("gdbus"):
        argv = [gdbus, "call", "--address", bus_address, "--dest", dbus_args[0]]
        argv += ["--object-path", dbus_args[1], "--method", method, name]
    else:
        raise SandboxError("none of busctl, dbus-send or gdbus is installed")
    # The last word is the boolean: "b true", "boolean true" or "(true,)".
    words = _run(argv, timeout=timeout).split()
    return bool(words) and "true" in words[-1].lower()


def _checkout_root():
    """The source tree this module runs from, if it is a checkout with the twistd plugin file."""
    root = Path(__file__).resolve().parent.parent.parent
    if (root / "twisted" / "plugins" / "ovsdbus_plugin.py").is_file():
        return root
    return None


class ServiceProcess:
    """The ovsdbus service, ``twistd -n ovsdbus --ovsdb REMOTE --bus BUS``, as a child process.

    It runs under ``python`` (default: the current interpreter) with its output in
    ``DIRECTORY/service.log``.  When this module comes from a checkout, that checkout goes first
    on ``PYTHONPATH`` so twistd finds its ``twisted/plugins/ovsdbus_plugin.py``.  ``directory``
    defaults to a new temporary directory, removed by :meth:`stop`.  ``argv`` replaces the
    whole command (for testing this class with a stand-in service).
    """

    name = "ovsdbus"

    def __init__(
        self,
        ovsdb_remote,
        bus_address,
        extra_args=(),
        *,
        directory=None,
        timeout=DEFAULT_TIMEOUT,
        python=None,
        argv=None,
    ):
        self.ovsdb_remote = ovsdb_remote
        self.bus_address = bus_address
        self.extra_args = tuple(extra_args)
        self.timeout = timeout
        self.python = python or sys.executable
        self._own_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="ovsdbus-service-")).absolute()
        self.log_file = self.directory / "service.log"
        self.argv = list(argv) if argv is not None else self._default_argv()
        self.process = None

    def _default_argv(self):
        return [
            self.python,
            "-c",
            "from twisted.scripts.twistd import run; run()",
            "--nodaemon",
            "--pidfile=",
            "ovsdbus",
            "--ovsdb",
            self.ovsdb_remote,
            "--bus",
            self.bus_address,
            *self.extra_args,
        ]

    @property
    def pid(self):
        return self.process.pid if self.process else None

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self, wait=True):
        """Start the service; with ``wait``, also :meth:`wait_ready`.  Returns ``self``."""
        if self.running:
            raise SandboxError(f"ovsdbus is already running (pid {self.pid})")
        self.directory.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        root = _checkout_root()
        if root is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        with open(self.log_file, "ab") as log:
            log.write(f"--- {shlex.join(self.argv)}\n".encode())
            log.flush()
            # A session of its own: a Ctrl-C meant for the sandbox does not reach it directly.
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            try:
                self.wait_ready()
            except SandboxError:
                self.stop(remove=False)
                raise
        return self

    def wait_ready(self, timeout=None):
        """Wait until the service owns ``org.openvswitch.ovsdb`` on its bus.

        Raises SandboxError, with the tail of the service's log, if the service exits first or
        the deadline passes.
        """
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            if self.process is None:
                raise SandboxError("ovsdbus was not started")
            status = self.process.poll()
            if status is not None:
                raise SandboxError(
                    _with_log(f"ovsdbus exited with status {status} before owning {BUS_NAME}", self.log_file)
                )
            try:
                if name_has_owner(self.bus_address, BUS_NAME):
                    return
                last_error = ""
            except SandboxError as e:
                last_error = f" (last check: {e})"
            if time.monotonic() >= deadline:
                raise SandboxError(
                    _with_log(f"ovsdbus did not own {BUS_NAME} within {timeout} s{last_error}", self.log_file)
                )
            time.sleep(_POLL_INTERVAL * 5)

    def stop(self, remove=True):
        """SIGTERM the service, wait for it (SIGKILL after the timeout); return its exit status.

        With ``remove``, also delete the directory if this object created it.
        """
        status = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(self.timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(self.timeout)
            status = self.process.returncode
        if remove and self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
        return status

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class Sandbox:
    """The whole stack in one directory: ovsdb-server, optionally ovs-vswitchd, a bus, ovsdbus.

    With ``cluster``, a three-member :class:`OvsdbCluster` stands for ovsdb-server (ovs-vswitchd
    and ovsdbus are given all three members).  With ``tls``, :meth:`start` first makes a CA and
    certificates (:func:`make_pki`), ovsdb-server also listens on ``pssl:`` and ovsdbus connects
    to :attr:`service_remote` (``ssl:``) with ``--private-key``/``--certificate``/``--ca-cert``;
    ovs-vswitchd and :meth:`OvsdbServer.vsctl` keep using the unix socket.
    ``directory=None`` makes a temporary directory, removed by :meth:`stop` unless ``keep``.
    Components start in dependency order; :meth:`stop` stops whatever was started, in reverse.
    """

    def __init__(
        self,
        directory=None,
        *,
        vswitchd=True,
        service=True,
        datapath="dummy",
        schema=None,
        service_args=(),
        keep=False,
        timeout=DEFAULT_TIMEOUT,
        cluster=False,
        tls=False,
    ):
        self._own_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="ovsdbus-sandbox-")).absolute()
        self.keep = keep
        self.tls = None
        """With ``tls``: the :class:`PkiFiles` made at :meth:`start`."""
        self._want_tls = tls
        if cluster:
            self.ovsdb = OvsdbCluster(self.directory, schema=schema, timeout=timeout)
        else:
            self.ovsdb = OvsdbServer(self.directory, schema=schema, timeout=timeout)
        self.vswitchd = Vswitchd(self.directory, self.ovsdb, datapath, timeout) if vswitchd else None
        self.dbus = DbusDaemon(self.directory, timeout=timeout)
        self._service_args = tuple(service_args)
        self._want_service = service
        self._timeout = timeout
        self.service = None
        self._started = []

    @property
    def service_remote(self):
        """The ``--ovsdb`` the service is given: the server's ``ssl:`` listener with ``tls``, else
        :attr:`OvsdbServer.remote` (for a cluster, its members' list)."""
        if self.tls is not None and getattr(self.ovsdb, "ssl_remote", None):
            return self.ovsdb.ssl_remote
        return self.ovsdb.remote

    def start(self):
        """Make the certificates (``tls``), start every component in order; return ``self``."""
        try:
            if self._want_tls:
                if isinstance(self.ovsdb, OvsdbCluster):
                    raise SandboxError("a TLS sandbox runs one ovsdb-server, not a cluster")
                self.tls = make_pki(self.directory)
                self.ovsdb.tls = self.tls
            for component in (self.ovsdb, self.vswitchd, self.dbus):
                if component is not None:
                    component.start()
                    self._started.append(component)
            if self._want_service:
                tls_args = tuple(self.tls.client_args()) if self.tls is not None else ()
                # org.openvswitch.ovsdb.Flows reaches this ovs-vswitchd's <bridge>.mgmt sockets, and
                # persisted flows are kept here, not in the system's state directory.
                flows_args = ("--ovs-rundir", str(self.directory),
                              "--state-directory", str(self.directory / "state"))
                self.service = ServiceProcess(
                    self.service_remote,
                    self.dbus.address,
                    tls_args + flows_args + self._service_args,
                    directory=self.directory,
                    timeout=self._timeout,
                )
                self._started.append(self.service)
                self.service.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        errors = []
        while self._started:
            component = self._started.pop()
            try:
                component.stop()
            except Exception as e:  # stop the others all the same
                errors.append(e)
        if self._own_directory and not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)
        if errors:
            raise SandboxError("; ".join(str(e) for e in errors))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def examples(self):
        """Return ready-to-paste shell commands that talk to this sandbox, as one text."""
        q = shlex.quote
        bus = f"unix:path={self.dbus.socket_path}"
        call = f"busctl --address={q(bus)} call {BUS_NAME} {OBJECT_PATH} {INTERFACE}"
        vsctl = f"ovs-vsctl --db={q(self.ovsdb.remote)}"
        lines = [
            f"Sandbox directory: {self.directory}",
            f"OVSDB remote:      {self.service_remote}",
            f"D-Bus address:     {bus}",
        ]
        if self.tls is not None:
            lines.append(f"TLS files:         {os.path.dirname(self.tls.ca_cert)} (CA ca.pem, client.key, client.pem)")
        lines += [
            "",
            "Try, from another terminal:",
            f"  {call} CreateBridge s br0",
            f"  {call} ListBridges",
            f"  {call} AddPort ss br0 p0",
            f"  {call} ListBridgePorts s br0",
            f"  {call} BridgeExists s br0",
            f"  {call} DeletePort ss br0 p0",
            f"  {call} DeleteBridge s br0",
            f"  busctl --address={q(bus)} introspect {BUS_NAME} {OBJECT_PATH}",
            f"  {vsctl} show",
            f"  {vsctl} add-br br1        # the service notices changes made behind its back",
            f"  DBUS_SESSION_BUS_ADDRESS={q(bus)} gdbus monitor --session --dest {BUS_NAME}",
            f"  tail -f {q(str(self.directory))}/*log*",
        ]
        if self.vswitchd is not None and self.vswitchd.datapath == "dummy":
            lines.append(f"  ovs-appctl -t {q(str(self.vswitchd.ctl_path))} dpif/show")
        if self.tls is not None:
            tls = " ".join(q(a) for a in self.tls.client_args())
            lines.append(f"  ovs-vsctl --db={q(self.service_remote)} {tls} list-br   # over ssl: as ovsdbus")
        if isinstance(self.ovsdb, OvsdbCluster):
            lines += [
                f"  busctl --address={q(bus)} get-property {BUS_NAME} {OBJECT_PATH} {INTERFACE} ClusterMember Leader",
                f"  ovs-appctl -t {q(str(self.ovsdb.members[0].ctl_path))} cluster/status Open_vSwitch",
                f"  kill $(cat {q(str(self.directory))}/X.pid)   # X = the leader (a, b or c): ovsdbus moves on",
                f"  ovsdb-server {q(str(self.directory))}/X.db --remote=punix:{q(str(self.directory))}/X.sock "
                f"--unixctl={q(str(self.directory))}/X.ctl --pidfile={q(str(self.directory))}/X.pid "
                f"--log-file={q(str(self.directory))}/X.log --detach   # X back",
            ]
        return "\n".join(lines)


class _Terminate(Exception):
    pass


def _raise_terminate(signum, frame):
    raise _Terminate()


def main(argv=None):
    """``python -m ovsdbus.testing.sandbox``: run the real stack privately until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m ovsdbus.testing.sandbox",
        description="Run ovsdb-server, ovs-vswitchd, a private D-Bus daemon and ovsdbus in a temporary "
        "directory, print commands to try, and stop everything on Ctrl-C.",
    )
    parser.add_argument("--no-vswitchd", action="store_true", help="do not start ovs-vswitchd")
    parser.add_argument("--no-service", action="store_true", help="do not start ovsdbus (run it yourself)")
    parser.add_argument("--keep", action="store_true", help="keep the directory (logs, conf.db) afterwards")
    parser.add_argument("--dir", help="use this directory (kept) instead of a temporary one")
    parser.add_argument("--schema", default=DEFAULT_SCHEMA, help="Open_vSwitch schema (default: %(default)s)")
    parser.add_argument(
        "--datapath",
        choices=("dummy", "netdev"),
        default="dummy",
        help="ovs-vswitchd's datapath: in-memory dummy (default) or real userspace netdev",
    )
    parser.add_argument(
        "--service-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for the service's command line (repeatable)",
    )
    parser.add_argument("--cluster", action="store_true",
                        help="a three-member Raft cluster of ovsdb-servers (a, b, c) instead of one server")
    parser.add_argument("--tls", action="store_true",
                        help="make a CA and certificates with openssl; ovsdb-server also listens on pssl: and "
                        "ovsdbus connects over ssl: with --private-key/--certificate/--ca-cert")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per start or stop")
    options = parser.parse_args(argv)

    if options.cluster and options.tls:
        parser.error("--cluster and --tls cannot be combined (yet)")
    required = ["ovsdb-tool", "ovsdb-server", "ovs-vsctl", "dbus-daemon"]
    required += ["ovs-appctl"] if options.cluster else []
    required += ["openssl"] if options.tls else []
    missing = missing_binaries(*required)
    if missing:
        print(f"missing: {', '.join(missing)} (./dev installs them)", file=sys.stderr)
        return 2
    with_vswitchd = not options.no_vswitchd
    if with_vswitchd and missing_binaries("ovs-vswitchd"):
        print("ovs-vswitchd is not installed: running without it", file=sys.stderr)
        with_vswitchd = False

    sandbox = Sandbox(
        options.dir,
        vswitchd=with_vswitchd,
        service=not options.no_service,
        datapath=options.datapath,
        schema=options.schema,
        service_args=options.service_arg,
        keep=options.keep,
        timeout=options.timeout,
        cluster=options.cluster,
        tls=options.tls,
    )
    previous = signal.signal(signal.SIGTERM, _raise_terminate)
    # Started from a background job, a process inherits SIGINT ignored: take Ctrl-C all the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    status = 0
    try:
        sandbox.start()
        print(sandbox.examples())
        print("\nRunning; Ctrl-C stops everything.", flush=True)
        while sandbox.service is None or sandbox.service.running:
            time.sleep(0.5)
        print(_with_log("ovsdbus exited on its own.", sandbox.service.log_file), file=sys.stderr)
        status = 1
    except (KeyboardInterrupt, _Terminate):
        print("\nStopping.", flush=True)
    except SandboxError as e:
        print(f"sandbox: {e}", file=sys.stderr)
        status = 1
    finally:
        # Finish the cleanup even if Ctrl-C is pressed again.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            sandbox.stop()
        except SandboxError as e:
            print(f"sandbox: while stopping: {e}", file=sys.stderr)
            status = 1
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if sandbox.directory.exists():
        print(f"Kept {sandbox.directory}")
    return status


if __name__ == "__main__":
    sys.exit(main())
