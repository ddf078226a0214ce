"""A fake ovsdb-server for tests: a schema-driven in-memory OVSDB speaking the real wire format.

This is not a stub with canned replies.  :class:`FakeOvsdb` holds a database built
from any OVSDB schema (normally the installed ``vswitch.ovsschema``) and runs RFC 7047
transactions against it with the rules of ovsdb-server 3.1: atomic transactions,
column types and constraints, unique indexes, referential integrity, garbage
collection of unreferenced rows in non-root tables, weak references, ``_uuid`` and
``_version``.  Results and errors have the shapes and, as far as practical, the
wording of the real server; ``tests/testing/test_conformance.py`` runs the same expectations
against both so that the two cannot drift apart.

:class:`FakeOvsdbFactory` serves one or more :class:`FakeOvsdb` over any Twisted
stream transport (``reactor.listenUNIX``, ``StringTransport``, ``iosim``) and offers
fault-injection knobs: drop every connection, delay or hold replies, answer requests
with an error, send garbage bytes, refuse connections, stop listening.

Typical use::

    db = FakeOvsdb.open_vswitch()          # installed schema, "ovs-vsctl init" done
    factory = FakeOvsdbFactory(db, clock=task.Clock())
    factory.listen_unix(path)              # or factory.buildProtocol(None) on a test transport
    db.transact([{"op": "insert", ...}])   # change it behind the clients' back
    db.find("Bridge", name="br0")          # read it as Python values
    factory.fail_next("canceled")          # break it
    yield factory.shutdown()               # stop listening, drop clients

Behaviour of the real server that the fake reproduces, checked by experiment against
ovsdb-server 3.1:

* Error replies are ``{"id": ID, "error": E}`` with no ``"result"`` member.
* A one-element set is sent as the bare atom; an empty optional as ``["set", []]``.
* The update notifications caused by a transaction reach the client that sent it
  before the transact reply.
* ``update2``/``update3``: ``initial`` and ``insert`` carry only the columns whose
  value is not the default; ``modify`` carries the changed columns, as the symmetric
  difference for sets, as added, removed (old value) and changed (new value) pairs for
  maps, and as the new value for columns holding at most one value (optional columns
  included: going from a value to none is ``["set", []]``); ``delete`` is ``null``.
* Monitor conditions are OR-ed clauses (an empty condition matches every row); when
  several requests for one table carry a ``where``, the first one applies.
* A standalone server keeps no transaction history: ``monitor_cond_since`` answers
  ``found`` false with the all-zero transaction id, and ``update3`` carries that id.
  ``FakeOvsdb(keep_history=True)`` behaves like a clustered server instead.
* ``wait`` with ``"timeout": 0`` that does not hold fails with "timed out"; with a
  longer or no timeout the transaction is held and retried after every commit until it
  holds or its timeout (measured on the factory's clock) expires.  Direct calls to
  :meth:`FakeOvsdb.transact` cannot wait: like an embedded OVSDB they answer
  "not supported" / "triggers not supported" for a wait that does not hold yet.
* A ``cancel`` notification drops the held transaction without any reply (that is what
  ovsdb-server 3.1 does, although RFC 7047 promises a "canceled" error); ``cancel``
  sent as a request gets "unknown method".
* Weak references to deleted rows are removed in the same transaction, except from a
  row that the transaction changed in another column: that row keeps them, dangling
  (ovsdb-server 3.1 does so, for explicitly deleted and for garbage-collected rows).
* ``lock``/``steal``/``unlock`` with ``locked``/``stolen`` notifications, and the
  ``assert`` operation.
* A request with a member other than method, params and id drops the connection.

Known differences: ``get_schema`` returns the schema as loaded, where ovsdb-server
returns it re-serialised (defaults omitted, enums sorted): the content is the same.
Error *details* texts follow the real server's wording where it was observed and are
otherwise descriptive.  Unlike ovsdb-server 3.1, which crashes on a ``monitor``
request with missing parameters, the fake answers "invalid parameters".  ``convert``
and clustering are not implemented; garbage collection considers every unreferenced
row of a non-root table, not just the rows the transaction touched (the same thing
for a database that only ever changed through transactions).

The fake is made of parts that each know one thing; import everything from this package:

=================================  ===========================================================
:mod:`ovsdbus.testing.datum`       wire values <-> Python values: parse, check, encode, diff
:mod:`ovsdbus.testing.where`       ``where`` clauses, for operations and conditional monitors
:mod:`ovsdbus.testing.transaction` the operations of one transaction and the commit-time checks
:mod:`ovsdbus.testing.database`    :class:`FakeOvsdb`: commits, waiting transactions, history
:mod:`ovsdbus.testing.monitor`     monitor requests and update/update2/update3 notifications
:mod:`ovsdbus.testing.server`      the JSON-RPC server protocol and factory, locks
:mod:`ovsdbus.testing.faults`      the factory's fault-injection knobs
=================================  ===========================================================

:mod:`ovsdbus.testing.sandbox` runs the real daemons (and this fake as a program,
``python -m ovsdbus.testing``) instead.
"""

from ovsdbus.testing.database import DEFAULT_SCHEMA_PATH, FakeOvsdb, add_bridge_operations, make_server_database
from ovsdbus.testing.server import FakeOvsdbFactory, FakeOvsdbProtocol

__all__ = [
    "add_bridge_operations",
    "DEFAULT_SCHEMA_PATH", "FakeOvsdb", "FakeOvsdbFactory", "FakeOvsdbProtocol",
    "make_server_database",
]
