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
#: The rest of a string, from inside it: stops at its closing quote, at the end of the buffer, or
#: at a backslash that is the buffer's last byte (the byte it escapes has not arrived yet).
_STRING_REST = re.compile(rb'(?:[^"\\]+|\\.)*', re.DOTALL)
#: From outside any string: bytes outside strings and complete strings holding no bracket; stops at
#: the opening quote of a string that holds a bracket or does not end before the limit.  The string
#: is written so that it can match in one way only: a failed try costs its length, not more.  (No
#: possessive quantifiers: Python 3.11.2's, Debian bookworm's, are buggy.)
_PLAIN_PREFIX = re.compile(rb'(?:[^"]+|"[^"\\{}\[\]]*(?:\\.[^"\\{}\[\]]*)*")*', re.DOTALL)
_WHITESPACE = b" \t\r\n"

#: bytes.translate arguments: ``{`` read as ``[`` and ``}`` as ``]`` (nesting is counted whatever
#: the kind of bracket), and every byte deleted but quotes and brackets, or but brackets.
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_ALL_BUT_QUOTES_AND_BRACKETS = bytes(c for c in range(256) if c not in b'"{}[]')
_ALL_BUT_BRACKETS = bytes(c for c in range(256) if c not in b"{}[]")

#: Bulk accounting (JSONValueSplitter._skip_ahead) looks at windows of at least this many bytes;
#: the window doubles while whole windows are skipped, up to _MAX_WINDOW.
_MIN_WINDOW = 1024
_MAX_WINDOW = 1024 * 1024
#: Nesting deeper than this within one window is left to the byte-by-byte scanner.
_MAX_PASSES = 64


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

    It tracks the nesting depth outside strings.  Inside a large text (a monitor reply
    of megabytes) whole windows of bytes are accounted for in a few C-level calls
    (:meth:`_skip_ahead`); near the point where a text may end it scans structural
    bytes one by one, so a text is delivered by the read that completes it.
    """

    def __init__(self, max_value_size=DEFAULT_MAX_VALUE_SIZE):
        self.max_value_size = max_value_size
        self._buffer = bytearray()
        self._scan = 0          # bytes of _buffer already scanned
        self._depth = 0         # nesting depth at _scan
        self._in_string = False
        self._window = _MIN_WINDOW

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
        scan_one_by_one_until = 0
        while pos < end:
            if in_string:
                pos = _STRING_REST.match(buf, pos).end()
                if pos == end or buf[pos] != 0x22:
                    break  # the string goes on in a later read (perhaps after a backslash)
                pos += 1
                in_string = False
                continue
            if depth == 0:
                # Between texts: skip whitespace; a text must start with { or [.
                while pos < end and buf[pos] in _WHITESPACE:
                    pos += 1
                if pos == end:
                    break
                if buf[pos] not in b"{[":
                    raise FramingError("unexpected byte %r between JSON texts" % bytes(buf[pos:pos + 1]), texts)
                start = pos
            elif pos >= scan_one_by_one_until and end - pos >= _MIN_WINDOW:
                skipped_to, skipped_depth = self._skip_ahead(buf, pos, depth, min(end, pos + self._window))
                if skipped_to is None:
                    # The text may end within the next _MIN_WINDOW bytes: find where, byte by byte.
                    scan_one_by_one_until = pos + _MIN_WINDOW
                    self._window = _MIN_WINDOW
                elif skipped_to > pos:
                    skipped = skipped_to - pos
                    self._window = min(2 * self._window, _MAX_WINDOW) if 2 * skipped >= self._window \
                        else max(_MIN_WINDOW, 2 * skipped)
                    pos, depth = skipped_to, skipped_depth
                    if pos < end and buf[pos] == 0x22:
                        # Stopped at a string holding a bracket (or going on past the window).
                        in_string = True
                        pos += 1
                    continue
                # else a string starts at pos that only the scanner below can walk over.
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
                    with memoryview(buf) as view:
                        texts.append(bytes(view[start:pos]))  # one copy, not two
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

    @staticmethod
    def _skip_ahead(buf, pos, depth, limit):
        """Account for ``buf[pos:limit]`` in bulk, from outside strings at nesting ``depth`` > 0.

        Returns ``(position, depth)`` of a point up to which the bytes provably do not bring
        the depth back to 0 (a position outside strings, ``pos`` itself when a string starting
        there must be scanned), or ``(None, None)`` when the depth may return to 0 within the
        next :data:`_MIN_WINDOW` bytes.
        """
        while True:
            plain_end, brackets = _plain_part(buf, pos, limit)
            if plain_end == pos:
                return pos, depth
            unmatched = _unmatched_brackets(brackets)
            if unmatched is not None and unmatched[0] < depth:
                closers, openers = unmatched
                return plain_end, depth - closers + openers
            # The depth may reach 0 before plain_end (or the nesting is too deep to tell): try
            # the first half.
            if plain_end - pos <= _MIN_WINDOW:
                return None, None
            limit = pos + (plain_end - pos) // 2


def _plain_part(buf, pos, limit):
    """``(plain_end, brackets)``: from ``pos`` (outside strings), ``buf[pos:plain_end]`` is bytes
    outside strings and complete strings holding no bracket, as far towards ``limit`` as can be told
    in bulk, and ``brackets`` its brackets (all outside strings) as ``[`` and ``]``."""
    window = buf[pos:limit]
    if b"\\" not in window:
        # No escapes: quotes alternately open and close strings.  Keep only quotes and brackets;
        # if then removing every ``""`` removes every quote, the quotes paired up in order, with
        # no bracket between the two quotes of any string.  An odd last quote opens a string that
        # goes on past the limit: stop before it.
        marks = window.translate(_AS_SQUARE, _ALL_BUT_QUOTES_AND_BRACKETS)
        plain_end = limit
        if marks.count(b'"') % 2:
            marks = marks[:marks.rfind(b'"')]
            plain_end = pos + window.rfind(b'"')
        brackets = marks.replace(b'""', b"")
        if b'"' not in brackets:
            return plain_end, brackets
    plain_end = _PLAIN_PREFIX.match(buf, pos, limit).end()
    return plain_end, buf[pos:plain_end].translate(_AS_SQUARE, _ALL_BUT_BRACKETS)


def _unmatched_brackets(brackets):
    """``(closers, openers)``: how many of ``brackets`` (only ``[`` and ``]``) are left unmatched,
    which is how far the depth drops below its start and then how far it ends above that low; or
    None when the nesting is too deep to reduce in a few passes."""
    for _ in range(_MAX_PASSES):
        reduced = brackets.replace(b"[]", b"")
        if len(reduced) == len(brackets):
            closers = reduced.find(b"[")
            if closers < 0:
                closers = len(reduced)
            return closers, len(reduced) - closers
        brackets = reduced
    return None


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
