"""ssl: remotes end to end: a real ovsdb-server listening with ``--remote=pssl:``, ``twistd ovsdbus``
connecting with ``--private-key``/``--certificate``/``--ca-cert``, and certificates made at run time
with ``openssl`` (a CA, a server and a client certificate, a second CA, an expired certificate).

The server's certificate must chain to the CA given with --ca-cert (host names are not checked, as
with ovs-vsctl); any other certificate is refused with a logged reason, retried with backoff, and
nothing is ever sent in plain text.
"""

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from twisted.internet import defer
from twisted.python import usage
from twisted.trial.unittest import TestCase

from ovsdbus import tap
from ovsdbus.ovsdb.remotes import TlsFiles, TlsSetupError, tls_context
from ovsdbus.testing import sandbox
from tests import realstack
from tests.realstack import ERROR, RealStack, call, call_error, get_property, poll_until, require_programs

#: How long a test waits for the service to connect, or to log a refusal.
DEADLINE = 15.0

_CA_CONFIG = """\
[ req ]
distinguished_name = dn
[ dn ]
[ ca_ext ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ ca ]
default_ca = signer
[ signer ]
database = {directory}/index.txt
new_certs_dir = {directory}
serial = {directory}/serial
default_md = sha256
policy = any
unique_subject = no
x509_extensions = leaf_ext
[ any ]
commonName = supplied
[ leaf_ext ]
basicConstraints = CA:false
"""


class Pki:
    """CAs, keys and certificates made with ``openssl`` in a temporary directory.

    ``path(name)`` is the PEM file of a certificate (``name.pem``), ``key(name)`` its key.
    Certificates are named as OVS names them (``CN=ovsdb-server id:...``), not after a host.
    """

    def __init__(self):
        require_programs("openssl")
        self.directory = tempfile.mkdtemp(prefix="ovsdbus-pki-")
        self.openssl = sandbox.find_binary("openssl")

    def _run(self, *args):
        subprocess.run([self.openssl, *args], cwd=self.directory, check=True, capture_output=True, timeout=30)

    def path(self, name):
        return os.path.join(self.directory, name + ".pem")

    def key(self, name):
        return os.path.join(self.directory, name + ".key")

    def _new_key_args(self, name):
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", self.key(name)]

    def make_ca(self, name, subject):
        """A self-signed CA certificate and its key."""
        ca_dir = os.path.join(self.directory, name + ".d")
        os.mkdir(ca_dir)
        with open(os.path.join(ca_dir, "index.txt"), "w"):
            pass
        with open(os.path.join(ca_dir, "serial"), "w") as f:
            f.write("01\n")
        with open(os.path.join(ca_dir, "ca.cnf"), "w") as f:
            f.write(_CA_CONFIG.format(directory=ca_dir))
        self._run("req", "-x509", *self._new_key_args(name), "-out", self.path(name), "-days", "3",
                  "-subj", "/CN=" + subject, "-config", os.path.join(ca_dir, "ca.cnf"), "-extensions", "ca_ext")

    def make_certificate(self, name, ca, subject, start=None, end=None):
        """A key and a certificate for it signed by ``ca``, valid for 3 days or from ``start`` to ``end``
        (``YYYYMMDDHHMMSSZ``)."""
        csr = os.path.join(self.directory, name + ".csr")
        config = os.path.join(self.directory, ca + ".d", "ca.cnf")
        self._run("req", *self._new_key_args(name), "-out", csr, "-subj", "/CN=" + subject, "-config", config)
        dates = ["-startdate", start, "-enddate", end] if start else ["-days", "3"]
        self._run("ca", "-batch", "-notext", "-config", config, "-cert", self.path(ca), "-keyfile", self.key(ca),
                  "-in", csr, "-out", self.path(name), *dates)

    def make_encrypted_key(self, name, source):
        """``name.key``: the key of ``source``, encrypted with a passphrase."""
        self._run("pkey", "-in", self.key(source), "-aes256", "-passout", "pass:secret", "-out", self.key(name))

    def files(self, client="client", ca="ca", bootstrap=False):
        """The TlsFiles of client ``client`` trusting ``ca`` (a path, for bootstrap)."""
        return TlsFiles(self.key(client), self.path(client), ca if bootstrap else self.path(ca), bootstrap)

    def args(self, client="client", ca="ca"):
        """``twistd ovsdbus`` TLS options for client ``client`` trusting CA ``ca``."""
        return ["--private-key", self.key(client), "--certificate", self.path(client), "--ca-cert", self.path(ca)]

    def remove(self):
        shutil.rmtree(self.directory, ignore_errors=True)


