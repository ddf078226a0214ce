"""Tests for ovsdbus.ovsdb.conditions: ovs-vsctl find's operators on rows, and RFC 7047 where clauses.

The last class checks the semantics against the real ``ovs-vsctl find`` and the real ovsdb-server's
``select`` on a private server.
"""

import json
import shutil
import subprocess
import tempfile
import unittest

from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdbus.ovsdb import conditions
from ovsdbus.ovsdb.conditions import (
    ARITHMETIC_OPERATORS,
    OPERATORS,
    SET_OPERATORS,
    matches_all,
    parse_column_spec,
    parse_condition,
    where_of,
)
from ovsdbus.ovsdb.errors import InvalidArgs
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.ovsdb.schema import ColumnType, DatabaseSchema, SymbolicRef, TableSchema
from ovsdbus.testing import sandbox
from tests.realstack import require_programs

U1 = "00000000-0000-4000-8000-000000000001"
U2 = "00000000-0000-4000-8000-000000000002"
U3 = "00000000-0000-4000-8000-000000000003"


def _int(lo, hi):
    return {"type": "integer", "minInteger": lo, "maxInteger": hi}


TABLE = TableSchema.from_json("T", {"columns": {
    "name": {"type": "string"},
    "n": {"type": "integer"},
    "ratio": {"type": "real"},
    "flag": {"type": "boolean"},
    "tag": {"type": {"key": _int(0, 4095), "min": 0, "max": 1}},
    "mode": {"type": {"key": {"type": "string", "enum": ["set", ["access", "trunk"]]}, "min": 0, "max": 1}},
    "trunks": {"type": {"key": _int(0, 4095), "min": 0, "max": "unlimited"}},
    "names": {"type": {"key": "string", "min": 0, "max": "unlimited"}},
    "other_config": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
    "queues": {"type": {"key": "integer", "value": {"type": "uuid", "refTable": "T"}, "min": 0, "max": "unlimited"}},
    "refs": {"type": {"key": {"type": "uuid", "refTable": "T"}, "min": 0, "max": "unlimited"}},
    "Mixed-Case": {"type": "string"},
}})


def row(**values):
    """A row of TABLE: every column at its default, except ``values``."""
    result = {c: s.type.default() for c, s in TABLE.columns.items()}
    result.update(values)
    return result


def cond(spec, op, value, **kwargs):
    return parse_condition(TABLE, spec, op, value, **kwargs)


class ColumnSpecTests(unittest.TestCase):
    """``column`` and ``column:key`` as callers write them."""

    def test_plain_column(self):
        """A column name gives the column and no key."""
        self.assertEqual(parse_column_spec(TABLE, "trunks"), ("trunks", None))

    def test_case_and_dash_are_forgiven(self):
        """As ovs-vsctl, case and - versus _ do not matter; the schema's spelling comes back."""
        self.assertEqual(parse_column_spec(TABLE, "Other-Config"), ("other_config", None))
        self.assertEqual(parse_column_spec(TABLE, "mixed_case"), ("Mixed-Case", None))

    def test_key(self):
        """Everything after the first colon is the key, colons included."""
        self.assertEqual(parse_column_spec(TABLE, "other_config:a:b"), ("other_config", "a:b"))

    def test_quoted_key(self):
        """A key in double quotes is unquoted as a JSON string; "" names the empty key."""
        self.assertEqual(parse_column_spec(TABLE, 'other_config:"a\\"b"'), ("other_config", 'a"b'))
        self.assertEqual(parse_column_spec(TABLE, 'other_config:""'), ("other_config", ""))

    def test_bad_specs(self):
        """Unknown columns, abbreviations, keys of non-maps, empty keys and non-strings are InvalidArgs
        naming the table."""
        for spec in ["nosuch", "other", "trunks:1", "other_config:", 'other_config:"open', "", None, 3]:
            with self.subTest(spec=spec):
                with self.assertRaises(InvalidArgs) as caught:
                    parse_column_spec(TABLE, spec)
                self.assertIn("T", str(caught.exception))


