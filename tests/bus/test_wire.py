"""Tests for ovsdbus.bus.wire: the D-Bus messages ovsdbus writes, byte for byte.

Everything the service sends on the bus (signals, replies, errors) is encoded here,
so a mistake means clients that cannot parse what they get, or a bus daemon that
drops the service's connection.  Each message is parsed back with txdbus's own
parser (``txdbus.message.parseMessage``), and the layout rules of the D-Bus
specification (alignment, array lengths, padding) are checked on raw bytes.
"""

import struct

from twisted.trial.unittest import TestCase
from txdbus import marshal as txdbus_marshal
from txdbus.message import ErrorMessage, MethodReturnMessage, SignalMessage, parseMessage

from ovsdbus.bus import wire as dbuswire
from ovsdbus.bus.wire import SignatureError, encode_body, split_signature
from ovsdbus.projection import text


def roundtrip(signature, values):
    """Encode ``values`` as the body of a signal and return the body txdbus parses from it."""
    raw = dbuswire.signal(1, "/org/x", "org.x", "M", signature, values)
    message = parseMessage(raw, [])
    return message.body


def u32(n):
    return struct.pack("<I", n)


def i64(n):
    return struct.pack("<q", n)


def header_fields(raw):
    """``{code: value}`` of a raw message's header fields, as txdbus reads them."""
    _, values = txdbus_marshal.unmarshal("yyyyuua(yv)", raw, 0, True, [])
    return dict((code, value) for code, value in values[6])


class SplitSignatureTests(TestCase):
    """Signatures are split into complete types."""

    def test_complete_types(self):
        """Each complete type (arrays, dictionaries, structs, nested) is one item."""
        cases = {
            "": [],
            "s": ["s"],
            "sa{sv}as": ["s", "a{sv}", "as"],
            "oa{sa{sv}}": ["o", "a{sa{sv}}"],
            "a{oa{sa{sv}}}": ["a{oa{sa{sv}}}"],
            "(s(ix))aax": ["(s(ix))", "aax"],
            "yyyyuua(yv)": ["y", "y", "y", "y", "u", "u", "a(yv)"],
        }
        for signature, types in cases.items():
            self.assertEqual(split_signature(signature), types, signature)

    def test_incomplete_or_unknown(self):
        """A signature that is cut short, unbalanced or has an unknown code is refused."""
        for bad in ["a", "aa", "(s", "a{ss", "s)", "}", "z", "sz", "a{s}}"]:
            with self.assertRaises(SignatureError, msg=bad):
                split_signature(bad)


