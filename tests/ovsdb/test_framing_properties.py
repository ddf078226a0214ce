"""Property tests of ovsdbus.ovsdb.framing (hypothesis): whatever the bytes and however they are split.

- Any sequence of JSON objects and arrays, written back to back by any encoder, with or without
  whitespace between them, and cut into chunks at any points, comes out as exactly those values.
- Any bytes at all end in values, a protocol error, or a partial value no larger than the size
  bound: never an exception out of ``dataReceived``, never a buffer past the bound, and never a
  peer that can keep the connection waiting forever without the bound stopping it.
- How the bytes are split never changes what is delivered.
- Large texts (kilobytes, shaped like a monitor reply, strings full of brackets, quotes and escapes)
  read in TCP- and TLS-sized pieces come out whole, each in the read that completes it.
- Whatever the bytes and the reads, the splitter delivers exactly the texts, and reports an error
  exactly when, the framing rules applied byte by byte to the whole stream say (reference_split).
"""

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ovsdbus.ovsdb.framing import FramingError, JSONValueSplitter, encode_value
from tests.ovsdb.test_framing import connect

#: Examples per property; each example is cheap (a few kB of JSON, at most some 100 kB for large texts).
EXAMPLES = 100


def chunks(data, cuts):
    """``data`` cut at the (unsorted, possibly repeated) offsets ``cuts``."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0] + points, points + [len(data)], strict=True)]


def feed(protocol, pieces):
    """Feed ``pieces`` one ``dataReceived`` each, as TCP would deliver them."""
    for piece in pieces:
        protocol.dataReceived(piece)


#: JSON scalars as OVSDB has them: null, booleans, 64-bit integers, finite reals, any text.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2 ** 63, max_value=2 ** 63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)

#: Any JSON value (nested arrays and objects of scalars).
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=16,
)

#: What can be a top-level JSON text on an OVSDB connection: an object or an array.
TOP_LEVEL = st.one_of(st.lists(VALUES, max_size=4), st.dictionaries(st.text(max_size=6), VALUES, max_size=4))


def _ujson(value):
    return encode_value(value)


def _json_ascii(value):
    # Every non-ASCII character escaped, astral ones as surrogate pairs (\ud83d\ude00).
    return json.dumps(value).encode("ascii")


def _json_utf8_spaced(value):
    # Raw UTF-8 and whitespace around every token.
    return json.dumps(value, ensure_ascii=False, separators=(" , ", " : ")).encode("utf-8")


def _json_indented(value):
    # Newlines and indentation inside the text, as a human would write it.
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8")


ENCODERS = st.sampled_from([_ujson, _json_ascii, _json_utf8_spaced, _json_indented])

#: What a peer may put between texts.
GAPS = st.text(alphabet=" \t\r\n", max_size=3).map(lambda s: s.encode("ascii"))


@st.composite
def streams(draw):
    """``(bytes, values, texts)``: several top-level values, each encoded by some encoder as one of
    ``texts``, back to back with whitespace (or nothing) between them."""
    values = draw(st.lists(TOP_LEVEL, max_size=6))
    texts = [draw(ENCODERS)(value) for value in values]
    parts = [draw(GAPS)]
    for text in texts:
        parts += [text, draw(GAPS)]
    return b"".join(parts), values, texts


#: Bytes a broken or hostile peer might send: mostly JSON's structural bytes, so that the framer
#: gets deep into strings, escapes and nesting, plus any byte at all.
NOISE_BYTE = st.one_of(st.sampled_from(list(b'{}[]"\\:, \n\tax0\xc3\xa9')), st.integers(0, 255))
NOISE = st.lists(NOISE_BYTE, max_size=200).map(bytes)


@st.composite
def noisy_streams(draw):
    """Valid texts and noise, interleaved."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            parts.append(draw(ENCODERS)(draw(TOP_LEVEL)))
        else:
            parts.append(draw(NOISE))
    return b"".join(parts)