class ParseConditionTests(unittest.TestCase):
    """Building conditions: operators, value types, keys."""

    def test_unknown_operator(self):
        """An operator ovs-vsctl does not have is InvalidArgs listing the allowed ones."""
        with self.assertRaises(InvalidArgs) as caught:
            cond("n", "==", 1)
        self.assertIn("{not-in}", str(caught.exception))

    def test_wrong_value_types(self):
        """A value of the wrong atomic type is InvalidArgs naming table and column."""
        cases = [("n", "1"), ("n", True), ("n", 1 << 63), ("ratio", "x"), ("flag", 1), ("name", 3),
                 ("trunks", ["a"]), ("trunks", [1, 1]), ("other_config", ["a"]), ("other_config", {"a": 1}),
                 ("other_config:a", 1), ("refs", [""])]
        for spec, value in cases:
            with self.subTest(spec=spec, value=value):
                with self.assertRaises(InvalidArgs) as caught:
                    cond(spec, "=", value)
                self.assertIn("T.%s" % spec.partition(":")[0], str(caught.exception))

    def test_value_the_column_cannot_hold(self):
        """As ovs-vsctl, a whole-column value outside the column's enum, range or size is InvalidArgs;
        a value for column:key may have any number of elements."""
        for spec, op, value in [("mode", "=", "other"), ("tag", "=", 5000), ("tag", "{<=}", [1, 2]),
                                ("n", "=", None), ("trunks", "{>=}", [5000])]:
            with self.subTest(spec=spec, value=value):
                with self.assertRaises(InvalidArgs) as caught:
                    cond(spec, op, value)
                self.assertIn("T.%s" % spec, str(caught.exception))
        self.assertTrue(cond("other_config:a", "{<=}", ["x", "y"]).matches(row(other_config={"a": "x"})))

    def test_integer_map_key_from_text(self):
        """The key text of a map with integer keys is parsed as an integer; a non-number is InvalidArgs."""
        c = cond("queues:7", "=", U1)
        self.assertEqual(c.key, 7)
        self.assertTrue(c.matches(row(queues={7: U1})))
        for text in ["x", " 7", "7 ", "1_0", "7.0", "", str(1 << 63)]:
            with self.subTest(key=text), self.assertRaises(InvalidArgs):
                cond('queues:"%s"' % text, "=", U1)
        self.assertEqual(cond("queues:-3", "=", U1).key, -3)

    def test_key_text_of_other_types(self):
        """Real, boolean and uuid keys are parsed from text; anything else is InvalidArgs."""
        def table(key_type):
            return TableSchema.from_json("K", {"columns": {"m": {"type": {"key": key_type, "value": "string",
                                                                           "min": 0, "max": "unlimited"}}}})
        good = [("real", "1.5", 1.5), ("real", "-2", -2.0), ("real", "1e3", 1000.0), ("boolean", "true", True),
                ("boolean", "false", False), ("uuid", U1.upper(), U1)]
        for key_type, text, atom in good:
            with self.subTest(key=text):
                self.assertEqual(parse_condition(table(key_type), "m:" + text, "=", "v").key, atom)
        bad = [("real", "nan"), ("real", "inf"), ("real", " 1"), ("real", "1_0"), ("boolean", "True"),
               ("boolean", "1"), ("uuid", U1[:8])]
        for key_type, text in bad:
            with self.subTest(key=text), self.assertRaises(InvalidArgs):
                parse_condition(table(key_type), "m:" + text, "=", "v")

    def test_key_given_as_atom(self):
        """A caller that converted the key itself passes it as ``key``."""
        self.assertTrue(cond("queues:7", "=", U1, key=7).matches(row(queues={7: U1})))
        with self.assertRaises(InvalidArgs):
            cond("queues", "=", {}, key=7)

    def test_real_accepts_integers(self):
        """A real column compares with an integer value as with the same real."""
        self.assertTrue(cond("ratio", "=", 2).matches(row(ratio=2.0)))

    def test_uuid_case(self):
        """Uuids compare regardless of the case the caller wrote them in."""
        self.assertTrue(cond("refs", "{>=}", [U1.upper()]).matches(row(refs=frozenset([U1, U2]))))