class RoundTripTests(TestCase):
    """Values encoded by ovsdbus read back as the same values with txdbus's parser."""

    def test_every_basic_type(self):
        """Every basic type, at the limits of its range, reads back unchanged."""
        cases = [
            ("y", [0]), ("y", [255]),
            ("b", [True]), ("b", [False]),
            ("n", [-2 ** 15]), ("n", [2 ** 15 - 1]),
            ("q", [0]), ("q", [2 ** 16 - 1]),
            ("i", [-2 ** 31]), ("i", [2 ** 31 - 1]),
            ("u", [0]), ("u", [2 ** 32 - 1]),
            ("x", [-2 ** 63]), ("x", [2 ** 63 - 1]), ("x", [2 ** 31]), ("x", [-1]),
            ("t", [0]), ("t", [2 ** 64 - 1]),
            ("d", [1.5]), ("d", [-0.0]),
            ("s", [""]), ("s", ["br-int"]), ("s", ["h\u00e9 \u2603 \U0001f600"]),
            ("o", ["/"]), ("o", ["/org/openvswitch/ovsdb/port/br_2d0_2ex"]),
            ("g", [""]), ("g", ["a{oa{sa{sv}}}"]),
        ]
        for signature, values in cases:
            self.assertEqual(roundtrip(signature, values), values, signature)

    def test_int64_beyond_32_bits(self):
        """Counters and numbers of 2**31 and more (Interface statistics, int64 properties) keep
        their value, in arrays, dictionaries and variants alike."""
        big = [2 ** 31, 2 ** 32, 2 ** 40 + 7, 2 ** 63 - 1, -2 ** 31 - 1]
        self.assertEqual(roundtrip("ax", [big]), [big])
        stats = {"rx_bytes": 2 ** 40, "tx_bytes": 2 ** 33, "collisions": 0}
        self.assertEqual(roundtrip("a{sx}", [stats]), [stats])
        self.assertEqual(roundtrip("v", [("x", 2 ** 40)]), [2 ** 40])
        self.assertEqual(roundtrip("a{sv}", [{"Statistics": ("a{sx}", stats), "OfPort": ("x", 2 ** 35)}]),
                         [{"Statistics": stats, "OfPort": 2 ** 35}])

    def test_empty_arrays_and_dictionaries_in_variants(self):
        """Empty arrays and dictionaries inside variants (an unset ExternalIds, no Trunks, no
        Controllers) encode, with their exact type; txdbus's own marshaller cannot do this."""
        props = {
            "Trunks": ("ax", []),
            "Controllers": ("as", []),
            "Ports": ("ao", []),
            "ExternalIds": ("a{ss}", {}),
            "Statistics": ("a{sx}", {}),
            "Nested": ("a{sv}", {}),
            "Bytes": ("ay", []),
            "Structs": ("a(ss)", []),
        }
        body = roundtrip("a{sv}", [props])
        self.assertEqual(body, [{"Trunks": [], "Controllers": [], "Ports": [], "ExternalIds": {},
                                 "Statistics": {}, "Nested": {}, "Bytes": [], "Structs": []}])
        raw = dbuswire.signal(1, "/org/x", "org.x", "M", "a{sv}", [props])
        for signature in ("ax", "as", "ao", "a{ss}", "a{sx}", "a{sv}", "ay", "a(ss)"):
            self.assertIn(bytes([len(signature)]) + signature.encode() + b"\0", raw)

    def test_nested_dictionaries(self):
        """GetManagedObjects' a{oa{sa{sv}}} with several objects and interfaces reads back whole."""
        objects = {
            "/org/openvswitch/ovsdb/bridge/br0": {"org.openvswitch.ovsdb.Bridge": {
                "Name": ("s", "br0"),
                "Ports": ("ao", ["/org/openvswitch/ovsdb/port/br0", "/org/openvswitch/ovsdb/port/p1"]),
                "ExternalIds": ("a{ss}", {"a": "1", "b": ""}),
                "Controllers": ("as", []),
            }},
            "/org/openvswitch/ovsdb/port/p1": {"org.openvswitch.ovsdb.Port": {
                "Tag": ("x", -1), "Trunks": ("ax", [1, 4095]), "Bridge": ("o", "/org/openvswitch/ovsdb/bridge/br0"),
            }, "org.example.Other": {}},
            "/org/openvswitch/ovsdb/interface/p1": {},
        }
        expected = {path: {iface: {k: v for k, (_, v) in props.items()} for iface, props in ifaces.items()}
                    for path, ifaces in objects.items()}
        self.assertEqual(roundtrip("a{oa{sa{sv}}}", [objects]), [expected])

    def test_variants_of_containers_and_variants(self):
        """A variant may hold a struct, a dictionary, an array of arrays or another variant."""
        cases = [
            (("(sx)", ("a", 2 ** 40)), ["a", 2 ** 40]),
            (("a{s(ii)}", {"k": (1, 2)}), {"k": [1, 2]}),
            (("aax", [[1], [], [2 ** 33, 3]]), [[1], [], [2 ** 33, 3]]),
            (("v", ("s", "inner")), "inner"),
            (("b", True), True),
            (("o", "/a/b"), "/a/b"),
            (("g", "sv"), "sv"),
        ]
        for variant, expected in cases:
            self.assertEqual(roundtrip("v", [variant]), [expected], variant)

    def test_service_messages(self):
        """The bodies the service sends read back as sent: InterfacesAdded, InterfacesRemoved,
        PropertiesChanged (with invalidated names), the root signals and method replies."""
        iface_props = {"Name": ("s", "p1"), "Tag": ("x", 5), "Trunks": ("ax", []), "ExternalIds": ("a{ss}", {})}
        cases = [
            ("oa{sa{sv}}", ["/org/openvswitch/ovsdb/port/p1", {"org.openvswitch.ovsdb.Port": iface_props}],
             ["/org/openvswitch/ovsdb/port/p1",
              {"org.openvswitch.ovsdb.Port": {"Name": "p1", "Tag": 5, "Trunks": [], "ExternalIds": {}}}]),
            ("oas", ["/org/openvswitch/ovsdb/port/p1", ["org.openvswitch.ovsdb.Port"]],
             ["/org/openvswitch/ovsdb/port/p1", ["org.openvswitch.ovsdb.Port"]]),
            ("sa{sv}as", ["org.openvswitch.ovsdb.Port", {"Tag": ("x", 5), "VlanMode": ("s", "access")}, []],
             ["org.openvswitch.ovsdb.Port", {"Tag": 5, "VlanMode": "access"}, []]),
            ("sa{sv}as", ["org.openvswitch.ovsdb.Bridge", {}, ["Ports"]],
             ["org.openvswitch.ovsdb.Bridge", {}, ["Ports"]]),
            ("ss", ["br0", "p1"], ["br0", "p1"]),
            ("as", [["br0", "br1"]], [["br0", "br1"]]),
            ("b", [True], [True]),
        ]
        for signature, values, expected in cases:
            self.assertEqual(roundtrip(signature, values), expected, signature)

    def test_many_strings(self):
        """Long arrays of strings of every length modulo 4 keep every element."""
        names = ["p%d%s" % (i, "x" * (i % 5)) for i in range(3000)]
        self.assertEqual(roundtrip("as", [names]), [names])
        self.assertEqual(roundtrip("yao", [1, ["/" + n for n in names]]), [1, ["/" + n for n in names]])

    def test_same_bytes_as_txdbus(self):
        """Where txdbus's own marshaller can encode a value (no variants), the bytes are
        identical, including the padding at odd offsets."""
        cases = [
            ("yx", [1, 2]),
            ("yax", [1, [1, 2 ** 40]]),
            ("yax", [1, []]),
            ("yas", [1, ["a", "bc", "def", ""]]),
            ("yao", [3, ["/a", "/bcd"]]),
            ("ya{sx}", [1, {"a": 1}]),
            ("ya{ss}", [1, {}]),
            ("y(yx)", [1, (2, 3)]),
            ("ya(yx)", [1, [(2, 3), (4, 5)]]),
            ("sd", ["abc", 0.25]),
            ("nqiu", [-1, 2, -3, 4]),
            ("bgy", [True, "sv", 7]),
            ("aay", [[[1], [], [2, 3]]]),
            ("a{oa{ss}}", [{"/a": {"k": "v"}, "/b": {}}]),
        ]
        for signature, values in cases:
            _, chunks = txdbus_marshal.marshal(signature, values, 0, True, [])
            self.assertEqual(bytes(encode_body(signature, values)), b"".join(chunks), signature)