_pki = {}


def pki():
    """The PKI the tests share, made on first use: CA ``ca`` signs ``server``, ``client`` and ``expired``
    (valid only in January 2020); CA ``other-ca`` signs ``rogue``."""
    if "pki" not in _pki:
        made = Pki()
        try:
            made.make_ca("ca", "ovsdbus test CA")
            made.make_certificate("server", "ca", "ovsdb-server id:test-server")
            made.make_certificate("client", "ca", "ovsdbus id:test-client")
            made.make_certificate("expired", "ca", "ovsdb-server id:expired", "20200101000000Z", "20200102000000Z")
            made.make_ca("other-ca", "another CA")
            made.make_certificate("rogue", "other-ca", "ovsdbus id:rogue")
        except BaseException:
            made.remove()
            raise
        _pki["pki"] = made
        atexit.register(made.remove)
    return _pki["pki"]




class TlsOvsdbServer:
    """ovsdb-server on a fresh Open_vSwitch database in ``directory``, listening on
    ``pssl:PORT:127.0.0.1`` with ``certificate`` (``plain``: on ``ptcp:`` instead), and on a unix socket.

    It trusts client certificates signed by CA ``ca`` and sends that CA along (``--peer-ca-cert``)
    so that clients can bootstrap it.  Stopped by pid.
    """

    def __init__(self, directory, pki, certificate="server", ca="ca", plain=False):
        require_programs("ovsdb-server", "ovsdb-tool", "ovs-vsctl")
        self.directory = directory
        self.pki = pki
        self.certificate = certificate
        self.ca = ca
        self.plain = plain
        self.port = None
        self.pid = None
        self.socket_path = os.path.join(directory, "tls-db.sock")

    @property
    def remote(self):
        """The remote ovsdbus is given: ``ssl:127.0.0.1:PORT``, even when the server speaks plain TCP."""
        return "ssl:127.0.0.1:%d" % self.port

    def _env(self):
        env = dict(os.environ)
        for variable in ("OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR"):
            env[variable] = self.directory
        return env

    def start(self):
        db = os.path.join(self.directory, "tls-conf.db")
        sandbox._run([sandbox.find_binary("ovsdb-tool"), "create", db, str(sandbox.DEFAULT_SCHEMA)], env=self._env())
        self.port = sandbox.free_tcp_port()
        listen = ("ptcp:%d:127.0.0.1" if self.plain else "pssl:%d:127.0.0.1") % self.port
        pidfile = os.path.join(self.directory, "tls-ovsdb.pid")
        log_file = os.path.join(self.directory, "tls-ovsdb.log")
        sandbox._run([sandbox.find_binary("ovsdb-server"), db, "--remote=punix:" + self.socket_path,
                      "--remote=" + listen, "--private-key=" + self.pki.key(self.certificate),
                      "--certificate=" + self.pki.path(self.certificate), "--ca-cert=" + self.pki.path(self.ca),
                      "--peer-ca-cert=" + self.pki.path(self.ca), "--pidfile=" + pidfile, "--detach",
                      "--unixctl=" + os.path.join(self.directory, "tls-ovsdb.ctl"), "--log-file=" + log_file],
                     env=self._env(), log_file=log_file)
        with open(pidfile) as f:
            self.pid = int(f.read().strip())
        sandbox.wait_until(lambda: sandbox.accepts(self.port), 10, "ovsdb-server to listen on port %d" % self.port)
        self.vsctl_unix("init")
        return self

    def stop(self):
        if self.pid is not None:
            sandbox.stop_pid(self.pid, name="ovsdb-server")
            self.pid = None

    def vsctl_unix(self, *args):
        """ovs-vsctl over the server's unix socket."""
        return sandbox._run([sandbox.find_binary("ovs-vsctl"), "--db=unix:" + self.socket_path, "--no-wait",
                             "--timeout=10", *args], env=self._env())

    def vsctl_ssl(self, *args):
        """ovs-vsctl over ssl:, with the client certificate, as an administrator would run it."""
        return sandbox._run([sandbox.find_binary("ovs-vsctl"), "--db=" + self.remote, "--no-wait", "--timeout=10",
                             "--private-key=" + self.pki.key("client"),
                             "--certificate=" + self.pki.path("client"),
                             "--ca-cert=" + self.pki.path("ca"), *args], env=self._env())