class SemanticsTests(unittest.TestCase):
    """The examples and rules of ``man ovs-vsctl`` (find)."""

    def test_set_equality(self):
        """``=`` and ``{=}`` compare whole sets, order and spelling aside."""
        r = row(trunks=frozenset([1, 2]))
        for op in ("=", "{=}"):
            self.assertTrue(cond("trunks", op, [2, 1]).matches(r))
            self.assertFalse(cond("trunks", op, [1]).matches(r))

    def test_subset_operators(self):
        """flood-vlans{<=}1,2 selects [], [1], [2], [1,2]; {<} all but [1,2]; {>=}1,2 only supersets."""
        sets = [[], [1], [2], [1, 2], [1, 3], [1, 2, 3]]
        expected = {
            "{<=}": [[], [1], [2], [1, 2]],
            "{in}": [[], [1], [2], [1, 2]],
            "{<}": [[], [1], [2]],
            "{>=}": [[1, 2], [1, 2, 3]],
            "{>}": [[1, 2, 3]],
            "{not-in}": [[]],
        }
        for op, want in expected.items():
            with self.subTest(op=op):
                got = [s for s in sets if cond("trunks", op, [1, 2]).matches(row(trunks=frozenset(s)))]
                self.assertEqual(got, want)

    def test_not_in(self):
        """{not-in} selects rows with no element in the value."""
        got = [s for s in ([], [1], [3], [3, 4], [2, 3])
               if cond("trunks", "{not-in}", [1, 2]).matches(row(trunks=frozenset(s)))]
        self.assertEqual(got, [[], [3], [3, 4]])

    def test_order_more_elements_is_larger(self):
        """With ``<``, a set with more elements is larger whatever the elements are."""
        self.assertTrue(cond("trunks", "<", [0, 1]).matches(row(trunks=frozenset([4000]))))
        self.assertTrue(cond("trunks", ">", [4000]).matches(row(trunks=frozenset([0, 1]))))
        self.assertTrue(cond("tag", "<", 0).matches(row(tag=None)))

    def test_order_pairwise(self):
        """Sets of the same size compare by their first differing element, each in increasing order."""
        r = row(trunks=frozenset([1, 5]))
        self.assertTrue(cond("trunks", "<", [2, 3]).matches(r))
        self.assertTrue(cond("trunks", ">", [1, 4]).matches(r))
        self.assertTrue(cond("trunks", "<=", [5, 1]).matches(r))
        self.assertFalse(cond("trunks", "<", [1, 5]).matches(r))

    def test_order_of_maps_keys_first(self):
        """Maps compare all keys first; the values only when the keys are the same."""
        r = row(other_config={"a": "z", "b": "a"})
        self.assertTrue(cond("other_config", "<", {"a": "a", "c": "a"}).matches(r))
        self.assertTrue(cond("other_config", ">", {"a": "a", "b": "z"}).matches(r))

    def test_atom_order(self):
        """Strings compare by code point, booleans false < true, reals by value."""
        self.assertTrue(cond("name", "<", "b").matches(row(name="B")))
        self.assertTrue(cond("name", ">", "\u00e9").matches(row(name="\u20ac")))
        self.assertTrue(cond("flag", ">", False).matches(row(flag=True)))
        self.assertTrue(cond("ratio", "<", 1.5).matches(row(ratio=-2.0)))

    def test_missing_key_with_arithmetic_operators(self):
        """other-config:mtu!=1500 selects rows with another mtu, never rows without the key."""
        c = cond("other_config:mtu", "!=", "1500")
        self.assertTrue(c.matches(row(other_config={"mtu": "9000"})))
        self.assertFalse(c.matches(row(other_config={"mtu": "1500"})))
        self.assertFalse(c.matches(row(other_config={})))
        for op in ARITHMETIC_OPERATORS:
            self.assertFalse(cond("other_config:mtu", op, "1500").matches(row()), op)

    def test_missing_key_with_set_operators(self):
        """other-config:mtu{!=}1500 also selects rows without the key (compared as the empty set)."""
        c = cond("other_config:mtu", "{!=}", "1500")
        self.assertTrue(c.matches(row(other_config={})))
        self.assertTrue(c.matches(row(other_config={"mtu": "9000"})))
        self.assertFalse(c.matches(row(other_config={"mtu": "1500"})))
        self.assertTrue(cond("other_config:mtu", "{=}", None).matches(row()))
        self.assertTrue(cond("other_config:mtu", "{<=}", ["1500", "9000"]).matches(row()))

    def test_optional_empty(self):
        """An optional column's empty value is written None and equals only the empty set."""
        self.assertTrue(cond("tag", "=", None).matches(row(tag=None)))
        self.assertFalse(cond("tag", "=", None).matches(row(tag=0)))
        self.assertTrue(cond("tag", "!=", None).matches(row(tag=0)))

    def test_whole_map(self):
        """A whole map column compares key-value pairs: {>=} asks for all the pairs given."""
        r = row(other_config={"a": "1", "b": "2"})
        self.assertTrue(cond("other_config", "{>=}", {"a": "1"}).matches(r))
        self.assertFalse(cond("other_config", "{>=}", {"a": "2"}).matches(r))
        self.assertTrue(cond("other_config", "=", {"b": "2", "a": "1"}).matches(r))

    def test_matches_all(self):
        """Several conditions must all hold; none always holds."""
        r = row(n=3, name="x")
        self.assertTrue(matches_all([], r))
        self.assertTrue(matches_all([cond("n", "=", 3), cond("name", "=", "x")], r))
        self.assertFalse(matches_all([cond("n", "=", 3), cond("name", "=", "y")], r))

    def test_matching(self):
        """matching() gives the sorted uuids of the rows that satisfy all conditions."""
        rows = {U2: row(n=1), U1: row(n=1), U3: row(n=2)}
        self.assertEqual(conditions.matching(rows, [cond("n", "=", 1)]), [U1, U2])
        self.assertEqual(conditions.matching(rows, []), [U1, U2, U3])

    def test_str(self):
        """A condition reads back as the caller wrote it, for error messages."""
        self.assertEqual(str(cond("other_config:mtu", "!=", "1500")), "T.other_config:mtu!='1500'")
        self.assertEqual(str(cond("trunks", "{<=}", [2, 1])), "T.trunks{<=}[1, 2]")


