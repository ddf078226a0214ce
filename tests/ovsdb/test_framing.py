"""Tests for ovsdbus.ovsdb.framing: a delimiter-less byte stream <-> JSON values.

ovsdb-server writes JSON texts back to back (``{...}{...}``) and splits them at any
byte, so the receiver is fed here one byte at a time, in merged chunks and at
every possible split point, through ``StringTransport``.
"""

import random

import ujson
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.errors import ProtocolError
from ovsdbus.ovsdb.framing import JSONStreamProtocol, JSONValueSplitter, encode_value


class Recorder(JSONStreamProtocol):
    """A stream protocol that keeps every value it receives."""

    def __init__(self, max_value_size=None):
        self.values = []
        if max_value_size is not None:
            self.max_value_size = max_value_size

    def value_received(self, value):
        self.values.append(value)


def connect(max_value_size=None):
    protocol = Recorder(max_value_size)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


#: Values whose encodings stress the splitter: structural characters, quotes and
#: backslashes inside strings, escapes, non-ASCII text, nesting, empty containers.
TRICKY_VALUES = [
    {"id": 1, "result": [{"uuid": ["uuid", "0cfa1d5b-5d4f-4e2c-9c3e-9b1a1a0e3f11"]}], "error": None},
    {"s": "}{][", "t": "\"{\"", "u": "\\", "v": "\\\"}", "w": "\\\\"},
    {"k}\"{": ["]", "[", "\\]"], "": {}},
    ["set", []],
    [],
    {},
    {"text": "caf\u00e9 \u00fc \u20ac \U0001F600 \u2028 \u0000 \t\n\r"},
    [[[[[{"deep": [[[]]]}]]]]],
    {"n": -9223372036854775808, "m": 9223372036854775807, "r": 1.5e-300, "b": [True, False, None]},
]


def tricky_stream():
    """The encodings of TRICKY_VALUES, some as our encoder writes them and some hand
    written with the escapes and spacing other peers use, back to back."""
    parts = [ujson.dumps(v, ensure_ascii=False).encode("utf-8") for v in TRICKY_VALUES]
    parts.append(b'{"esc":"\\u00e9\\"\\\\\\/\\b\\f\\n\\r\\t\\ud83d\\ude00"}')
    parts.append(b'[ 1 , { "a" : [ "]" ] } ]')
    expected = list(TRICKY_VALUES) + [{"esc": "\u00e9\"\\/\b\f\n\r\t\U0001F600"}, [1, {"a": ["]"]}]]
    return b"".join(parts), expected