class ValidStreamTests(SynchronousTestCase):
    """Valid streams give exactly their values, whatever the chunking."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(streams(), st.data())
    def test_any_split_gives_the_values(self, stream, data):
        """Values written back to back (any encoder, any whitespace between) and split at any points
        arrive complete, in order, each once, and the connection stays open with nothing pending."""
        raw, values, _ = stream
        cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=12), label="cuts")
        protocol, transport = connect()
        feed(protocol, chunks(raw, cuts))
        self.assertEqual(protocol.values, values)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(protocol._splitter.pending, 0)

    @settings(max_examples=EXAMPLES // 4, deadline=None, database=None)
    @given(streams())
    def test_byte_at_a_time_gives_the_values(self, stream):
        """The same values arrive when the stream trickles in one byte per read."""
        raw, values, _ = stream
        protocol, transport = connect()
        feed(protocol, [raw[i:i + 1] for i in range(len(raw))])
        self.assertEqual(protocol.values, values)
        self.assertFalse(transport.disconnecting)

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(streams(), st.data())
    def test_values_within_the_bound_pass(self, stream, data):
        """With the bound set to the size of the largest text, every value still arrives: the bound is
        per value, not per connection, and whitespace between values does not count."""
        raw, values, texts = stream
        bound = max([len(t) for t in texts] + [1])
        cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=12), label="cuts")
        protocol, transport = connect(max_value_size=bound)
        feed(protocol, chunks(raw, cuts))
        self.assertEqual(protocol.values, values)
        self.assertFalse(transport.disconnecting)


class AnyBytesTests(SynchronousTestCase):
    """Whatever a peer sends, the framer ends in values, an error, or a bounded wait."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(noisy_streams(), st.integers(8, 300), st.data())
    def test_bounded_and_no_exception(self, raw, bound, data):
        """After every read, either the connection is being closed (a protocol error) or what is
        buffered fits the bound; nothing raises out of dataReceived, and only objects and arrays
        are delivered."""
        cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=20), label="cuts")
        protocol, transport = connect(max_value_size=bound)
        for piece in chunks(raw, cuts):
            protocol.dataReceived(piece)
            if not transport.disconnecting:
                self.assertLessEqual(protocol._splitter.pending, bound)
        for value in protocol.values:
            self.assertIsInstance(value, (dict, list))

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(noisy_streams(), st.integers(8, 300), st.sampled_from([b"x", b" ", b"{", b"[", b'"', b"\\"]))
    def test_no_endless_wait(self, raw, bound, filler):
        """Whatever came first, a peer that goes on sending the same byte (letters, spaces, brackets,
        quotes, backslashes) is either waiting at a boundary with nothing buffered (spaces between
        values) or is disconnected once it has sent more than the bound: it can never hold the
        connection in a partial value forever."""
        protocol, transport = connect(max_value_size=bound)
        protocol.dataReceived(raw)
        for _ in range(bound + 2):
            if transport.disconnecting:
                break
            protocol.dataReceived(filler)
        if not transport.disconnecting:
            self.assertEqual(filler, b" ")
            self.assertEqual(protocol._splitter.pending, 0)

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(noisy_streams(), st.integers(8, 300), st.data())
    def test_chunking_does_not_change_the_outcome(self, raw, bound, data):
        """The values delivered and whether the connection is dropped are the same whether the bytes
        arrive in one read, one byte per read, or in any other chunks; in particular values that
        came before an error in the same read are delivered as they would be from separate reads."""
        outcomes = []
        cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=20), label="cuts")
        for pieces in ([raw], [raw[i:i + 1] for i in range(len(raw))], chunks(raw, cuts)):
            protocol, transport = connect(max_value_size=bound)
            feed(protocol, pieces)
            outcomes.append((protocol.values, transport.disconnecting))
        self.assertEqual(outcomes[1], outcomes[0])
        self.assertEqual(outcomes[2], outcomes[0])

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(streams(), st.sampled_from([b"x", b",", b"}", b"]", b"1", b'"', b"\x00", b"\xa0", b"\x0c"]))
    def test_garbage_after_values_is_an_error(self, stream, garbage):
        """Valid values followed by a byte that cannot start a JSON text: the values are delivered and
        the connection is dropped, in one read or several."""
        raw, values, _ = stream
        for pieces in ([raw + garbage], [raw, garbage]):
            protocol, transport = connect()
            feed(protocol, pieces)
            self.assertEqual(protocol.values, values)
            self.assertTrue(transport.disconnecting)

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(TOP_LEVEL, ENCODERS, st.integers(0, 2000))
    def test_oversize_value_is_an_error(self, value, encoder, slack):
        """A value larger than the bound is never delivered: the connection is dropped, whether it
        arrives whole or a byte at a time."""
        text = encoder(value).strip()
        if len(text) < 3:
            text = b'["' + b"x" * (slack + 2) + b'"]'
        bound = max(1, len(text) - 1 - slack % len(text))
        for pieces in ([text], [text[i:i + 1] for i in range(len(text))]):
            protocol, transport = connect(max_value_size=bound)
            feed(protocol, pieces)
            self.assertEqual(protocol.values, [])
            self.assertTrue(transport.disconnecting)


def reference_split(data, bound):
    """The framing rules applied byte by byte to ``data`` read at once: ``(texts, error)``, the texts
    completed before the first framing error and whether there is one (a byte other than whitespace
    between texts, or a text, complete or not, of more than ``bound`` bytes)."""
    texts, depth, in_string, escaped, start = [], 0, False, False, 0
    for i, byte in enumerate(data):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif depth == 0:
            if byte in b" \t\r\n":
                continue
            if byte not in b"{[":
                return texts, True
            start, depth = i, 1
        elif byte == 0x22:
            in_string = True
        elif byte in b"{[":
            depth += 1
        elif byte in b"}]":
            depth -= 1
            if depth == 0:
                if i + 1 - start > bound:
                    return texts, True
                texts.append(data[start:i + 1])
    return texts, depth > 0 and len(data) - start > bound