class AlignmentTests(TestCase):
    """The layout rules of the D-Bus specification, on raw bytes."""

    def test_int64_after_a_byte_is_padded_to_8(self):
        """An 8-byte value after a byte starts at offset 8, the padding zero-filled."""
        self.assertEqual(bytes(encode_body("yx", [1, 2])), b"\x01" + b"\0" * 7 + i64(2))

    def test_array_length_excludes_padding_before_first_element(self):
        """An array's length counts its elements only: for ax at offset 0, the length is at
        0..4, four padding bytes follow, and the length is 8 per element."""
        self.assertEqual(bytes(encode_body("ax", [[7]])), u32(8) + b"\0" * 4 + i64(7))
        self.assertEqual(bytes(encode_body("ax", [[7, 8]])), u32(16) + b"\0" * 4 + i64(7) + i64(8))

    def test_empty_array_is_still_padded(self):
        """An empty array of 8-aligned elements still has the padding to its (absent) first
        element, as the specification requires; its length is 0."""
        self.assertEqual(bytes(encode_body("ax", [[]])), u32(0) + b"\0" * 4)
        self.assertEqual(bytes(encode_body("a{sv}", [{}])), u32(0) + b"\0" * 4)
        self.assertEqual(bytes(encode_body("yaxy", [1, [], 2])), b"\x01\0\0\0" + u32(0) + b"\x02")

    def test_dict_entries_are_8_aligned(self):
        """Every dictionary entry starts on an 8-byte boundary."""
        raw = bytes(encode_body("a{ys}", [{1: "a", 2: "bc"}]))
        self.assertEqual(raw, u32(27) + b"\0" * 4
                         + b"\x01" + b"\0" * 3 + u32(1) + b"a\0"     # entry 1: 10 bytes
                         + b"\0" * 6                                 # pad to 24
                         + b"\x02" + b"\0" * 3 + u32(2) + b"bc\0")   # entry 2: 11 bytes

    def test_variant_value_aligned_after_its_signature(self):
        """A variant's value is aligned after the variant's signature, relative to the message."""
        raw = bytes(encode_body("yv", [1, ("x", 5)]))
        self.assertEqual(raw, b"\x01" + b"\x01x\0" + b"\0" * 4 + i64(5))

    def test_strings_are_counted_in_bytes(self):
        """String lengths count UTF-8 bytes, not characters, and exclude the final NUL."""
        self.assertEqual(bytes(encode_body("s", ["\u00e9\u2603"])), u32(5) + "\u00e9\u2603".encode() + b"\0")

    def test_body_starts_8_aligned_and_length_matches(self):
        """The header is padded to 8 bytes, and the body length field is the body's size."""
        for signature, values in [("", []), ("s", ["x"]), ("sa{sv}as", ["i", {"a": ("x", 1)}, []]),
                                  ("x", [1])]:
            raw = dbuswire.signal(3, "/org/openvswitch/ovsdb/bridge/br0", "org.freedesktop.DBus.Properties",
                                  "PropertiesChanged", signature, values)
            body = bytes(encode_body(signature, values)) if signature else b""
            self.assertEqual(struct.unpack_from("<I", raw, 4)[0], len(body), signature)
            self.assertEqual((len(raw) - len(body)) % 8, 0, signature)
            self.assertEqual(raw[len(raw) - len(body):], body, signature)


