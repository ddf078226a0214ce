"""OVS remote strings (``unix:PATH``, ``tcp:HOST[:PORT]``, ``ssl:HOST[:PORT]``, comma
lists) and the Twisted client endpoints they become.

:func:`parse_remotes` is pure and table-tested; :func:`remotes_endpoint` turns the
parsed list into one endpoint that tries the remotes in turn, one per connection
attempt, as OVS's own clients do.

``ssl:`` remotes use TLS with the PEM files OVS's tools take (:class:`TlsFiles`:
``--private-key``, ``--certificate``, ``--ca-cert`` or ``--bootstrap-ca-cert``) and
check the server as ``ovs-vsctl`` does: its certificate must chain to the CA
certificate, and nothing else about it is checked (OVS certificates, such as those
``ovs-pki`` makes, name no host: their CN is like ``ovsdb-server id:...``).
ovsdb-server asks for a client certificate, so ovsdbus always presents one.
"""

import os
import re
from typing import NamedTuple

from OpenSSL import SSL, crypto
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint, wrapClientTLS
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IStreamClientEndpoint
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from zope.interface import implementer

log = Logger()

DEFAULT_REMOTE = "unix:/var/run/openvswitch/db.sock"
DEFAULT_PORT = 6640

_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+))(?::(?P<port>[0-9]+))?$")


class Remote(NamedTuple):
    """One parsed remote: ``kind`` is ``unix``, ``tcp`` or ``ssl``; ``address`` is the
    socket path (unix) or host (tcp/ssl); ``port`` is an int or ``None``."""

    kind: str
    address: str
    port: int = None

    def __str__(self):
        if self.kind == "unix":
            return "unix:" + self.address
        host = "[%s]" % self.address if ":" in self.address else self.address
        return "%s:%s:%d" % (self.kind, host, self.port)


def parse_remote(text):
    """Parse one remote; raise ValueError with a readable reason if it is not valid."""
    text = text.strip()
    kind, sep, rest = text.partition(":")
    if not sep or not rest:
        raise ValueError("%r is not a remote (expected unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT)" % text)
    if kind == "unix":
        return Remote("unix", rest)
    if kind in ("tcp", "ssl"):
        m = _HOST_PORT.match(rest)
        if not m:
            raise ValueError("%r: expected %s:HOST[:PORT]" % (text, kind))
        port = int(m.group("port")) if m.group("port") else DEFAULT_PORT
        if not 0 < port < 65536:
            raise ValueError("%r: port %d out of range" % (text, port))
        return Remote(kind, m.group("v6") or m.group("host"), port)
    if kind in ("punix", "ptcp", "pssl"):
        raise ValueError("%r is a listening remote; ovsdbus connects, so use %s:" % (text, kind[1:]))
    raise ValueError("%r: unknown remote type %r" % (text, kind))


