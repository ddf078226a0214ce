"""Framing: a byte stream of concatenated JSON texts <-> JSON values.

ovsdb-server writes JSON texts back to back with no delimiter (``{...}{...}``) and
accepts them the same way.  :class:`JSONStreamProtocol` splits incoming bytes into
complete top-level JSON objects or arrays across arbitrary chunk boundaries by
tracking nesting depth outside strings, and encodes outgoing values one JSON text
each.  It knows nothing about JSON-RPC or OVSDB.
"""

import re

import ujson
from twisted.internet.protocol import Protocol
from twisted.logger import Logger

from ovsdbus.ovsdb.errors import ProtocolError

DEFAULT_MAX_VALUE_SIZE = 64 * 1024 * 1024

_STRUCTURAL = re.compile(rb'[{}\[\]"]')
_STRING_SPECIAL = re.compile(rb'["\\]')
_WHITESPACE = b" \t\r\n"


def encode_value(value):
    """Encode one JSON value as UTF-8 bytes (one JSON text, newline terminated)."""
    return ujson.dumps(value, ensure_ascii=False, escape_forward_slashes=False).encode("utf-8") + b"\n"


class FramingError(ProtocolError):
    """The byte stream is not a sequence of JSON texts within the size bound.

    ``texts`` are the complete texts that came before the error in the same chunk: they
    are delivered as they would have been had the chunk been split before the error,
    so how a stream is split never changes what is delivered.
    """

    def __init__(self, message, texts=()):
        super().__init__(message)
        self.texts = list(texts)


class JSONValueSplitter:
    """Incrementally split bytes into complete top-level JSON texts.

    Feed it with :meth:`feed`; it returns the raw texts completed by that chunk.
    Only objects and arrays are accepted at the top level (all that OVSDB sends).
    Raises :class:`FramingError` (a :class:`ProtocolError`) for a text larger than
    ``max_value_size`` bytes or for anything else than whitespace between texts; the
    splitter is unusable after that.
    """

    def __init__(self, max_value_size=DEFAULT_MAX_VALUE_SIZE):
        self.max_value_size = max_value_size
        self._buffer = bytearray()
        self._scan = 0          # bytes of _buffer already scanned
        self._depth = 0         # nesting depth at _scan
        self._in_string = False

    @property
    def pending(self):
        """Number of buffered bytes that are not yet part of a complete text."""
        return len(self._buffer)

    def feed(self, data):
        """Add ``data``; return the list of complete JSON texts (as bytes) it finished."""
        buf = self._buffer
        buf += data
        texts = []
        pos = self._scan
        depth = self._depth
        in_string = self._in_string
        end = len(buf)
        start = 0
        while pos < end:
            if in_string:
                m = _STRING_SPECIAL.search(buf, pos)
                if m is None:
                    pos = end
                    break
                pos = m.start()
                if buf[pos] == 0x5C:  # backslash: skip the escaped byte
                    if pos + 1 >= end:
                        break  # wait for the escaped byte
                    pos += 2
                    continue
                in_string = False
                pos += 1
                continue
            if depth == 0:
                # Between texts: skip whitespace; a text must start with { or [.
                while pos < end and buf[pos] in _WHITESPACE:
                    pos += 1
                if pos == end:
                    break
                if buf[pos] not in b"{[":
                    raise FramingError("unexpected byte %r between JSON texts" % bytes(buf[pos:pos + 1]), texts)
                start_of_text = pos
                if start_of_text > start:
                    start = start_of_text
            m = _STRUCTURAL.search(buf, pos)
            if m is None:
                pos = end
                break
            pos = m.start()
            ch = buf[pos]
            pos += 1
            if ch == 0x22:  # "
                in_string = True
            elif ch in b"{[":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    if pos - start > self.max_value_size:
                        raise FramingError("JSON text exceeds %d bytes" % self.max_value_size, texts)
                    texts.append(bytes(buf[start:pos]))
                    start = pos
        # Drop what has been consumed (complete texts and leading whitespace).
        if depth == 0 and not in_string:
            while start < pos and buf[start] in _WHITESPACE:
                start += 1
        if start:
            del buf[:start]
            pos -= start
        self._scan = pos
        self._depth = depth
        self._in_string = in_string
        if len(buf) > self.max_value_size:
            raise FramingError("JSON text exceeds %d bytes" % self.max_value_size, texts)
        return texts


class JSONStreamProtocol(Protocol):
    """A Protocol that receives and sends JSON values over a delimiter-less stream.

    Subclasses implement :meth:`value_received`.  Malformed JSON or a text larger
    than ``max_value_size`` is a protocol error: it is logged and the connection
    is closed.
    """

    log = Logger()
    max_value_size = DEFAULT_MAX_VALUE_SIZE

    def connectionMade(self):
        self._splitter = JSONValueSplitter(self.max_value_size)
        self._broken = False

    def dataReceived(self, data):
        if self._broken:
            return
        if not self._splitter.pending and len(data) <= self.max_value_size and data.rstrip()[-1:] in (b"}", b"]"):
            # Fast path: a peer usually writes one whole message at a time, and a chunk that is
            # exactly one JSON text decodes in one call.  Anything else (several texts, a part
            # of one, malformed JSON) fails to decode and goes through the splitter instead.
            try:
                value = ujson.loads(data)
            except ValueError:
                pass
            else:
                if isinstance(value, (dict, list)):
                    self.value_received(value)
                    return
        try:
            texts, error = self._splitter.feed(data), None
        except FramingError as e:
            # The texts completed before the error are delivered first, as they would be
            # from a read that ended before the bad byte.
            texts, error = e.texts, e
        for text in texts:
            if self._broken:
                return
            try:
                value = ujson.loads(text)
            except ValueError as e:
                self.protocol_error(ProtocolError("malformed JSON: %s" % e))
                return
            self.value_received(value)
        if error is not None and not self._broken:
            self.protocol_error(error)

    def protocol_error(self, error):
        """Log ``error`` and drop the connection; nothing more is read from it."""
        self._broken = True
        self.log.error("protocol error from {peer}: {error}", peer=self._peer(), error=error)
        self.transport.loseConnection()

    def _peer(self):
        try:
            return self.transport.getPeer()
        except Exception:
            return None

    def send_value(self, value):
        """Send one JSON value as one JSON text."""
        self.transport.write(encode_value(value))

    def value_received(self, value):
        """Called with each complete JSON value received; override."""
        raise NotImplementedError