class MessageTests(TestCase):
    """Whole messages: header fields, flags, serials."""

    def test_signal(self):
        """A signal carries path, interface, member and signature, little-endian protocol 1,
        and says no reply is expected."""
        raw = dbuswire.signal(42, "/org/openvswitch/ovsdb", "org.openvswitch.ovsdb", "PortAdded", "ss",
                              ["br0", "p1"])
        self.assertEqual(raw[:4], b"l\x04\x01\x01")
        message = parseMessage(raw, [])
        self.assertIsInstance(message, SignalMessage)
        self.assertEqual((message.serial, message.path, message.interface, message.member,
                          message.signature, message.body),
                         (42, "/org/openvswitch/ovsdb", "org.openvswitch.ovsdb", "PortAdded", "ss", ["br0", "p1"]))
        self.assertEqual(header_fields(raw)[dbuswire.SIGNATURE], "ss")

    def test_signal_without_arguments(self):
        """A signal with no arguments has no signature field and an empty body."""
        raw = dbuswire.signal(1, "/a", "org.x", "Ping")
        self.assertNotIn(dbuswire.SIGNATURE, header_fields(raw))
        self.assertEqual(struct.unpack_from("<I", raw, 4)[0], 0)
        self.assertIsNone(parseMessage(raw, []).body)

    def test_method_return(self):
        """A reply names the call it answers and goes to the caller."""
        raw = dbuswire.method_return(7, 3, ":1.42", "as", [["br0", "br1"]])
        self.assertEqual(raw[1], dbuswire.METHOD_RETURN)
        message = parseMessage(raw, [])
        self.assertIsInstance(message, MethodReturnMessage)
        self.assertEqual((message.serial, message.reply_serial, message.destination, message.body),
                         (7, 3, ":1.42", [["br0", "br1"]]))

    def test_empty_method_return(self):
        """A method with no output answers with an empty body and no signature."""
        message = parseMessage(dbuswire.method_return(8, 4, ":1.1"), [])
        self.assertIsInstance(message, MethodReturnMessage)
        self.assertEqual((message.reply_serial, message.signature, message.body), (4, None, None))

    def test_method_return_without_destination(self):
        """On a peer-to-peer connection there is no sender to answer to: no destination field."""
        raw = dbuswire.method_return(9, 4, None, "s", ["x"])
        self.assertNotIn(dbuswire.DESTINATION, header_fields(raw))
        self.assertEqual(parseMessage(raw, []).body, ["x"])

    def test_error(self):
        """An error carries its D-Bus error name and a human-readable text."""
        raw = dbuswire.error(11, 5, ":1.7", "org.freedesktop.DBus.Error.UnknownProperty", "no property X")
        message = parseMessage(raw, [])
        self.assertIsInstance(message, ErrorMessage)
        self.assertEqual((message.serial, message.reply_serial, message.destination, message.error_name,
                          message.signature, message.body),
                         (11, 5, ":1.7", "org.freedesktop.DBus.Error.UnknownProperty", "s", ["no property X"]))

    def test_too_large(self):
        """A message over dbus-daemon's 32 MiB limit is refused rather than sent (the daemon
        would drop the service's connection)."""
        with self.assertRaises(ValueError):
            dbuswire.signal(1, "/a", "org.x", "M", "s", ["x" * dbuswire.MAX_MESSAGE_SIZE])


