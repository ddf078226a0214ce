"""Who may change the switch: the decision of ovsdbus.bus.authorization, with a stub bus."""

from twisted.internet import defer
from twisted.trial import unittest

from ovsdbus.api.errors import dbus_error_name
from ovsdbus.bus.authorization import MODIFY_ACTION, MODIFY_REMOTE_ACTION, Authorizer, BusQueries, Credentials, Policy
from ovsdbus.ovsdb.errors import AccessDenied

ROOT = Credentials(0, [0])
NOBODY = Credentials(65534, [65534])
OPERATOR = Credentials(1000, [1000, 4242])


class StubBus(BusQueries):
    """Answers from tables and records what was asked."""

    def __init__(self, credentials, polkit=None):
        self.table = credentials
        self.polkit = polkit          # None: absent; else {bus name: bool}
        self.asked = []

    def credentials(self, bus_name):
        self.asked.append(("credentials", bus_name))
        if bus_name not in self.table:
            return defer.fail(AccessDenied("cannot identify the caller %s" % bus_name))
        return defer.succeed(self.table[bus_name])

    def polkit_present(self):
        return defer.succeed(self.polkit is not None)

    def polkit_allows(self, bus_name, action, interactive):
        self.asked.append(("polkit", bus_name, action, interactive))
        return defer.succeed(self.polkit.get(bus_name, False))


class PolicyTests(unittest.TestCase):
    def test_root_and_service_user_allowed(self):
        """root may always change the switch, and so may the user the service runs as."""
        policy = Policy(allowed_uids={0, 123})
        self.assertEqual(policy.decide(ROOT), "allow")
        self.assertEqual(policy.decide(Credentials(123)), "allow")

    def test_group_member_allowed(self):
        """A member of an --allow-group group may change the switch without polkit."""
        policy = Policy(allowed_uids={0}, allowed_gids=[4242])
        self.assertEqual(policy.decide(OPERATOR), "allow")
        self.assertEqual(policy.decide(NOBODY), "polkit")

    def test_remote_control_needs_a_remote_group(self):
        """An --allow-group member may change ports but must ask polkit for remote control
        (org.openvswitch.ovsdb.modify-remote); an --allow-remote-group member may do both; root may."""
        policy = Policy(allowed_uids={0}, allowed_gids=[4242])
        self.assertEqual(policy.decide(OPERATOR, MODIFY_REMOTE_ACTION), "polkit")
        self.assertEqual(policy.decide(ROOT, MODIFY_REMOTE_ACTION), "allow")
        policy = Policy(allowed_uids={0}, remote_gids=[4242], polkit="no")
        self.assertEqual(policy.decide(OPERATOR, MODIFY_REMOTE_ACTION), "allow")
        self.assertEqual(policy.decide(OPERATOR, MODIFY_ACTION), "allow")
        self.assertEqual(policy.decide(NOBODY, MODIFY_REMOTE_ACTION), "deny")

    def test_polkit_no_denies_everyone_else(self):
        """With --polkit no, a caller who is neither root nor in an allowed group is refused."""
        self.assertEqual(Policy(allowed_uids={0}, polkit="no").decide(NOBODY), "deny")

    def test_bad_polkit_mode(self):
        """A polkit mode other than auto/yes/no is rejected."""
        self.assertRaises(ValueError, Policy, polkit="maybe")