class SplittingTests(TestCase):
    """Complete values come out whatever the chunk boundaries are."""

    def test_one_byte_at_a_time(self):
        """Values trickling in a byte at a time arrive complete, in order, each exactly once."""
        stream, expected = tricky_stream()
        protocol, transport = connect()
        for i in range(len(stream)):
            protocol.dataReceived(stream[i:i + 1])
        self.assertEqual(protocol.values, expected)
        self.assertFalse(transport.disconnecting)

    def test_merged_chunk(self):
        """Many values arriving in one read are all delivered, in order."""
        stream, expected = tricky_stream()
        protocol, transport = connect()
        protocol.dataReceived(stream)
        self.assertEqual(protocol.values, expected)
        self.assertFalse(transport.disconnecting)

    def test_every_split_point(self):
        """Wherever TCP splits the stream in two, the same values arrive."""
        stream, expected = tricky_stream()
        for i in range(1, len(stream)):
            protocol, transport = connect()
            protocol.dataReceived(stream[:i])
            protocol.dataReceived(stream[i:])
            self.assertEqual(protocol.values, expected, "split at byte %d" % i)
            self.assertFalse(transport.disconnecting)

    def test_random_chunks(self):
        """Random chunkings (fixed seed) of a long stream give the same values."""
        stream, expected = tricky_stream()
        stream, expected = stream * 5, expected * 5
        rng = random.Random(7047)
        for _ in range(50):
            protocol, transport = connect()
            pos = 0
            while pos < len(stream):
                n = rng.randint(1, 40)
                protocol.dataReceived(stream[pos:pos + n])
                pos += n
            self.assertEqual(protocol.values, expected)
            self.assertFalse(transport.disconnecting)

    def test_value_delivered_as_soon_as_complete(self):
        """A value is delivered on the byte that completes it, not when the next one starts."""
        protocol, _ = connect()
        protocol.dataReceived(b'{"a": [1, 2')
        self.assertEqual(protocol.values, [])
        protocol.dataReceived(b"]")
        self.assertEqual(protocol.values, [])
        protocol.dataReceived(b"}")
        self.assertEqual(protocol.values, [{"a": [1, 2]}])

    def test_whitespace_between_values(self):
        """Spaces, tabs and newlines before, between and after values are ignored."""
        protocol, transport = connect()
        protocol.dataReceived(b'  \n{"a":1}\n\n\t{"b":2}\r\n [3] ')
        protocol.dataReceived(b"\n \t")
        protocol.dataReceived(b' {"c":4}')
        self.assertEqual(protocol.values, [{"a": 1}, {"b": 2}, [3], {"c": 4}])
        self.assertFalse(transport.disconnecting)

    def test_split_mid_escape(self):
        """A chunk boundary right after a backslash inside a string does not end the string."""
        cases = [
            (b'{"s":"a\\', b'"}"}', {"s": 'a"}'}),
            (b'{"s":"a\\', b'\\"}', {"s": "a\\"}),
            (b'{"s":"a\\\\', b'"}', {"s": "a\\"}),
            (b'{"s":"\\u00', b'e9}"}', {"s": "\u00e9}"}),
            (b'{"s":"\xc3', b'\xa9"}', {"s": "\u00e9"}),
        ]
        for first, second, value in cases:
            protocol, transport = connect()
            protocol.dataReceived(first)
            self.assertEqual(protocol.values, [])
            protocol.dataReceived(second)
            self.assertEqual(protocol.values, [value], (first, second))
            self.assertFalse(transport.disconnecting)

    def test_whitespace_does_not_accumulate(self):
        """A peer sending endless whitespace between values costs no memory."""
        splitter = JSONValueSplitter(max_value_size=100)
        for _ in range(100):
            self.assertEqual(splitter.feed(b" \n\t\r" * 10), [])
        self.assertEqual(splitter.pending, 0)
        self.assertEqual(splitter.feed(b'{"a":1}'), [b'{"a":1}'])
        self.assertEqual(splitter.pending, 0)

    def test_many_values_under_the_size_bound(self):
        """The size bound applies to each value, not to the whole conversation."""
        protocol, transport = connect(max_value_size=32)
        for i in range(100):
            protocol.dataReceived(b'{"n":%d,"pad":"xxxxxxxxxx"}' % i)
        self.assertEqual(len(protocol.values), 100)
        self.assertFalse(transport.disconnecting)


def monitor_reply(rows, nasty=""):
    """A monitor reply shaped like ovsdb-server's initial one, ``rows`` Interface rows (about 150 bytes
    each), each with the string ``nasty`` in a column, as ``(text, value)``."""
    table = {}
    for i in range(rows):
        table["%08x-5d4f-4e2c-9c3e-9b1a1a0e3f11" % i] = {"initial": {
            "name": "p%d" % i, "ofport": i, "nasty": nasty,
            "external_ids": ["map", [["attached-mac", "02:00:00:00:%02x:%02x" % (i >> 8 & 255, i & 255)]]],
            "error": ["set", []]}}
    value = {"id": 1, "error": None, "result": {"Interface": table}}
    return encode_value(value), value


def reads(data, size):
    """``data`` in reads of ``size`` bytes."""
    return [data[i:i + size] for i in range(0, len(data), size)]