class EncodingErrorTests(TestCase):
    """Mistakes are refused with an exception, never encoded into a malformed message that
    would make the bus daemon disconnect the service."""

    def test_wrong_number_of_values(self):
        """More or fewer values than the signature has complete types are refused."""
        for signature, values in [("ss", ["a"]), ("s", ["a", "b"]), ("", ["a"]), ("a{sv}", [])]:
            with self.assertRaises(SignatureError, msg=signature):
                encode_body(signature, values)

    def test_wrong_number_of_struct_members(self):
        """A struct value with too few or too many members is refused."""
        for value in [(1,), (1, 2, 3)]:
            with self.assertRaises(ValueError, msg=repr(value)):
                encode_body("(ii)", [value])

    def test_bad_signatures(self):
        """Signatures that are not valid D-Bus signatures raise SignatureError: incomplete,
        unknown codes, dictionary entries outside arrays or with other than two members or a
        non-basic key, empty structs."""
        bad = ["a", "(s", "a{ss", "z", "s)", "{ss}", "a{s}", "a{sss}", "()", "a{vs}", "a{ass}",
               "a{(s)s}", "a{a{ss}s}"]
        wrong = {}
        for signature in bad:
            try:
                # A value that would encode if the signature were accepted.
                encode_body(signature, [{} if signature.startswith("a{") else () if signature == "()" else ""])
            except SignatureError:
                continue
            except Exception as e:
                wrong[signature] = "%s: %s" % (type(e).__name__, e)
            else:
                wrong[signature] = "encoded without error"
        self.assertEqual(wrong, {}, "signatures not refused with SignatureError")

    def test_variant_signature_must_be_one_complete_type(self):
        """A variant whose signature is not exactly one complete type is refused with
        SignatureError instead of producing a body no parser can read."""
        wrong = {}
        for vsig, value in [("ss", "x"), ("", 1), ("a", [1]), ("a{s", {}), ("sx", ("a", 1))]:
            try:
                encode_body("v", [(vsig, value)])
            except SignatureError:
                continue
            except Exception as e:
                wrong[vsig] = "%s: %s" % (type(e).__name__, e)
            else:
                wrong[vsig] = "encoded without error"
        self.assertEqual(wrong, {}, "variant signatures not refused with SignatureError")

    def test_bad_values_raise_what_the_adapter_catches(self):
        """A value that does not fit its type (out of range, wrong Python type) raises one of
        the exceptions ovsdbus.bus.service catches around encoding (ValueError, TypeError,
        UnicodeError, OverflowError); anything else escapes its signal queue and reply path."""
        caught = (ValueError, TypeError, UnicodeError, OverflowError)
        cases = [("i", 2 ** 31), ("y", 256), ("u", -1), ("x", 2 ** 63), ("t", -1), ("x", 1.5),
                 ("x", "1"), ("s", None), ("s", 5), ("o", None), ("as", [None]), ("s", "\udcff")]
        wrong = {}
        for signature, value in cases:
            try:
                encode_body(signature, [value])
            except caught:
                continue
            except Exception as e:
                wrong["%s %r" % (signature, value)] = type(e).__name__
            else:
                wrong["%s %r" % (signature, value)] = "encoded without error"
        self.assertEqual(wrong, {})


