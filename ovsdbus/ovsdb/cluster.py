"""Whether a member of a Raft cluster may be used: pure decisions on its ``_Server`` row.

Every ovsdb-server serves a ``_Server`` database whose ``Database`` table has one row per
database it holds: ``model`` (``standalone``, ``clustered`` or ``relay``), and for a
clustered one whether this server is ``connected`` to the cluster, whether it is the
``leader``, its ``schema`` (empty until it has joined the cluster) and ``index``, the Raft
log index of the newest entry it has applied.  ovsdbus monitors that row on every
connection (as python-ovs's IDL does) and asks :func:`check_member` after every change
whether it may go on using the member.  The functions here take the row as a dict of
Python values (as :class:`~ovsdbus.ovsdb.replica.Replica` holds it, ``None`` for an empty
optional column), the highest index ovsdbus has already seen, and the options; they
know nothing about time or connections.

Why ``leader_only`` is the default: a follower's copy lags behind the leader's (it learns
of each commit one heartbeat later), so reads served from it may miss a write another
client has just been told is done, and a write sent to it takes a detour (the follower
forwards it to the leader).  With ``leader_only`` false, reads may come from a follower
connected to the cluster: still only committed data, and never older than what ovsdbus
has already shown (the index check below), but possibly a little behind the leader.
"""

import random
from typing import NamedTuple

CLUSTERED = "clustered"

#: RPC error kinds of a ``transact`` that ovsdb-server refused before executing it, so the
#: transaction certainly did not commit and may be sent again to another member:
#: ``database not available`` (the member has not finished joining its cluster) and
#: ``not leader`` (a member that does not forward writes; ovsdb-server 3.1 itself
#: forwards them and retries its own "not leader" cluster errors internally).
NOT_COMMITTED_ERRORS = frozenset(["database not available", "not leader"])


class Verdict(NamedTuple):
    """What :func:`check_member` decided: ``usable``; ``reason`` (a sentence for the log,
    why the member is left, or ``""``); ``min_index``, the highest Raft index seen from now
    on (never lower than the one given); ``leader``, whether the member is the one that
    commits writes (a standalone server is its own leader)."""

    usable: bool
    reason: str
    min_index: int
    leader: bool


def database_row(rows, database):
    """The row of ``database`` among the ``_Server`` ``Database`` rows (``{uuid: row}``), or
    ``None``."""
    for row in rows.values():
        if row.get("name") == database:
            return row
    return None


def check_member(row, database, min_index, leader_only=True):
    """May ovsdbus use this server for ``database``, whose ``_Server`` row is ``row``?

    ``min_index`` is the highest Raft index ovsdbus has seen on any member (0 at first).
    Not usable: no row (the server does not hold the database); a clustered database
    that has not joined its cluster yet (no schema), that is not connected to the
    cluster (its data may be stale and it cannot commit), that is not the leader while
    ``leader_only``, or whose index is lower than ``min_index`` (its data is older than
    what ovsdbus has already served: using it would take the replica back in time).
    Standalone and relay databases are used as they are.
    """
    if row is None:
        return Verdict(False, "the server does not have database %s" % database, min_index, False)
    if row.get("model") != CLUSTERED:
        return Verdict(True, "", min_index, bool(row.get("leader", True)))
    leader = bool(row.get("leader"))
    if not row.get("schema"):
        return Verdict(False, "the clustered database has not joined its cluster yet", min_index, leader)
    if not row.get("connected"):
        return Verdict(False, "the member is not connected to its cluster", min_index, leader)
    if leader_only and not leader:
        return Verdict(False, "the member is not the cluster leader (leader-only)", min_index, leader)
    index = row.get("index")
    if index is not None:
        if index < min_index:
            return Verdict(False, "the member's data is older (Raft index %d) than what ovsdbus has already "
                                  "seen (index %d)" % (index, min_index), min_index, leader)
        min_index = index
    return Verdict(True, "", min_index, leader)


def certainly_not_committed(error):
    """Whether an :class:`~ovsdbus.ovsdb.errors.RpcError` answering a ``transact`` means the
    server refused it before executing it (so sending it again elsewhere cannot commit it
    twice).  Any other failure, a lost connection above all, leaves the outcome unknown."""
    return getattr(error, "kind", None) in NOT_COMMITTED_ERRORS


def member_order(remotes, shuffle=True, rng=None):
    """The order in which to try ``remotes``: shuffled (as ``ovs-vsctl --shuffle-remotes``
    does by default, so that many clients spread over a cluster's members) or as given.

    ``rng`` is a :class:`random.Random` (default: the module's shared one)."""
    remotes = list(remotes)
    if shuffle:
        (rng or random).shuffle(remotes)
    return remotes