class WhereTests(unittest.TestCase):
    """Conditions as RFC 7047 where clauses."""

    def test_expressible(self):
        """Equality, numeric order on scalars, superset and disjointness become server clauses."""
        cases = [
            (("name", "=", "x"), [["name", "==", "x"]]),
            (("n", "!=", 3), [["n", "!=", 3]]),
            (("n", "<", 3), [["n", "<", 3]]),
            (("ratio", ">=", 1.5), [["ratio", ">=", 1.5]]),
            (("tag", "=", 5), [["tag", "==", ["set", [5]]]]),
            (("trunks", "{=}", [2, 1]), [["trunks", "==", ["set", [1, 2]]]]),
            (("trunks", "{>=}", [1]), [["trunks", "includes", ["set", [1]]]]),
            (("trunks", "{>=}", []), []),
            (("trunks", "{>}", [1]), [["trunks", "includes", ["set", [1]]], ["trunks", "!=", ["set", [1]]]]),
            (("trunks", "{not-in}", [1, 2]), [["trunks", "excludes", ["set", [1, 2]]]]),
            (("refs", "{>=}", [U1]), [["refs", "includes", ["set", [["uuid", U1]]]]]),
            (("other_config", "=", {"a": "b"}), [["other_config", "==", ["map", [["a", "b"]]]]]),
            (("other_config:mtu", "=", "1500"), [["other_config", "includes", ["map", [["mtu", "1500"]]]]]),
            (("other_config:mtu", "{!=}", "1500"), [["other_config", "excludes", ["map", [["mtu", "1500"]]]]]),
            (("other_config:mtu", "{not-in}", ["1", "2"]),
             [["other_config", "excludes", ["map", [["mtu", "1"]]]],
              ["other_config", "excludes", ["map", [["mtu", "2"]]]]]),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                self.assertEqual(cond(*args).to_where(), want)

    def test_not_expressible(self):
        """What the server's functions cannot say exactly gives None."""
        cases = [("trunks", "{<=}", [1]), ("trunks", "{in}", [1]), ("trunks", "{<}", [1]), ("trunks", "<", [1]),
                 ("name", "<", "x"), ("flag", ">", False), ("tag", "<", 3), ("tag", "=", None),
                 ("other_config:mtu", "!=", "1"), ("other_config:mtu", "<", "1"), ("other_config:mtu", "{=}", None),
                 ("refs", "{>=}", [SymbolicRef("q")])]
        for args in cases:
            with self.subTest(args=args):
                self.assertIsNone(cond(*args).to_where())

    def test_where_of(self):
        """Several conditions join their clauses; one inexpressible condition makes the whole None."""
        a, b = cond("n", "=", 1), cond("name", "=", "x")
        self.assertEqual(where_of([a, b]), [["n", "==", 1], ["name", "==", "x"]])
        self.assertIsNone(where_of([a, cond("name", "<", "x")]))
        self.assertEqual(where_of([]), [])


# -- property: matches() against a model written from the man page ---------------------------------

STRINGS = st.sampled_from(["", "a", "b", "ab", "\u00e9"])
INTS = st.integers(0, 4)
UUIDS = st.sampled_from([U1, U2, U3])

#: For each column: (row value strategy, value strategy for a condition on the whole column).
COLUMN_VALUES = {
    "name": (STRINGS, STRINGS),
    "n": (INTS, INTS),
    "ratio": (st.sampled_from([0.0, 1.5, -2.0]), st.sampled_from([0.0, 1.5, -2.0])),
    "flag": (st.booleans(), st.booleans()),
    "tag": (st.none() | INTS, st.none() | INTS),
    "trunks": (st.frozensets(INTS, max_size=3), st.frozensets(INTS, max_size=3)),
    "names": (st.frozensets(STRINGS, max_size=3), st.frozensets(STRINGS, max_size=3)),
    "refs": (st.frozensets(UUIDS), st.frozensets(UUIDS)),
    "other_config": (st.dictionaries(STRINGS, STRINGS, max_size=3), st.dictionaries(STRINGS, STRINGS, max_size=3)),
}


def model_elements(column, value):
    """The row's value as the man page sees it: a sorted list of elements (pairs for maps)."""
    if isinstance(value, dict):
        return sorted(value.items())
    if value is None:
        return []
    if isinstance(value, frozenset):
        return sorted(value)
    return [value]


def model_compare(a, b, is_map):
    """ovs-vsctl's order, step by step as ``man ovs-vsctl`` tells it: -1, 0 or 1."""
    if len(a) != len(b):
        return -1 if len(a) < len(b) else 1
    firsts = [(x[0], y[0]) for x, y in zip(a, b, strict=True)] if is_map else list(zip(a, b, strict=True))
    seconds = [(x[1], y[1]) for x, y in zip(a, b, strict=True)] if is_map else []
    for x, y in firsts + seconds:
        if x != y:
            return -1 if x < y else 1
    return 0


def model_relop(op, a, b, is_map):
    """Evaluate the operator on element lists, with explicit loops."""
    def subset(xs, ys):
        return all(x in ys for x in xs)
    if op in ("=", "{=}", "!=", "{!=}", "<", ">", "<=", ">="):
        c = model_compare(a, b, is_map)
        return {"=": c == 0, "{=}": c == 0, "!=": c != 0, "{!=}": c != 0,
                "<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0}[op]
    if op in ("{<=}", "{in}"):
        return subset(a, b)
    if op == "{<}":
        return subset(a, b) and len(b) > len(a)
    if op == "{>=}":
        return subset(b, a)
    if op == "{>}":
        return subset(b, a) and len(a) > len(b)
    assert op == "{not-in}"
    return not any(x in b for x in a)


def model_matches(column, key, op, want, row_value):
    if key is None:
        return model_relop(op, model_elements(column, row_value), model_elements(column, want),
                           isinstance(row_value, dict))
    if key in row_value:
        have = [row_value[key]]
    elif op in SET_OPERATORS:
        have = []
    else:
        return False
    return model_relop(op, have, model_elements(column, want), False)


@st.composite
def cases(draw):
    column = draw(st.sampled_from(sorted(COLUMN_VALUES)))
    row_strategy, want_strategy = COLUMN_VALUES[column]
    row_value = draw(row_strategy)
    key = None
    if column == "other_config" and draw(st.booleans()):
        key = draw(STRINGS)
        want_strategy = st.none() | STRINGS | st.frozensets(STRINGS, max_size=2)
    want = draw(want_strategy)
    return column, key, draw(st.sampled_from(OPERATORS)), want, row_value


class PropertyTests(unittest.TestCase):
    """matches() agrees with a model of the man page for random rows and conditions."""

    @settings(max_examples=400, deadline=None)
    @given(cases())
    def test_matches_agrees_with_model(self, case):
        """Every operator on every kind of column, with and without keys, decides as the model does."""
        column, key, op, want, row_value = case
        spec = column if key is None else 'other_config:"%s"' % key
        condition = cond(spec, op, want)
        self.assertEqual(condition.matches(row(**{column: row_value})),
                         model_matches(column, key, op, want, row_value))

    @settings(max_examples=200, deadline=None)
    @given(st.dictionaries(st.sampled_from("abc"), st.sampled_from("ab"), min_size=2, max_size=2),
           st.dictionaries(st.sampled_from("abc"), st.sampled_from("ab"), min_size=2, max_size=2),
           st.sampled_from(ARITHMETIC_OPERATORS))
    def test_map_order_agrees_with_model(self, have, want, op):
        """Ordering maps of the same size (keys first, then values) decides as the model does."""
        self.assertEqual(cond("other_config", op, want).matches(row(other_config=have)),
                         model_matches("other_config", None, op, want, have))

    @settings(max_examples=200, deadline=None)
    @given(cases())
    def test_where_clause_agrees(self, case):
        """Where a condition has where clauses, a straightforward evaluator of RFC 7047 functions on
        them selects what matches() selects."""
        column, key, op, want, row_value = case
        spec = column if key is None else 'other_config:"%s"' % key
        condition = cond(spec, op, want)
        where = condition.to_where()
        if where is None:
            return
        r = row(**{column: row_value})
        self.assertEqual(all(rfc7047_clause(TABLE, r, c) for c in where), condition.matches(r))


def rfc7047_clause(table, r, clause):
    """RFC 7047 section 5.1 "Notation": evaluate one clause on a row (Python values)."""
    column, function, wire = clause
    ctype = table.columns[column].type
    relaxed = ColumnType(ctype.key, ctype.value, 0, None)
    arg = relaxed.from_wire(wire)
    have = r[column]
    if ctype.is_map:
        have_set, arg_set = set(have.items()), set(arg.items())
    else:
        have_set = set(model_elements(column, have))
        arg_set = set(arg)
    if function in ("<", "<=", ">", ">="):
        (a,), (b,) = have_set, arg_set
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[function]
    if function == "==":
        return have_set == arg_set
    if function == "!=":
        return have_set != arg_set
    if function == "includes":
        return arg_set <= have_set
    assert function == "excludes"
    return not (arg_set & have_set)


# -- the real ovs-vsctl and ovsdb-server --------------------------------------------------------------

class RealServer:
    """A private ovsdb-server with the Open_vSwitch schema, and what tests need of it."""

    PROGRAMS = ("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovsdb-client")

    def __init__(self):
        require_programs(*self.PROGRAMS)
        self.directory = tempfile.mkdtemp(prefix="ovsdbus-")
        self.server = sandbox.OvsdbServer(self.directory)
        try:
            self.server.start()
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise

    def stop(self):
        try:
            self.server.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def vsctl(self, *args, check=True):
        """Run ovs-vsctl; return ``(returncode, stdout, stderr)``."""
        argv = [sandbox.find_binary("ovs-vsctl"), "--db=" + self.server.remote, "--no-wait",
                "--timeout=10"] + list(args)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, env=self.server._ovs_env())
        if check and done.returncode:
            raise AssertionError("%s failed: %s" % (" ".join(argv), done.stderr))
        return done.returncode, done.stdout, done.stderr

    def client(self, *args):
        argv = [sandbox.find_binary("ovsdb-client")] + list(args)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, env=self.server._ovs_env(),
                              check=True)
        return json.loads(done.stdout)

    def schema(self):
        """The server's schema, parsed."""
        return DatabaseSchema.from_json(self.client("get-schema", self.server.remote))

    def transact(self, *ops):
        """The results of one transaction of ``ops`` on the Open_vSwitch database."""
        return self.client("transact", self.server.remote, json.dumps(["Open_vSwitch"] + list(ops)))

    def replica(self):
        """A Replica of every table and column, filled from a select of each table."""
        schema = self.schema()
        tables = sorted(schema.tables)
        results = self.transact(*({"op": "select", "table": t, "where": []} for t in tables))
        updates = {}
        for table, result in zip(tables, results, strict=True):
            updates[table] = {}
            for r in result["rows"]:
                uuid = r.pop("_uuid")[1]
                r.pop("_version", None)
                updates[table][uuid] = {"initial": r}
        replica = Replica(schema, {t: None for t in tables})
        replica.apply_update(updates, 2)
        return replica