class AuthorizerTests(unittest.TestCase):
    def authorize(self, bus, name, policy=None, interactive=False):
        authorizer = Authorizer(policy or Policy(allowed_uids={0}), bus)
        return authorizer.authorize(name, MODIFY_ACTION, interactive)

    def test_root_allowed_without_polkit(self):
        """root's calls go through even when polkit is not on the bus, and polkit is not asked."""
        bus = StubBus({":1.1": ROOT})
        self.successResultOf(self.authorize(bus, ":1.1"))
        self.assertNotIn("polkit", [a[0] for a in bus.asked])

    def test_other_user_denied_without_polkit(self):
        """Another user is refused with AccessDenied, naming the uid, when there is no polkit."""
        failure = self.failureResultOf(self.authorize(StubBus({":1.2": NOBODY}), ":1.2"), AccessDenied)
        self.assertIn("65534", str(failure.value))
        self.assertEqual(dbus_error_name(failure.value), "org.freedesktop.DBus.Error.AccessDenied")

    def test_polkit_decides_for_other_users(self):
        """With polkit on the bus, its answer decides, for the modify action, passing interactivity on."""
        bus = StubBus({":1.3": OPERATOR, ":1.4": NOBODY}, polkit={":1.3": True})
        self.successResultOf(self.authorize(bus, ":1.3", interactive=True))
        self.failureResultOf(self.authorize(bus, ":1.4"), AccessDenied)
        self.assertIn(("polkit", ":1.3", MODIFY_ACTION, True), bus.asked)

    def test_polkit_required_but_absent(self):
        """With --polkit yes and no polkit on the bus, the refusal says polkit is missing."""
        failure = self.failureResultOf(
            self.authorize(StubBus({":1.5": NOBODY}), ":1.5", Policy(allowed_uids={0}, polkit="yes")),
            AccessDenied)
        self.assertIn("polkit", str(failure.value))

    def test_unknown_caller_denied(self):
        """A caller the bus cannot identify (it has gone) is refused."""
        self.failureResultOf(self.authorize(StubBus({}), ":1.9"), AccessDenied)

    def test_credentials_cached_per_bus_name(self):
        """The bus daemon is asked once per caller, not once per call."""
        bus = StubBus({":1.6": ROOT})
        authorizer = Authorizer(Policy(allowed_uids={0}), bus)
        for _ in range(3):
            self.successResultOf(authorizer.authorize(":1.6"))
        self.assertEqual(bus.asked.count(("credentials", ":1.6")), 1)

    def test_calls_before_the_answer_share_one_question(self):
        """Calls of one caller arriving before the bus has answered are all decided by one
        question; a refusal reaches each of them, and the next call asks again."""
        bus = StubBus({})
        pending = {}

        def slow(bus_name):
            bus.asked.append(("credentials", bus_name))
            pending[bus_name] = defer.Deferred()
            return pending[bus_name]
        bus.credentials = slow
        authorizer = Authorizer(Policy(allowed_uids={0}), bus)
        calls = [authorizer.authorize(":1.7") for _ in range(50)] + [authorizer.authorize(":1.8")]
        self.assertEqual(bus.asked, [("credentials", ":1.7"), ("credentials", ":1.8")])
        for d in calls:
            self.assertNoResult(d)
        pending[":1.7"].callback(ROOT)
        pending[":1.8"].errback(AccessDenied("gone"))
        for d in calls[:-1]:
            self.assertIsNone(self.successResultOf(d))
        self.failureResultOf(calls[-1], AccessDenied)
        self.assertNoResult(authorizer.authorize(":1.8"))
        self.assertEqual(bus.asked.count(("credentials", ":1.8")), 2)

    def test_cache_is_bounded(self):
        """Many short-lived callers do not grow the cache without bound."""
        names = [":1.%d" % i for i in range(20)]
        authorizer = Authorizer(Policy(allowed_uids={0}), StubBus({n: ROOT for n in names}))
        authorizer.CACHE_SIZE = 5
        for n in names:
            self.successResultOf(authorizer.authorize(n))
        self.assertEqual(len(authorizer._credentials), 5)


class FakeBusConnection:
    """Answers callRemote like txdbus does, from a table of (member -> reply)."""

    def __init__(self, replies):
        self.replies = replies
        self.calls = []

    def callRemote(self, path, member, **kwargs):
        self.calls.append((member, kwargs))
        reply = self.replies[member]
        if isinstance(reply, Exception):
            return defer.fail(reply)
        return defer.succeed(reply)


class TxdbusBusQueriesTests(unittest.TestCase):
    """The D-Bus side of authorization, with replies shaped as txdbus delivers them."""

    def queries(self, replies):
        from ovsdbus.bus.service import TxdbusBusQueries
        return TxdbusBusQueries(FakeBusConnection(replies))

    def test_polkit_no_means_no(self):
        """polkit's "not authorized" (a struct reply, delivered whole by txdbus) refuses the call."""
        q = self.queries({"CheckAuthorization": [[False, True, {}]]})
        self.assertIs(self.successResultOf(q.polkit_allows(":1.7", MODIFY_ACTION, False)), False)

    def test_polkit_yes_means_yes(self):
        """polkit's "authorized" lets the call through, and interactivity is passed as flag 1."""
        q = self.queries({"CheckAuthorization": [[True, False, {}]]})
        self.assertIs(self.successResultOf(q.polkit_allows(":1.7", MODIFY_ACTION, True)), True)
        member, kwargs = q.bus_connection.calls[0]
        self.assertEqual(kwargs["body"][3], 1)
        self.assertEqual(kwargs["body"][0], ("system-bus-name", {"name": ":1.7"}))

    def test_polkit_failure_refuses(self):
        """A polkit that fails to answer refuses rather than allows."""
        q = self.queries({"CheckAuthorization": RuntimeError("boom")})
        self.assertIs(self.successResultOf(q.polkit_allows(":1.7", MODIFY_ACTION, False)), False)

    def test_credentials_from_the_bus(self):
        """The caller's uid and groups come from GetConnectionCredentials."""
        q = self.queries({"GetConnectionCredentials": {"UnixUserID": 1000, "UnixGroupIDs": [1000, 100]}})
        credentials = self.successResultOf(q.credentials(":1.8"))
        self.assertEqual((credentials.uid, credentials.gids), (1000, frozenset({1000, 100})))

    def test_unidentifiable_caller(self):
        """A caller the bus cannot describe is refused with AccessDenied."""
        q = self.queries({"GetConnectionCredentials": RuntimeError("NameHasNoOwner")})
        self.failureResultOf(q.credentials(":1.9"), AccessDenied)