def parse_remotes(text):
    """Parse a comma-separated list of remotes (at least one)."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError("no remote given")
    return [parse_remote(p) for p in parts]


def remote_endpoint(reactor, remote, tls=None, timeout=10):
    """The client endpoint for one :class:`Remote`.

    ``tls`` (:class:`TlsFiles`) is required for ssl.
    """
    if remote.kind == "unix":
        return UNIXClientEndpoint(reactor, remote.address, timeout=timeout)
    if remote.kind == "ssl":
        if tls is None:
            raise ValueError("%s needs TLS options (private key, certificate, CA certificate)" % (remote,))
        return TlsClientEndpoint(reactor, remote, tls, timeout=timeout)
    return HostnameEndpoint(reactor, remote.address, remote.port, timeout=timeout)


@implementer(IStreamClientEndpoint)
class RoundRobinEndpoint:
    """An endpoint that connects to the next of several endpoints at each attempt.

    ``current`` is the index of the endpoint of the latest attempt, so callers can tell
    which remote a connection went to.
    """

    def __init__(self, endpoints):
        if not endpoints:
            raise ValueError("no endpoints")
        self.endpoints = list(endpoints)
        self.current = -1

    def connect(self, protocol_factory):
        self.current = (self.current + 1) % len(self.endpoints)
        return self.endpoints[self.current].connect(protocol_factory)


def remotes_endpoint(reactor, remotes, tls=None, timeout=10):
    """One endpoint for a list of :class:`Remote`: the remote itself, or a round robin.

    ``tls`` (:class:`TlsFiles`) is required when the list has an ssl remote.
    """
    endpoints = [remote_endpoint(reactor, r, tls, timeout) for r in remotes]
    return endpoints[0] if len(endpoints) == 1 else RoundRobinEndpoint(endpoints)


# -- TLS (ssl: remotes) ---------------------------------------------------------------


class TlsFiles(NamedTuple):
    """The PEM files for ssl remotes, as OVS's tools take them.

    ``private_key`` and ``certificate`` are ovsdbus's own identity (ovsdb-server asks for
    it; ``certificate`` may hold a chain, leaf first); ``ca_cert`` holds the CA
    certificate(s) ovsdb-server's certificate must chain to.  With ``bootstrap``
    (``--bootstrap-ca-cert``), a ``ca_cert`` that does not exist yet is made from the CA
    certificate the server sends on the first connection.
    """

    private_key: str
    certificate: str
    ca_cert: str
    bootstrap: bool = False


class TlsSetupError(ValueError):
    """A TLS file cannot be used: unreadable, not PEM, or a key that does not match its
    certificate.  The message names the option and the file."""


class CertificateRejected(Exception):
    """ovsdb-server's certificate does not verify against the CA certificate: signed by
    another CA, expired, not yet valid, ...  The message says which and why."""


# OpenSSL's X509_V_ERR_* codes a server certificate most often fails with.
_VERIFY_ERRORS = {
    2: "the CA certificate that signed it is not in the CA file",
    7: "its signature is invalid",
    9: "it is not valid yet",
    10: "it has expired",
    18: "it is self-signed and not in the CA file",
    19: "its chain ends in a self-signed certificate that is not in the CA file",
    20: "it is not signed by a CA certificate in the CA file",
    21: "it is not signed by a CA certificate in the CA file",
    24: "a certificate of its chain is not a valid CA",
    26: "it is not meant for a TLS server",
}

_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def _ssl_text(error):
    """The reasons in a pyOpenSSL error (a list of (library, function, reason)), as one line."""
    details = error.args[0] if error.args else None
    if isinstance(details, list):
        reasons = [str(item[-1]) for item in details if isinstance(item, tuple) and item and item[-1]]
        if reasons:
            return "; ".join(reasons)
    return str(error) or type(error).__name__


def _read(option, path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise TlsSetupError("%s %s: %s" % (option, path, e.strerror or e)) from None


def _certificates(option, path, data):
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks:
        raise TlsSetupError("%s %s: no PEM certificate in it" % (option, path))
    try:
        return [crypto.load_certificate(crypto.FILETYPE_PEM, block) for block in blocks]
    except crypto.Error as e:
        raise TlsSetupError("%s %s: not a valid certificate (%s)" % (option, path, _ssl_text(e))) from None


_ENCRYPTED_KEY = re.compile(rb"-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: *4, *ENCRYPTED", re.M)


def tls_context(files):
    """A pyOpenSSL ``Context`` for connecting to ovsdb-server over TLS 1.2 or newer.

    It presents ``files.private_key`` and ``files.certificate``, trusts the certificates
    in ``files.ca_cert`` and nothing else (not the system's store), and requires the
    server's certificate to chain to one of them; no host name is checked, as in OVS.
    When ``files.bootstrap`` and ``files.ca_cert`` does not exist, nothing is trusted
    (every handshake fails, and :class:`TlsClientEndpoint` takes the CA from it).

    No Python callback is installed: where write+execute memory is denied (systemd's
    ``MemoryDenyWriteExecute=yes``), cffi cannot make one.  The files are read afresh
    at each call, so replaced certificates count from the next connection on.  Raises
    :class:`TlsSetupError` naming the option, the file and what is wrong with it.
    """
    key_data = _read("--private-key", files.private_key)
    _certificates("--certificate", files.certificate, _read("--certificate", files.certificate))
    ca_option = "--bootstrap-ca-cert" if files.bootstrap else "--ca-cert"
    trusting = not (files.bootstrap and not os.path.exists(files.ca_cert))
    if trusting:
        _certificates(ca_option, files.ca_cert, _read(ca_option, files.ca_cert))
    if _ENCRYPTED_KEY.search(key_data):
        raise TlsSetupError("--private-key %s: encrypted private keys are not supported" % files.private_key)
    try:
        crypto.load_privatekey(crypto.FILETYPE_PEM, key_data)
    except crypto.Error as e:
        raise TlsSetupError("--private-key %s: not a PEM private key (%s)"
                            % (files.private_key, _ssl_text(e))) from None
    # The files were checked above for clear messages (and the key is not encrypted, so OpenSSL
    # will not ask for a passphrase); OpenSSL loads them itself.
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(SSL.OP_NO_COMPRESSION)
    try:
        context.use_certificate_chain_file(files.certificate)
    except SSL.Error as e:
        raise TlsSetupError("--certificate %s: cannot use it (%s)" % (files.certificate, _ssl_text(e))) from None
    try:
        context.use_privatekey_file(files.private_key)
        context.check_privatekey()
    except SSL.Error as e:
        raise TlsSetupError("--private-key %s does not match --certificate %s (%s)"
                            % (files.private_key, files.certificate, _ssl_text(e))) from None
    if trusting:
        try:
            context.load_verify_locations(files.ca_cert)
        except SSL.Error as e:
            raise TlsSetupError("%s %s: cannot use it (%s)" % (ca_option, files.ca_cert, _ssl_text(e))) from None
    context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
    return context


def _subject(x509):
    return "/".join("%s=%s" % (k.decode("ascii", "replace"), v.decode("utf-8", "replace"))
                    for k, v in x509.get_subject().get_components()) or "(no subject)"


def _self_signed(x509):
    store = crypto.X509Store()
    store.add_cert(x509)
    try:
        crypto.X509StoreContext(store, x509).verify_certificate()
    except crypto.X509StoreContextError:
        return False
    return True


@implementer(IOpenSSLClientConnectionCreator)
class _TlsAttempt:
    """One TLS connection attempt: makes the TLS connection for Twisted and, when the
    handshake fails, finds out why (or bootstraps the CA certificate) and logs it."""

    def __init__(self, remote, files):
        self.remote = remote
        self.files = files
        self.bootstrapping = files.bootstrap and not os.path.exists(files.ca_cert)
        self.data_received = False
        self.context = tls_context(files)

    def clientConnectionForTLS(self, tls_protocol):
        return SSL.Connection(self.context, None)

    def ended(self, connection, reason):
        """The connection ended (``reason``, a Failure); log what TLS had to do with it.

        ``connection`` is the ``SSL.Connection``.  An end without a TLS error once the handshake
        has finished is not TLS's doing, and nothing is logged here.  (With TLS 1.3 the server
        checks our certificate after our side of the handshake is done: its refusal then comes
        as a TLS error.)
        """
        handshake_done = connection is not None and connection.get_peer_finished() is not None
        if handshake_done and not reason.check(SSL.Error):
            return
        text = _ssl_text(reason.value) if reason.check(SSL.Error) else reason.getErrorMessage()
        if self.data_received:   # the server had accepted us: a TLS error on a working connection
            log.error("{remote}: TLS error: {error}; reconnecting", remote=str(self.remote), error=text)
            return
        chain = (connection.get_peer_cert_chain() if connection is not None else None) or []
        if "certificate verify failed" in text and chain:
            if self.bootstrapping:
                self._bootstrap(chain)
            else:
                log.error("{remote}: TLS: {error}; retrying", remote=str(self.remote), error=self._rejected(chain))
        elif reason.check(SSL.Error):
            log.error("{remote}: TLS: ovsdb-server refused the connection: {error}; retrying",
                      remote=str(self.remote), error=text)
        else:
            log.error("{remote}: TLS: ovsdb-server refused the connection: it closed during the TLS handshake "
                      "({error}; does it listen with pssl:?); retrying", remote=str(self.remote), error=text)

    def _rejected(self, chain):
        """A CertificateRejected saying why the server's ``chain`` does not verify: the check
        OpenSSL made, made again so as to learn the reason."""
        store = crypto.X509Store()
        try:
            authorities = _certificates("--ca-cert", self.files.ca_cert, _read("--ca-cert", self.files.ca_cert))
        except TlsSetupError as e:   # changed since the attempt began
            return CertificateRejected(str(e))
        for authority in authorities:
            store.add_cert(authority)
        subject = _subject(chain[0])
        try:
            crypto.X509StoreContext(store, chain[0], chain[1:]).verify_certificate()
            why = "OpenSSL refused it"
        except crypto.X509StoreContextError as e:
            why = _VERIFY_ERRORS.get(e.errors[0] if getattr(e, "errors", None) else None) or str(e)
            failed = getattr(e, "certificate", None)
            if failed is not None and _subject(failed) != subject:
                why += " (%s, in the chain it sent)" % _subject(failed)
        return CertificateRejected("the certificate of ovsdb-server at %s (%s) does not verify against --ca-cert %s: %s"
                                   % (self.remote, subject, self.files.ca_cert, why))

    def _bootstrap(self, chain):
        """Save the last certificate of the server's chain as the CA certificate, as OVS does:
        it must be self-signed.  This connection was not verified; the next one is, with it."""
        top = chain[-1]
        if not _self_signed(top):
            log.error("{remote}: TLS: cannot bootstrap --bootstrap-ca-cert {path}: the last certificate the server "
                      "sent ({subject}) is not a self-signed CA certificate (ovsdb-server's --peer-ca-cert sends it); "
                      "retrying", remote=str(self.remote), path=self.files.ca_cert, subject=_subject(top))
            return
        try:
            fd = os.open(self.files.ca_cert, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as out:
                out.write(crypto.dump_certificate(crypto.FILETYPE_PEM, top))
        except FileExistsError:
            return   # another attempt saved it first
        except OSError as e:
            log.error("{remote}: TLS: cannot write --bootstrap-ca-cert {path}: {error}; retrying",
                      remote=str(self.remote), path=self.files.ca_cert, error=e.strerror)
            return
        log.warn("{remote}: trusting the CA certificate {subject} sent by ovsdb-server, saved to "
                 "--bootstrap-ca-cert {path}; reconnecting to verify the server with it",
                 remote=str(self.remote), subject=_subject(top), path=self.files.ca_cert)


class _TlsReportingProtocol(ProtocolWrapper):
    """Passes everything through; on connection loss, has the attempt say what TLS did."""

    def dataReceived(self, data):
        self.factory.attempt.data_received = True
        super().dataReceived(data)

    def connectionLost(self, reason):
        try:
            self.factory.attempt.ended(self.transport.getHandle(), reason)
        except Exception:   # explaining must never keep the connection from being reported lost
            log.failure("explaining why the TLS connection to {remote} ended", remote=str(self.factory.attempt.remote))
        super().connectionLost(reason)


class _TlsReportingFactory(WrappingFactory):
    protocol = _TlsReportingProtocol

    def __init__(self, wrapped_factory, attempt):
        super().__init__(wrapped_factory)
        self.attempt = attempt


@implementer(IStreamClientEndpoint)
class TlsClientEndpoint:
    """Connects to an ``ssl:`` remote: TCP, then TLS set up from :class:`TlsFiles` with
    :func:`tls_context` (re-read at every attempt).

    An attempt whose files cannot be used fails at once with :class:`TlsSetupError`; a
    server whose certificate does not verify is disconnected during the handshake with
    :class:`CertificateRejected` logged.  Either way the caller's reconnect backoff
    applies, and nothing is ever sent in plain text.
    """

    def __init__(self, reactor, remote, files, timeout=10):
        self.remote = remote
        self.files = files
        self._tcp = HostnameEndpoint(reactor, remote.address, remote.port, timeout=timeout)

    def connect(self, protocol_factory):
        try:
            attempt = _TlsAttempt(self.remote, self.files)
        except TlsSetupError as e:
            log.error("{remote}: TLS: {error}; retrying", remote=str(self.remote), error=e)
            return defer.fail(e)
        d = wrapClientTLS(attempt, self._tcp).connect(_TlsReportingFactory(protocol_factory, attempt))
        return d.addCallback(lambda reporting: reporting.wrappedProtocol)   # what protocol_factory built