def vsctl_value(value):
    """A Python condition value in ovs-vsctl's syntax (strings always in JSON quotes)."""
    def atom(a):
        return json.dumps(a) if isinstance(a, str) else str(a).lower() if isinstance(a, bool) else str(a)
    if value is None:
        return "[]"
    if isinstance(value, dict):
        return "{%s}" % ",".join("%s=%s" % (atom(k), atom(v)) for k, v in sorted(value.items()))
    if isinstance(value, (set, frozenset, list)):
        return "[%s]" % ",".join(atom(a) for a in sorted(value))
    return atom(value)


#: (column spec, operator, Python value) cross-checked against ``ovs-vsctl find Port``.
PORT_CONDITIONS = [
    ("tag", "=", 10), ("tag", "!=", 10), ("tag", "<", 15), ("tag", ">=", 10), ("tag", "=", None),
    ("tag", "!=", None), ("tag", "{<=}", [10]), ("tag", "{>=}", []),
    ("trunks", "=", [1, 2]), ("trunks", "{!=}", [1, 2]), ("trunks", "{<=}", [1, 2]), ("trunks", "{in}", [1, 2]),
    ("trunks", "{<}", [1, 2]), ("trunks", "{>=}", [1]), ("trunks", "{>}", [1]), ("trunks", "<", [1, 2]),
    ("trunks", ">", [2]), ("trunks", "<=", [1, 3]), ("trunks", "{not-in}", [2]), ("trunks", "{=}", []),
    ("other_config:mtu", "=", "1500"), ("other_config:mtu", "!=", "1500"), ("other_config:mtu", "{!=}", "1500"),
    ("other_config:mtu", "<", "9000"), ("other_config:mtu", "{<=}", ["1500"]),
    ("other_config:mtu", "{not-in}", ["1500", "9000"]), ("other_config:mtu", "{>=}", ["9000"]),
    ("other_config", "{>=}", {"mtu": "1500"}), ("other_config", "<", {"mtu": "1500", "x": "a"}),
    ("other_config", "=", {}), ("name", ">", "p2"), ("name", "{in}", ["p3"]), ("name", "!=", "p1"),
    ("vlan_mode", "=", "access"), ("vlan_mode", "{!=}", ["access"]), ("bond_fake_iface", "=", False),
]