class TlsTestCase(TestCase):
    """Starts a TLS ovsdb-server and the service (with a private bus) connecting to it over ssl:."""

    def start(self, service_args, **server_options):
        """Start the server (``server_options`` as :class:`TlsOvsdbServer`'s) and the service with
        ``service_args``; fire once a D-Bus client is connected to the service's bus."""
        self.pki = pki()
        self.stack = RealStack(service_args)
        self.addCleanup(self.stack.stop)
        self.server = TlsOvsdbServer(self.stack.directory, self.pki, **server_options)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.stack.start(ovsdb=False, remote=self.server.remote)
        self.addCleanup(self.assert_no_tracebacks)
        d = realstack.connect(self, self.stack.bus_address)
        d.addCallback(lambda client: setattr(self, "client", client))
        return d

    def assert_no_tracebacks(self):
        found = self.stack.tracebacks_since(0)
        if found:
            self.fail("the service logged an unhandled error:\n" + found)

    def connected(self):
        return get_property(self.client, "Connected")

    def service_log(self):
        with open(os.path.join(self.stack.directory, "service.log"), encoding="utf-8", errors="replace") as log:
            return log.read()

    @defer.inlineCallbacks
    def assert_refused(self, pattern, attempts=2):
        """The service logs an error matching ``pattern`` at ``attempts`` connection attempts (it retries),
        never connects meanwhile, and answers calls with Disconnected."""
        def refusals():
            return len(re.findall(r"#error\] ssl:127\.0\.0\.1:%d: TLS: .*%s" % (self.server.port, pattern),
                                  self.service_log())) >= attempts
        yield poll_until(refusals, DEADLINE, what="%d refusals matching %r in the service's log" % (attempts, pattern))
        self.assertIs((yield self.connected()), False)
        self.assertNotIn("connected to ovsdb-server", self.service_log())
        self.assertEqual((yield call_error(self.client, "ListBridges")), ERROR + "Disconnected")


class SslEndToEndTests(TlsTestCase):
    """The service over ssl: against a real ovsdb-server with --remote=pssl:."""

    @defer.inlineCallbacks
    def test_create_and_list_over_ssl(self):
        """With the CA's certificates, the service connects over ssl:, and what it creates over D-Bus is what
        ovs-vsctl (itself over ssl:) sees, and the other way round."""
        yield self.start(pki().args())
        yield poll_until(self.connected, DEADLINE, what="Connected over ssl:")
        self.assertEqual((yield call(self.client, "ListBridges")), [])
        self.assertIsNone((yield call(self.client, "CreateBridge", "s", "br-tls")))
        self.assertEqual(self.server.vsctl_ssl("list-br").split(), ["br-tls"])
        self.server.vsctl_ssl("add-br", "br-vsctl")
        yield poll_until(lambda: call(self.client, "ListBridges").addCallback(
            lambda bridges: sorted(bridges) == ["br-tls", "br-vsctl"]), DEADLINE, what="br-vsctl over D-Bus")
        self.assertEqual(sorted(self.server.vsctl_ssl("list-br").split()), ["br-tls", "br-vsctl"])

    @defer.inlineCallbacks
    def test_bootstrap_ca_cert(self):
        """--bootstrap-ca-cert with no such file yet: the service saves the CA certificate ovsdb-server sends,
        says so in its log, reconnects and is then Connected, verifying the server against the saved CA."""
        saved = os.path.join(tempfile.mkdtemp(prefix="ovsdbus-boot-"), "cacert.pem")
        self.addCleanup(shutil.rmtree, os.path.dirname(saved), ignore_errors=True)
        p = pki()
        yield self.start(["--private-key", p.key("client"), "--certificate", p.path("client"),
                          "--bootstrap-ca-cert", saved])
        yield poll_until(self.connected, DEADLINE, what="Connected after bootstrapping the CA")
        with open(saved, "rb") as got, open(p.path("ca"), "rb") as ca:
            self.assertEqual(_der(got.read()), _der(ca.read()))
        self.assertIn("trusting the CA certificate CN=ovsdbus test CA", self.service_log())
        self.assertIsNone((yield call(self.client, "CreateBridge", "s", "br-boot")))
        self.assertEqual(self.server.vsctl_unix("list-br").split(), ["br-boot"])