def split_in_reads(data, pieces, bound):
    """What a JSONValueSplitter delivers from ``pieces``: ``(texts, error)`` as in reference_split."""
    splitter = JSONValueSplitter(max_value_size=bound)
    texts = []
    for piece in pieces:
        try:
            texts += splitter.feed(piece)
        except FramingError as e:
            return texts + e.texts, True
    return texts, False


#: Text made to trip up bulk accounting: mostly brackets, quotes and backslashes (escaped in the
#: encoding), some non-ASCII.
#: Escaped quotes around brackets and backslashes before quotes: the quotes alone do not pair up.
NASTY_STRINGS = st.sampled_from(['"["', '"{"', '"]"', '"}', '{"', '\\', '\\"', '"\\"[', '\\\\]', '"', '""]"[""'])
BRACKETY_TEXT = st.one_of(st.text(alphabet='{}[]"\\ a/\u00e9\U0001F600', max_size=10), NASTY_STRINGS)
BRACKETY_VALUES = st.recursive(
    st.one_of(BRACKETY_TEXT, st.integers(-5, 5), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(BRACKETY_TEXT, inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def large_texts(draw):
    """``(text, value)``: one JSON text of about 1 to 60 kB shaped like a monitor reply (rows of
    columns under uuids under tables, nested a few levels), whose strings are plain or full of
    brackets, quotes and escapes, by some encoder."""
    plain = draw(st.booleans())
    rows = draw(st.lists(st.tuples(BRACKETY_VALUES, NASTY_STRINGS), min_size=1, max_size=6))
    copies = draw(st.integers(20, 400))
    table = {}
    for i in range(copies):
        value, nasty = ("plain", "text") if plain else rows[i % len(rows)]
        table["%08x-uuid" % i] = {"initial": {"name": "p%d" % i, "value": value, "nasty": nasty,
                                              "ids": ["map", [["k", "v%d" % i]]]}}
    value = {"id": 1, "error": None, "result": {"Interface": table}}
    return draw(ENCODERS)(value), value


#: Read sizes: TCP's and TLS's usual ones, ones about the texts' sizes, and small odd ones.
READ_SIZES = st.sampled_from([65536, 16384, 4096, 1025, 1024, 1023, 100, 7])


class LargeTextTests(SynchronousTestCase):
    """Texts of many kilobytes, read in pieces, come out whole and where they end."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(large_texts(), READ_SIZES, st.data())
    def test_large_text_in_any_reads(self, text_value, read_size, data):
        """A large text, with more texts before and after it, read in fixed-size pieces or cut at
        random points, arrives as its value, each text delivered by the read that completes it."""
        text, value = text_value
        raw = b' {"before":1}\n' + text + b'{"after":["]"]}'
        if data.draw(st.booleans(), label="fixed reads"):
            pieces = [raw[i:i + read_size] for i in range(0, len(raw), read_size)]
        else:
            pieces = chunks(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=8), label="cuts"))
        protocol, transport = connect()
        received = 0
        for piece in pieces:
            received += len(piece)
            protocol.dataReceived(piece)
            # Values completed by this read are there at once: no waiting for later bytes.
            complete = [len(b' {"before":1}'), len(b' {"before":1}\n') + len(text.rstrip()), len(raw)]
            self.assertEqual(len(protocol.values), len([c for c in complete if c <= received]))
        self.assertEqual(protocol.values, [{"before": 1}, value, {"after": ["]"]}])
        self.assertFalse(transport.disconnecting)
        self.assertEqual(protocol._splitter.pending, 0)

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(large_texts(), NOISE, st.integers(0, 3), READ_SIZES, st.data())
    def test_same_as_byte_by_byte_rules(self, text_value, noise, where, read_size, data):
        """Large texts with noise before, inside or after them, under a bound that may be smaller than
        them: read in pieces, the splitter delivers exactly the texts, and reports an error exactly
        when, the byte-by-byte framing rules say for the whole stream at once."""
        text, _ = text_value
        cut = len(text) * where // 3
        raw = text[:cut] + noise + text[cut:] + text
        bound = data.draw(st.sampled_from([len(text) - 1, len(text), len(text) + len(noise), 64 * 1024 * 1024]),
                          label="bound")
        pieces = [raw[i:i + read_size] for i in range(0, len(raw), read_size)]
        self.assertEqual(split_in_reads(raw, pieces, bound), reference_split(raw, bound))


class ReferenceTests(SynchronousTestCase):
    """The splitter follows the byte-by-byte framing rules on any bytes."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(noisy_streams(), st.integers(8, 300), st.data())
    def test_same_as_byte_by_byte_rules(self, raw, bound, data):
        """Whatever bytes arrive, cut anywhere, the texts delivered and whether there is an error are
        those of the byte-by-byte rules applied to the whole stream."""
        cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=20), label="cuts")
        self.assertEqual(split_in_reads(raw, chunks(raw, cuts), bound), reference_split(raw, bound))