class RealFindTests(unittest.TestCase):
    """The semantics checked against the real ``ovs-vsctl find`` and ovsdb-server's ``select``."""

    def setUp(self):
        self.real = RealServer()
        self.addCleanup(self.real.stop)
        v = self.real.vsctl
        v("add-br", "br0",
          "--", "add-port", "br0", "p1", "tag=10", "other_config:mtu=1500",
          "--", "add-port", "br0", "p2", "trunks=1,2", "other_config:mtu=9000", "other_config:x=y",
          "--", "add-port", "br0", "p3", "trunks=1",
          "--", "add-port", "br0", "p4", "tag=20", "trunks=1,2,3", "vlan_mode=access",
          "--", "add-port", "br0", "p5", "trunks=2", "other_config:mtu=1500", "bond_fake_iface=true")
        self.replica = self.real.replica()

    def test_find_agrees_with_ovs_vsctl(self):
        """For each condition, the Port rows matches() selects are the rows ``ovs-vsctl find`` prints."""
        ports = self.replica.rows("Port")
        self.assertEqual(len(ports), 6)
        tschema = self.replica.schema.tables["Port"]
        for spec, op, value in PORT_CONDITIONS:
            with self.subTest(condition=(spec, op, value)):
                _, out, _ = self.real.vsctl("--bare", "--columns=_uuid", "find", "Port",
                                            "%s%s%s" % (spec, op, vsctl_value(value)))
                condition = parse_condition(tschema, spec, op, value)
                mine = {u for u, r in ports.items() if condition.matches(r)}
                self.assertEqual(mine, set(out.split()))

    def test_where_clauses_agree_with_ovsdb_server(self):
        """Each where clause the conditions give selects, on the real server, the rows matches() does."""
        ports = self.replica.rows("Port")
        tschema = self.replica.schema.tables["Port"]
        expressed = 0
        for spec, op, value in PORT_CONDITIONS:
            condition = parse_condition(tschema, spec, op, value)
            where = condition.to_where()
            if where is None:
                continue
            expressed += 1
            with self.subTest(condition=(spec, op, value), where=where):
                (result,) = self.real.transact({"op": "select", "table": "Port", "where": where,
                                                "columns": ["_uuid"]})
                self.assertNotIn("error", result)
                got = {r["_uuid"][1] for r in result["rows"]}
                self.assertEqual(got, {u for u, r in ports.items() if condition.matches(r)})
        self.assertGreaterEqual(expressed, 15)

    def test_unknown_column_is_refused_as_ovs_vsctl_does(self):
        """A column the table lacks is an error for both ovs-vsctl and parse_condition."""
        code, _, err = self.real.vsctl("find", "Port", "nosuch=1", check=False)
        self.assertNotEqual(code, 0)
        with self.assertRaises(InvalidArgs):
            parse_condition(self.replica.schema.tables["Port"], "nosuch", "=", 1)


if __name__ == "__main__":  # pragma: no cover
    unittest.main()
