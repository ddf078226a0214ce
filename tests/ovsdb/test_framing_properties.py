"""Property tests of ovsdbus.ovsdb.framing (hypothesis): whatever the bytes and however they are split.

- Any sequence of JSON objects and arrays, written back to back by any encoder, with or without
  whitespace between them, and cut into chunks at any points, comes out as exactly those values.
- Any bytes at all end in values, a protocol error, or a partial value no larger than the size
  bound: never an exception out of ``dataReceived``, never a buffer past the bound, and never a
  peer that can keep the connection waiting forever without the bound stopping it.
- How the bytes are split never changes what is delivered.
"""

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ovsdbus.ovsdb.framing import encode_value
from tests.ovsdb.test_framing import connect

#: Examples per property; each example is cheap (a few kB of JSON at most).
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