#: Python run as the service: deny write+execute memory (prctl PR_SET_MDWE, what systemd's
#: MemoryDenyWriteExecute=yes in debian/ovsdbus.service does), then run twistd.
_MDWE_TWISTD = """
import ctypes, sys
if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:
    sys.exit("PR_SET_MDWE is not supported by this kernel")
from twisted.scripts.twistd import run
run()
"""


def _mdwe_supported():
    probe = subprocess.run([sys.executable, "-c", _MDWE_TWISTD.split("from twisted")[0]], capture_output=True)
    return probe.returncode == 0


class SslUnderSystemdHardeningTests(TlsTestCase):
    """TLS in the conditions of debian/ovsdbus.service."""

    @defer.inlineCallbacks
    def test_no_write_execute_memory(self):
        """With write+execute memory denied (MemoryDenyWriteExecute=yes), ssl: still connects, and a wrong
        CA is still refused with its reason: no pyOpenSSL callback (cffi needs write+execute memory to make
        one) is used."""
        if not _mdwe_supported():
            message = "the kernel cannot deny write+execute memory (PR_SET_MDWE, Linux 6.3)"
            if os.environ.get("CI"):
                self.fail(message + " (CI is set: this test must run)")
            raise unittest.SkipTest(message)
        p = pki()
        for ca, connects in (("ca", True), ("other-ca", False)):
            stack = RealStack()
            self.addCleanup(stack.stop)
            server = TlsOvsdbServer(stack.directory, p).start()
            self.addCleanup(server.stop)
            stack.dbus.start()
            argv = [sys.executable, "-c", _MDWE_TWISTD, "--nodaemon", "--pidfile=", "ovsdbus", "--ovsdb", server.remote,
                    "--bus", stack.bus_address, *p.args(ca=ca)]
            stack.service = sandbox.ServiceProcess(server.remote, stack.bus_address, argv=argv,
                                                   directory=stack.directory).start()
            self.stack, self.server = stack, server
            self.client = yield realstack.connect(self, stack.bus_address)
            if connects:
                yield poll_until(self.connected, DEADLINE, what="Connected over ssl: without W+X memory")
                self.assertIsNone((yield call(self.client, "CreateBridge", "s", "br-mdwe")))
                self.assertEqual(server.vsctl_ssl("list-br").split(), ["br-mdwe"])
            else:
                yield self.assert_refused("does not verify against --ca-cert .*other-ca.pem")
            self.assertNotIn("write+execute", self.service_log())
            self.assert_no_tracebacks()