class PreEncodedEntriesTests(TestCase):
    """GetManagedObjects is assembled from entries encoded once each; the result must be the same
    message a client would get from encoding the whole dictionary."""

    OBJECTS = {
        "/a/b": {"i.x": {"P": ("ao", []), "Q": ("a{sx}", {"k": 2 ** 40}), "N": ("s", "abc")}},
        "/a/c": {"i.y": {"T": ("x", -1)}},
        "/a/d": {"i.z": {}},
    }

    def test_same_bytes_as_encoding_the_whole(self):
        """Joining separately encoded entries gives byte for byte the whole encoding, and parses back."""
        whole = dbuswire.method_return(5, 3, ":1.5", "a{oa{sa{sv}}}", [self.OBJECTS])
        entries = [dbuswire.encode_entry("oa{sa{sv}}", k, v) for k, v in self.OBJECTS.items()]
        joined = dbuswire.method_return(5, 3, ":1.5", "a{oa{sa{sv}}}", raw_body=dbuswire.array_of_entries(entries))
        self.assertEqual(joined, whole)
        self.assertEqual(parseMessage(joined, []).body[0]["/a/b"]["i.x"]["Q"], {"k": 2 ** 40})

    def test_no_entries(self):
        """An empty tree is an empty array."""
        empty = dbuswire.method_return(5, 3, ":1.5", "a{oa{sa{sv}}}", raw_body=dbuswire.array_of_entries([]))
        self.assertEqual(parseMessage(empty, []).body, [{}])


class StringArrayTests(TestCase):
    """Arrays of strings and paths take a fast path; it must agree with the general encoding."""

    def test_arrays_of_every_length_modulo_4(self):
        """Arrays of 0 to 6 strings of every length modulo 4, before and after other values,
        encode exactly as txdbus encodes them."""
        for n in range(7):
            strings = ["x" * k for k in range(n)]
            paths = ["/a" * k for k in range(1, n + 1)]
            for signature, body in (("asy", [strings, 7]), ("yasx", [1, strings, 5]), ("aoas", [paths, strings])):
                theirs = b"".join(txdbus_marshal.marshal(signature, body)[1])
                self.assertEqual(bytes(encode_body(signature, body)), theirs, (signature, body))

    def test_non_string_in_array(self):
        """A value that is not a string is refused, not encoded."""
        self.assertRaises(TypeError, encode_body, "as", [["a", 5]])

    def test_a_long_list_answered_again(self):
        """A list of thousands of names (ListBridgePorts' answer) encoded again, at another offset,
        and another list of other names after it, each encode exactly as txdbus encodes them."""
        names = ["port%d" % i for i in range(3000)]
        other = names[:-1] + ["renamed"]
        for signature, body in (("as", [names]), ("yas", [1, names]), ("sas", ["abc", names]),
                                ("as", [other]), ("as", [names])):
            theirs = b"".join(txdbus_marshal.marshal(signature, body)[1])
            self.assertEqual(bytes(encode_body(signature, body)), theirs, signature)