class LargeTextTests(TestCase):
    """Texts of megabytes (the initial monitor reply of a large switch) arrive whole and on time."""

    def test_large_reply_in_tcp_and_tls_reads(self):
        """A 1.5 MB reply read in 64 kB (TCP) or 16 kB (TLS record) pieces arrives as its value, with
        the texts around it, each delivered by the read that completes it."""
        text, value = monitor_reply(10000)
        raw = b'{"before":1}' + text + b'{"after":2}'
        for size in (65536, 16384):
            protocol, transport = connect()
            received = 0
            for piece in reads(raw, size):
                received += len(piece)
                protocol.dataReceived(piece)
                expected = [{"before": 1}] + ([value] if received >= len(raw) - 12 else [])
                expected += [{"after": 2}] if received == len(raw) else []
                self.assertEqual(len(protocol.values), len(expected), (size, received))
            self.assertEqual(protocol.values, [{"before": 1}, value, {"after": 2}])
            self.assertFalse(transport.disconnecting)

    def test_strings_with_brackets_and_escaped_quotes(self):
        """Strings holding brackets between escaped quotes, lone escaped quotes or backslashes before
        the closing quote do not change where a large text ends, however it is read."""
        for nasty in ['"["', '"{"', '"]"', '\\"}', '\\', 'a\\"[\\', "[[[[{{{{"]:
            text, value = monitor_reply(2000, nasty)
            for size in (65536, 4096, 1025):
                protocol, transport = connect()
                for piece in reads(text + text, size):
                    protocol.dataReceived(piece)
                self.assertEqual(protocol.values, [value, value], (nasty, size))
                self.assertFalse(transport.disconnecting)

    def test_next_text_in_the_same_read(self):
        """When the read that ends a large text also brings the start of the next one, the large text
        is delivered at once, even if the peer then sends nothing more."""
        text, value = monitor_reply(2000)
        protocol, _ = connect()
        protocol.dataReceived(text[:-100])
        self.assertEqual(protocol.values, [])
        protocol.dataReceived(text[-100:] + b'{"id":2,"res')
        self.assertEqual(protocol.values, [value])

    def test_deep_nesting(self):
        """Large texts nested deeper than a window's bulk accounting reduces still end where they end."""
        value = ["x"] * 50
        for _ in range(100):
            value = [value, {"k": value}] if len(str(value)) < 20000 else [value]
        deep = b"[" * 300 + b"]" * 300
        for size in (65536, 4096):
            protocol, transport = connect()
            for piece in reads(encode_value(value) + deep + encode_value(value), size):
                protocol.dataReceived(piece)
            self.assertEqual(len(protocol.values), 3)
            self.assertEqual(protocol.values[0], value)
            self.assertEqual(encode_value(protocol.values[1]).strip(), deep)
            self.assertEqual(protocol.values[2], value)
            self.assertFalse(transport.disconnecting)

    def test_oversize_large_text_refused_before_it_ends(self):
        """A large text past the bound is refused once more than the bound is buffered, before it ends:
        what a peer can make the service buffer stays bounded."""
        text, _ = monitor_reply(2000)
        protocol, transport = connect(max_value_size=100000)
        pieces = reads(text, 16384)
        fed = 0
        while not transport.disconnecting:
            self.assertLessEqual(protocol._splitter.pending, 100000)
            protocol.dataReceived(pieces[fed])
            fed += 1
        self.assertLess(fed, len(pieces))
        self.assertEqual(protocol.values, [])

    def test_junk_after_large_text(self):
        """Junk right after a large text: the text is delivered, then the connection is closed."""
        text, value = monitor_reply(2000)
        protocol, transport = connect()
        for piece in reads(text.rstrip() + b'x{"a":1}', 65536):
            protocol.dataReceived(piece)
        self.assertEqual(protocol.values, [value])
        self.assertTrue(transport.disconnecting)

    def test_malformed_large_text(self):
        """A large text with balanced brackets but invalid JSON inside is a protocol error when decoded."""
        text, _ = monitor_reply(2000)
        protocol, transport = connect()
        for piece in reads(text.replace(b'"ofport":7,', b'"ofport":7,,', 1), 65536):
            protocol.dataReceived(piece)
        self.assertEqual(protocol.values, [])
        self.assertTrue(transport.disconnecting)


