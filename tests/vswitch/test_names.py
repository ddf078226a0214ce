"""Tests of the rule for names of new bridges and ports: Linux's, byte for byte.

Linux refuses a network device name unless ``dev_valid_name()`` (net/core/dev.c) accepts it,
and that function looks at the name one byte at a time with the kernel's own ``isspace()``
(lib/ctype.c), which counts byte 0xA0 as a space.  So a name whose UTF-8 holds 0xA0 inside a
character (``tà`` is 74 c3 a0, ``t†`` is 74 e2 80 a0) is no device name, however harmless the
character looks.  The model below is written from those two kernel functions, independently
of the code under test, and compared with :func:`ovsdbus.vswitch.operations.check_name`.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ovsdbus.ovsdb.errors import InvalidArgs
from ovsdbus.vswitch.operations import check_name, plan_add_port, plan_create_bridge
from tests.vswitch.test_operations import make_replica, standard_bridges

#: Linux's IFNAMSIZ: a name and its terminating NUL fit in 16 bytes.
IFNAMSIZ = 16


def kernel_isspace(byte):
    """isspace() of the kernel's lib/ctype.c: the bytes whose ``_ctype`` entry has ``_S``:
    8-15 row ``_C,_C|_S,_C|_S,_C|_S,_C|_S,_C|_S,_C,_C`` (9 to 13), 32 ``_S|_SP`` and
    160 ``_S|_SP`` (Latin-1's no-break space); 128-159 are 0 and 161-255 are letters or
    punctuation."""
    return 9 <= byte <= 13 or byte == 32 or byte == 160


def kernel_dev_valid_name(raw):
    """dev_valid_name() of net/core/dev.c, on the bytes the kernel is given (a C string)."""
    name = raw.split(b"\0", 1)[0]
    if name == b"":
        return False
    if len(name) >= IFNAMSIZ:
        return False
    if name in (b".", b".."):
        return False
    return not any(b == ord("/") or b == ord(":") or kernel_isspace(b) for b in name)


def ovsdbus_extras_allow(name):
    """What ovsdbus refuses beyond the kernel's rule (documented in check_name): ``%``, ASCII
    control characters, and any Unicode whitespace."""
    return not any(ch == "%" or ord(ch) < 0x20 or ord(ch) == 0x7F or ch.isspace() for ch in name)


def accepted(name):
    """Whether check_name lets ``name`` through."""
    try:
        check_name(name)
    except InvalidArgs:
        return False
    return True


#: Characters worth trying often: the ASCII the rule is about; characters whose UTF-8 holds 0xA0
#: (U+00A0 c2 a0, U+00E0 c3 a0, U+0120 c4 a0, U+2020 e2 80 a0, U+1F420 f0 9f 90 a0) and one that
#: merely looks close (U+A000 ea 80 80); other whitespace; other non-ASCII.
INTERESTING = ["a", "0", "-", "_", ".", "/", ":", "%", " ", "\t", "\n", "\v", "\f", "\r", "\x00", "\x1f", "\x7f",
               "\xa0", "\xe0", "\u0120", "\u2020", "\ua000", "\U0001f420", "\x85", "\u2028", "\u3000", "\xe9",
               "\u20ac", "\x80", "\x9f"]

NAMES = st.text(alphabet=st.one_of(st.sampled_from(INTERESTING), st.characters(blacklist_categories=("Cs",))),
                max_size=17)


class KernelRuleTests(SynchronousTestCase):
    """A new bridge or port gets a name only if Linux could give a device that name."""

    def test_issue_examples(self):
        """'tà' (74 c3 a0) and 't†' (74 e2 80 a0) are refused: Linux sees byte 0xA0 as a space."""
        for name in ["t\u00e0", "t\u2020", "\u00e0", "br-\u00e0", "\u00a0", "\U0001f420"]:
            self.assertFalse(kernel_dev_valid_name(name.encode("utf-8")), name)
            self.assertRaises(InvalidArgs, check_name, name)

    def test_lookalikes_without_a0_pass(self):
        """Characters next to the refused ones whose UTF-8 has no 0xA0 byte are fine ('tá' is 74 c3 a1,
        '‡' e2 80 a1, 'é' c3 a9)."""
        for name in ["t\u00e1", "t\u2021", "br\u00e9", "\u00df", "\u00c0", "\ua000"]:
            self.assertTrue(kernel_dev_valid_name(name.encode("utf-8")), name)
            check_name(name)

    def test_creating_such_names_is_invalid(self):
        """CreateBridge and AddPort with 'tà' or 't†' are InvalidArgs; nothing is planned."""
        replica = make_replica(standard_bridges())
        for name in ["t\u00e0", "t\u2020"]:
            self.assertRaises(InvalidArgs, plan_create_bridge, replica, name)
            self.assertRaises(InvalidArgs, plan_add_port, replica, "br0", name)

    def test_message_names_the_byte_and_character(self):
        """The error says which byte of which character Linux refuses."""
        error = self.assertRaises(InvalidArgs, check_name, "t\u2020", "bridge name")
        text = str(error)
        self.assertIn("bridge name", text)
        self.assertIn("0xa0", text)
        self.assertIn("e2 80 a0", text)
        self.assertIn("whitespace", text)

    def test_every_kernel_space_byte(self):
        """Each byte the kernel calls a space (9-13, 32, 160) is refused wherever it is in the name."""
        spaces = [b for b in range(256) if kernel_isspace(b)]
        self.assertEqual(spaces, [9, 10, 11, 12, 13, 32, 160])
        for text in ["\t", "\n", "\v", "\f", "\r", " ", "\xe0", "\u2020"]:
            for name in [text + "br", "br" + text, "b" + text + "r"]:
                self.assertRaises(InvalidArgs, check_name, name)

    def test_lone_surrogate_is_invalid(self):
        """A name with a lone surrogate (no UTF-8 encoding: OVSDB could not store it) is InvalidArgs."""
        self.assertRaises(InvalidArgs, check_name, "br\ud800")

    def test_every_character_of_the_bmp(self):
        """For each character of the Basic Multilingual Plane, 't' + it is accepted exactly when the
        kernel would accept it and it is not one of ovsdbus's extra refusals."""
        wrong = []
        for cp in range(0x10000):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            name = "t" + chr(cp)
            expected = kernel_dev_valid_name(name.encode("utf-8")) and ovsdbus_extras_allow(name)
            if accepted(name) != expected:
                wrong.append("U+%04X" % cp)
        self.assertEqual(wrong[:20], [])

    @settings(max_examples=300, deadline=None, database=None)
    @given(NAMES)
    def test_same_as_the_kernel(self, name):
        """Any name: ovsdbus accepts it exactly when Linux's dev_valid_name() does and none of the
        documented extra rules ('%', control characters, Unicode whitespace) refuses it."""
        expected = kernel_dev_valid_name(name.encode("utf-8")) and ovsdbus_extras_allow(name)
        self.assertEqual(accepted(name), expected, ascii(name))

    @settings(max_examples=200, deadline=None, database=None)
    @given(NAMES)
    def test_accepted_names_are_device_names(self, name):
        """Whatever ovsdbus accepts, the kernel accepts: 1 to 15 bytes, no '/', ':' or kernel space,
        no NUL that would cut it short."""
        if accepted(name):
            raw = name.encode("utf-8")
            self.assertTrue(kernel_dev_valid_name(raw), ascii(name))
            self.assertNotIn(b"\0", raw)
            self.assertLessEqual(len(raw), IFNAMSIZ - 1)