class StringsDBusCannotCarryTests(TestCase):
    """A D-Bus string is UTF-8 without NUL: dbus-daemon drops the connection of a sender that
    breaks this, so the encoder must refuse such a string with a named error, never write it."""

    BAD = ["ev\0il", "\0", "\ud800x", "a\udfff", "x" * 100 + "\0"]
    #: Valid in D-Bus strings (dbus-daemon 1.14 and GLib 2.74 pass them on).
    GOOD = ["nc\ufdd0", "\ufffe", "\uffff", "max\U0010ffff", "tab\there", "\x01\x7f", "é", ""]

    def test_can_carry(self):
        """NUL and lone surrogates cannot be carried; noncharacters, control and astral characters
        can, and are encoded and read back unchanged."""
        self.assertEqual([s for s in self.BAD if text.can_carry(s)], [])
        self.assertEqual([s for s in self.GOOD if not text.can_carry(s)], [])
        self.assertEqual(roundtrip("asas", [self.GOOD, list(reversed(self.GOOD))]),
                         [self.GOOD, list(reversed(self.GOOD))])

    def test_refused_in_every_place_a_string_goes(self):
        """A string D-Bus cannot carry raises InvalidString (a ValueError, which the adapter
        catches) as a string, an object path, in an array (the fast path), as a dict key or
        value and in a variant; nothing is encoded."""
        for bad in self.BAD:
            for signature, value in [("s", bad), ("o", bad), ("as", ["ok", bad]), ("ao", [bad]),
                                     ("a{ss}", {bad: "v"}), ("a{ss}", {"k": bad}), ("v", ("s", bad)),
                                     ("a{sv}", {"k": ("as", [bad])})]:
                with self.assertRaises(dbuswire.InvalidString, msg="%s %r" % (signature, value)):
                    encode_body(signature, [value])

    def test_refused_once_cached_as_good(self):
        """A string refused in an array does not poison the chunk cache of good strings, and is
        refused every time."""
        encode_body("as", [["fine"]])
        for _ in range(2):
            self.assertRaises(dbuswire.InvalidString, encode_body, "as", [["fine", "ev\0il"]])
        self.assertEqual(roundtrip("as", [["fine"]]), [["fine"]])

    def test_error_text_is_made_carriable(self):
        """An error's text quoting what D-Bus cannot carry (an OVSDB detail with a NUL) is sent
        with U+FFFD in its place, instead of failing or breaking the connection."""
        raw = dbuswire.error(7, 3, ":1.5", "org.x.Error.Bad", "details: a\0b \ud800")
        message = parseMessage(raw, [])
        self.assertIsInstance(message, ErrorMessage)
        self.assertEqual(message.body, ["details: a\ufffdb \ufffd"])

    def test_carriable(self):
        """carriable() replaces each NUL and lone surrogate by U+FFFD and keeps everything else."""
        self.assertEqual(text.carriable("a\0b\ud800\udc00c\ufdd0"), "a\ufffdb\ufffd\ufffdc\ufdd0")
        good = "unchanged \ufffe"
        self.assertIs(text.carriable(good), good)


class StringCacheBoundTests(TestCase):
    """Encoded strings are cached within a bound in bytes, whatever strings come and go."""

    def setUp(self):
        dbuswire._string_chunks.clear()
        self.addCleanup(dbuswire._string_chunks.clear)

    def test_fresh_large_names_stay_within_the_bound(self):
        """Encoding 20 000 fresh names of 900 bytes each (18 MB of names) leaves the cache within
        its byte bound, and the bytes encoded are right all along."""
        cache = dbuswire._string_chunks
        for i in range(0, 20000, 100):
            names = ["%07d" % j + "n" * 893 for j in range(i, i + 100)]
            body = encode_body("as", [names])
            self.assertLessEqual(cache.size, cache.max_bytes)
        self.assertEqual(bytes(body), b"".join(txdbus_marshal.marshal("as", [names])[1]))
        self.assertLess(len(cache), 20000)

    def test_huge_string_is_not_kept(self):
        """A 2 MB name is encoded but not kept."""
        name = "x" * (2 << 20)
        self.assertEqual(roundtrip("as", [[name]]), [[name]])
        self.assertIsNone(dbuswire._string_chunks.get(name))
        self.assertEqual(dbuswire._string_chunks.size, 0)

    def test_retained_memory_is_bounded(self):
        """Measured with tracemalloc, what encoding 100 000 fresh names leaves allocated stays
        under the cache's bound (the estimate of an entry's size is not too low)."""
        import gc
        import tracemalloc
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(0, 100000, 1000):
            encode_body("as", [["port-%07d-%s" % (j, "x" * (j % 40)) for j in range(i, i + 1000)]])
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
        self.assertLess(retained, dbuswire._string_chunks.max_bytes)
        self.assertGreater(retained, dbuswire._string_chunks.size / 2, "the estimate is far too high")

    def test_working_set_within_the_bound_stays_cached(self):
        """Strings read over and over (the ports of a bridge listed again and again) stay cached
        when they fit in the bound, even when they fill more than one generation."""
        cache = text.BoundedCache(max_bytes=1000, max_item_bytes=100)
        for key in range(9):
            cache.put(key, "v%d" % key, 100)
        self.assertEqual([cache.get(k) for k in range(9)], ["v%d" % k for k in range(9)])
        for _ in range(3):
            for key in range(9):
                self.assertEqual(cache.get(key), "v%d" % key)
        cache.put("big", "x", 101)
        self.assertIsNone(cache.get("big"))
        self.assertLessEqual(cache.size, 1000)
