"""Who may change the switch.

Every mutating D-Bus method asks :class:`Authorizer` first.  The decision, in order:

1. uid 0 is allowed, and so is the uid the service runs as (it could change OVSDB
   directly anyway);
2. a member of one of the configured groups is allowed: ``--allow-group`` groups for
   ``org.openvswitch.ovsdb.modify``, ``--allow-remote-group`` groups for it and for
   ``org.openvswitch.ovsdb.modify-remote`` (controllers, managers, SSL: remote control);
3. otherwise polkit decides the method's action when it is on the bus
   (``--polkit auto``, the default), or must decide (``--polkit yes``: no polkit
   means no), or is never asked (``--polkit no``);
4. anything else is refused with AccessDenied.

Reads, properties and signals are open to everyone.  The caller's credentials come
from the bus daemon (``GetConnectionCredentials``) and are cached per unique bus
name, which is never reused; an identity that is not a uid and a list of gids (each an
integer from 0 to 2**32 - 1) refuses the call and is not cached.  The bus side is behind
:class:`BusQueries`, so this module knows nothing of D-Bus libraries; the D-Bus adapter takes
its answers only from the bus daemon and polkit themselves, never from a caller posing as them.
"""

import collections
import os

from twisted.internet import defer
from twisted.python.failure import Failure

from ovsdbus.ovsdb.errors import AccessDenied

MODIFY_ACTION = "org.openvswitch.ovsdb.modify"

#: The action of the calls that open the switch to remote control (controllers, managers, SSL).
MODIFY_REMOTE_ACTION = "org.openvswitch.ovsdb.modify-remote"

POLKIT_MODES = ("auto", "yes", "no")


def is_id(value):
    """Whether ``value`` is a uid or gid: an integer (not a bool) from 0 to 2**32 - 1."""
    return type(value) is int and 0 <= value <= 0xFFFFFFFF


class Credentials(tuple):
    """A caller's ``(uid, gids)``."""

    __slots__ = ()

    def __new__(cls, uid, gids=()):
        return super().__new__(cls, (uid, frozenset(gids)))

    @property
    def uid(self):
        """The caller's user id."""
        return self[0]

    @property
    def gids(self):
        """The caller's group ids (primary and supplementary) as the bus daemon saw them."""
        return self[1]


class Policy:
    """The decision without polkit: ``"allow"``, ``"deny"`` or ``"polkit"`` (ask it).

    :param allowed_uids: users always allowed (root and the service's own user by default).
    :param allowed_gids: groups whose members are allowed :data:`MODIFY_ACTION`.
    :param remote_gids: groups whose members are allowed :data:`MODIFY_REMOTE_ACTION` too.
    :param polkit: ``auto``, ``yes`` or ``no``.
    """

    def __init__(self, allowed_uids=None, allowed_gids=(), polkit="auto", remote_gids=()):
        if polkit not in POLKIT_MODES:
            raise ValueError("polkit must be one of %s" % ", ".join(POLKIT_MODES))
        self.allowed_uids = frozenset({0, os.getuid()} if allowed_uids is None else allowed_uids)
        self.remote_gids = frozenset(remote_gids)
        self.allowed_gids = frozenset(allowed_gids) | self.remote_gids
        self.polkit = polkit

    def decide(self, credentials, action=MODIFY_ACTION):
        """What to do for ``credentials`` asking for ``action`` before asking polkit."""
        if credentials.uid in self.allowed_uids:
            return "allow"
        groups = self.remote_gids if action == MODIFY_REMOTE_ACTION else self.allowed_gids
        if groups & credentials.gids:
            return "allow"
        if self.polkit == "no":
            return "deny"
        return "polkit"


class BusQueries:
    """What :class:`Authorizer` needs from the bus (the D-Bus adapter implements it)."""

    def credentials(self, bus_name):
        """Deferred :class:`Credentials` of the connection ``bus_name``."""
        raise NotImplementedError

    def polkit_present(self):
        """Deferred bool: whether polkit is on the bus."""
        raise NotImplementedError

    def polkit_allows(self, bus_name, action, interactive):
        """Deferred bool: polkit's ``CheckAuthorization`` of ``action`` for ``bus_name``."""
        raise NotImplementedError


class Authorizer:
    """Applies a :class:`Policy` to callers, asking the bus through :class:`BusQueries`."""

    CACHE_SIZE = 4096

    def __init__(self, policy, queries):
        self.policy = policy
        self.queries = queries
        self._credentials = collections.OrderedDict()
        self._asking = {}   # bus name -> [Deferred] of calls waiting for the bus's answer

    def authorize(self, bus_name, action=MODIFY_ACTION, interactive=False):
        """Fire (with None) if ``bus_name`` may perform ``action``; fail with AccessDenied if not."""
        cached = self._credentials.get(bus_name)
        if cached is not None and self.policy.decide(cached, action) == "allow":
            self._credentials.move_to_end(bus_name)
            return defer.succeed(None)
        return self._authorize(bus_name, action, interactive)

    @defer.inlineCallbacks
    def _authorize(self, bus_name, action, interactive):
        credentials = yield self._credentials_of(bus_name)
        decision = self.policy.decide(credentials, action)
        if decision == "allow":
            return None
        if decision == "polkit":
            present = yield self.queries.polkit_present()
            if present:
                allowed = yield self.queries.polkit_allows(bus_name, action, interactive)
                if allowed:
                    return None
                raise AccessDenied("polkit refused %s to uid %d" % (action, credentials.uid))
            if self.policy.polkit == "yes":
                raise AccessDenied("polkit is required to authorize uid %d, and it is not on the bus"
                                   % credentials.uid)
        raise AccessDenied("uid %d may not change the switch (%s)" % (credentials.uid, action))

    def _credentials_of(self, bus_name):
        """Deferred :class:`Credentials` of ``bus_name``: kept from an earlier answer, or asked of
        the bus once however many of its calls arrive before the answer does (a client that sends
        hundreds of calls as it connects costs one question)."""
        cached = self._credentials.get(bus_name)
        if cached is not None:
            self._credentials.move_to_end(bus_name)
            return defer.succeed(cached)
        waiting = self._asking.get(bus_name)
        answer = defer.Deferred()
        if waiting is not None:
            waiting.append(answer)
            return answer
        self._asking[bus_name] = [answer]
        self._ask_credentials(bus_name).addBoth(self._credentials_answered, bus_name)
        return answer

    def _credentials_answered(self, result, bus_name):
        for answer in self._asking.pop(bus_name):
            if isinstance(result, Failure):
                answer.errback(result)
            else:
                answer.callback(result)

    @defer.inlineCallbacks
    def _ask_credentials(self, bus_name):
        credentials = yield self.queries.credentials(bus_name)
        if not (isinstance(credentials, Credentials) and is_id(credentials.uid)
                and all(is_id(g) for g in credentials.gids)):
            raise AccessDenied("the bus gave no usable identity for %s: %.200r" % (bus_name, credentials))
        self._credentials[bus_name] = credentials
        while len(self._credentials) > self.CACHE_SIZE:
            self._credentials.popitem(last=False)
        return credentials