class BrokenPeerTests(TestCase):
    """A peer that breaks the framing is disconnected and nothing more is read from it."""

    def assertClosed(self, transport):
        self.assertTrue(transport.disconnecting, "connection was not closed")

    def test_oversize_value_trickling_in(self):
        """A value that grows past the bound closes the connection before it completes."""
        protocol, transport = connect(max_value_size=64)
        protocol.dataReceived(b'{"a":"')
        for _ in range(100):
            protocol.dataReceived(b"x")
        self.assertClosed(transport)
        protocol.dataReceived(b'"}{"b":1}')
        self.assertEqual(protocol.values, [])

    def test_oversize_value_in_one_chunk(self):
        """A complete value larger than the bound is refused even if it arrives in one read."""
        protocol, transport = connect(max_value_size=64)
        protocol.dataReceived(b'{"a":"' + b"x" * 200 + b'"}')
        self.assertEqual(protocol.values, [])
        self.assertClosed(transport)

    def test_value_of_exactly_the_bound(self):
        """A value exactly as large as the bound is accepted."""
        text = b'{"a":"' + b"x" * 56 + b'"}'
        self.assertEqual(len(text), 64)
        protocol, transport = connect(max_value_size=64)
        for i in range(len(text)):
            protocol.dataReceived(text[i:i + 1])
        self.assertEqual(protocol.values, [{"a": "x" * 56}])
        self.assertFalse(transport.disconnecting)

    def test_malformed_json(self):
        """Balanced but invalid JSON closes the connection and is not delivered."""
        for bad in [b'{"a":}', b'{"a" 1}', b"{a:1}", b'{"a":1,,}', b"[1 2]", b'{"a":tru}', b"{]"]:
            protocol, transport = connect()
            protocol.dataReceived(bad)
            protocol.dataReceived(b'{"after":1}')
            self.assertClosed(transport)
            self.assertEqual(protocol.values, [], bad)

    def test_garbage_between_values(self):
        """Bytes other than whitespace between values close the connection."""
        for garbage in [b"x", b",", b"1", b'"s"', b"}", b"]", b"null", b"\x00"]:
            protocol, transport = connect()
            protocol.dataReceived(b'{"a":1}')
            protocol.dataReceived(garbage + b'{"b":2}')
            self.assertClosed(transport)
            self.assertEqual(protocol.values, [{"a": 1}], garbage)

    def test_values_before_an_error_in_the_same_read(self):
        """Values that complete before a framing error in the same read are delivered, as they are
        when the bad bytes come in a later read; then the connection is closed."""
        for bad in [b"x", b"]", b'{"b":"' + b"x" * 100, b'{"b":"' + b"x" * 100 + b'"}']:
            protocol, transport = connect(max_value_size=64)
            protocol.dataReceived(b'{"a":1} [2]\n' + bad + b'{"c":3}')
            self.assertEqual(protocol.values, [{"a": 1}, [2]], bad)
            self.assertClosed(transport)

    def test_garbage_before_first_value(self):
        """A peer that does not speak JSON at all (say an HTTP client) is disconnected."""
        protocol, transport = connect()
        protocol.dataReceived(b"GET / HTTP/1.1\r\n\r\n")
        self.assertClosed(transport)
        self.assertEqual(protocol.values, [])

    def test_nothing_read_after_error(self):
        """After a protocol error, even valid values are not delivered any more."""
        protocol, transport = connect()
        protocol.dataReceived(b"!")
        self.assertClosed(transport)
        protocol.dataReceived(b'{"a":1}{"b":2}')
        self.assertEqual(protocol.values, [])

    def test_splitter_raises_protocol_error(self):
        """The splitter on its own reports framing errors as ProtocolError."""
        self.assertRaises(ProtocolError, JSONValueSplitter().feed, b"oops")
        self.assertRaises(ProtocolError, JSONValueSplitter(max_value_size=8).feed, b'{"a":"xxxxxxxx')


class SendingTests(TestCase):
    """What send_value writes is one JSON text that a receiver reads back unchanged."""

    def test_send_value_round_trip(self):
        """Each sent value is read back, alone and equal, by the splitter."""
        for value in TRICKY_VALUES:
            protocol, transport = connect()
            protocol.send_value(value)
            data = transport.value()
            texts = JSONValueSplitter().feed(data)
            self.assertEqual(len(texts), 1, data)
            self.assertEqual(ujson.loads(texts[0]), value)

    def test_sent_values_back_to_back(self):
        """Several sent values form a stream that a peer splits into the same values."""
        protocol, transport = connect()
        for value in TRICKY_VALUES:
            protocol.send_value(value)
        receiver, _ = connect()
        data = transport.value()
        for i in range(len(data)):
            receiver.dataReceived(data[i:i + 1])
        self.assertEqual(receiver.values, TRICKY_VALUES)

    def test_encoding_is_utf8_and_keeps_slashes(self):
        """Non-ASCII text is sent as UTF-8 and '/' is not escaped (unix socket paths stay readable)."""
        data = encode_value({"path": "/var/run/openvswitch/db.sock", "name": "br\u00e9"})
        self.assertIn(b"/var/run/openvswitch/db.sock", data)
        self.assertIn("br\u00e9".encode("utf-8"), data)
        self.assertEqual(ujson.loads(data), {"path": "/var/run/openvswitch/db.sock", "name": "br\u00e9"})

    def test_reals_keep_their_precision(self):
        """A real column value survives encoding without losing digits."""
        for x in [0.1, 1.2345678901234567, 1e-300, 12345678.875]:
            self.assertEqual(ujson.loads(encode_value([x])), [x])