class SslRefusalTests(TlsTestCase):
    """Certificates that must not be accepted: each is a logged, named failure and a retry; never Connected."""

    @defer.inlineCallbacks
    def test_wrong_ca(self):
        """A server whose certificate is signed by a CA other than --ca-cert's is refused, again at each retry."""
        yield self.start(pki().args(ca="other-ca"))
        yield self.assert_refused("does not verify against --ca-cert .*other-ca.pem: its chain ends in a "
                                  "self-signed certificate that is not in the CA file")

    @defer.inlineCallbacks
    def test_expired_server_certificate(self):
        """A server certificate that has expired is refused, and the log says it has expired."""
        yield self.start(pki().args(), certificate="expired")
        yield self.assert_refused(r"CN=ovsdb-server id:expired\) does not verify against --ca-cert .*: "
                                  "it has expired")

    @defer.inlineCallbacks
    def test_server_refuses_client_certificate(self):
        """A client certificate the server's CA did not sign is refused by ovsdb-server; the service logs the
        server's refusal (an unknown-CA alert) and retries."""
        yield self.start(pki().args(client="rogue"))
        yield self.assert_refused("ovsdb-server refused the connection: .*unknown ca")

    @defer.inlineCallbacks
    def test_no_plaintext_fallback(self):
        """An ssl: remote that answers in plain TCP (ovsdb-server on ptcp:) is never used: the TLS handshake
        fails, is logged and retried, and the service stays disconnected."""
        yield self.start(pki().args(), plain=True)
        yield self.assert_refused("ovsdb-server refused the connection")


def _der(pem):
    """The base64 body of a PEM certificate, without line breaks."""
    body = pem.decode("ascii").split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return "".join(body.split())


class TlsFilesTests(TestCase):
    """The files are checked when the service starts: a mistake is a usage error naming the file."""

    def options(self, *args):
        opts = tap.Options()
        opts.parseOptions(["--ovsdb", "ssl:127.0.0.1:6640", *args])
        return opts

    def test_good_files(self):
        """Key, certificate and CA certificate made for each other give the TLS files to connect with."""
        p = pki()
        opts = self.options(*p.args())
        self.assertEqual(opts["tls"], p.files())

    def test_missing_file(self):
        """A file that does not exist is a usage error naming the option and the path."""
        p = pki()
        args = p.args()
        args[args.index("--ca-cert") + 1] = os.path.join(p.directory, "nonexistent.pem")
        error = self.assertRaises(usage.UsageError, self.options, *args)
        self.assertIn("--ca-cert %s" % os.path.join(p.directory, "nonexistent.pem"), str(error))
        self.assertIn("No such file", str(error))

    def test_key_does_not_match_certificate(self):
        """A private key that is not the certificate's is a usage error naming both files."""
        p = pki()
        args = ["--private-key", p.key("rogue"), "--certificate", p.path("client"), "--ca-cert", p.path("ca")]
        error = self.assertRaises(usage.UsageError, self.options, *args)
        self.assertIn("--private-key %s does not match --certificate %s" % (p.key("rogue"), p.path("client")),
                      str(error))

    def test_not_pem(self):
        """A certificate file that holds no PEM certificate (here: a key) is a usage error saying so."""
        p = pki()
        args = ["--private-key", p.key("client"), "--certificate", p.key("client"), "--ca-cert", p.path("ca")]
        error = self.assertRaises(usage.UsageError, self.options, *args)
        self.assertIn("no PEM certificate", str(error))

    def test_encrypted_key(self):
        """A private key protected by a passphrase is refused with a message saying so (never a prompt)."""
        p = pki()
        p.make_encrypted_key("encrypted", "client")
        args = ["--private-key", p.key("encrypted"), "--certificate", p.path("client"), "--ca-cert", p.path("ca")]
        error = self.assertRaises(usage.UsageError, self.options, *args)
        self.assertIn("encrypted private keys are not supported", str(error))

    def test_bootstrap_directory_must_exist(self):
        """--bootstrap-ca-cert in a directory that does not exist is refused at once."""
        p = pki()
        args = ["--private-key", p.key("client"), "--certificate", p.path("client"),
                "--bootstrap-ca-cert", os.path.join(p.directory, "nonexistent", "cacert.pem")]
        error = self.assertRaises(usage.UsageError, self.options, *args)
        self.assertIn("--bootstrap-ca-cert", str(error))

    def test_files_read_at_each_attempt(self):
        """The files are read again for each connection: one that went missing since the start is a
        TlsSetupError naming it (logged, and retried), not a crash."""
        p = pki()
        self.assertIsNotNone(tls_context(p.files()))
        broken = p.files()._replace(certificate=os.path.join(p.directory, "gone.pem"))
        self.assertRaises(TlsSetupError, tls_context, broken)
