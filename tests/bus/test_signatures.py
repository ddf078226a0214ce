"""txdbus decodes incoming messages with the kept signature splits exactly as without them."""

from twisted.trial.unittest import TestCase
from txdbus import marshal

from ovsdbus.bus import signatures


class SignatureSplitTests(TestCase):
    """The cached split of signatures into complete types."""

    def test_splits_as_txdbus_does(self):
        """Every kind of complete type comes out as txdbus's own generator gives it."""
        for signature in ["", "s", "iii", "i(ii)i", "a{sv}as", "a{oa{sa{sv}}}", "(i(ii))ay", "va(yv)"]:
            self.assertEqual(list(signatures.complete_types(signature)), list(signatures._split(signature)))
            self.assertEqual(list(signatures.complete_types(signature)), list(signatures._split(signature)))

    def test_bad_signature_fails_as_txdbus_does(self):
        """A signature txdbus cannot split fails with txdbus's error, each time it is asked."""
        for signature in ["a{sv", "(ii", "a"]:
            with self.assertRaises(Exception) as theirs:
                list(signatures._split(signature))
            for _ in range(2):
                with self.assertRaises(type(theirs.exception)):
                    list(signatures.complete_types(signature))

    def test_messages_decode_after_install(self):
        """A body marshalled by txdbus unmarshals to the same values with the splits kept."""
        signatures.install()
        self.assertIs(marshal.genCompleteTypes, signatures.complete_types)
        values = [{"a": "x"}, ["p", "q"], 7, (1, ("n", [2, 3]))]
        _, data = marshal.marshal("a{sv}asi(i(sai))", values, 0, lendian=True)
        decoded = marshal.unmarshal("a{sv}asi(i(sai))", b"".join(data), 0, lendian=True)[1]
        self.assertEqual(decoded[1:3], [["p", "q"], 7])
        self.assertEqual(decoded[0], {"a": "x"})

    def test_cache_is_bounded(self):
        """Thousands of distinct signatures from callers keep at most KEPT splits."""
        for n in range(signatures.KEPT + 300):
            list(signatures.complete_types("(" + "i" * (n % 50 + 1) + "s" * (n // 50) + ")"))
        self.assertLessEqual(signatures._complete_types.cache_info().currsize, signatures.KEPT)
