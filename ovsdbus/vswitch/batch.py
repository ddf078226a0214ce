"""Batches of database commands run as ONE OVSDB transaction, and the :class:`Database` facade
the D-Bus adapter calls.

A batch is a list of ``(verb, {argument: Python value})`` commands (verbs and argument names
are those of :data:`ovsdbus.vswitch.verbs.VERBS`, which are the D-Bus methods').  It is
planned command by command on one :class:`~ovsdbus.ovsdb.txn.Txn`, so later commands see what
earlier ones did (``CreateBridge br0`` then ``AddPort br0 p0`` works; ``AddPort br0 p0``
twice is AlreadyExists), and sent as one transaction that starts with ``wait`` operations on
everything the plan read: all of it commits or none of it.  When another writer changed what
the plan read, ovsdb-server refuses it ("timed out") and the whole batch is planned again from
the updated replica, up to ``max_attempts`` times — so two batches racing for the same rows get
exactly-once outcomes (one AddPort p0 succeeds, the other is AlreadyExists).

Named references (``ovs-vsctl -- --id=@q create QoS ... -- set Port p1 qos=@q``): a creating
command (:data:`~ovsdbus.vswitch.verbs.CREATING_VERBS`) may take ``id: "@q"``; a later
command's uuid-typed value may be :class:`~ovsdbus.ovsdb.schema.SymbolicRef` ``("q")`` (and a
``record`` may be the text ``"@q"``).  A reference to a name not created earlier, a name
created twice, or a name never used is InvalidArgs.

Options: ``dry_run`` (an ``abort`` operation ends the transaction: ovsdb-server checks every
operation, then discards them; the batch succeeds with ``dry_run`` results or fails with the
error a real run would give — except the checks ovsdb-server makes only when committing, that
is referential integrity and garbage collection, of which ovsdbus checks the common cases
itself: rows left unreferenced, references Destroy cannot drop, unique indexes), ``comment``
(logged by ovsdb-server with the transaction), ``timeout`` (seconds to wait for the
server's reply), and ``wait`` with ``apply_timeout`` (``"applied"``: also wait for ovs-vswitchd
to apply the change and check the interfaces it touched, see :mod:`ovsdbus.vswitch.applied`).

A failure names its command: ``command 3 (Set Port p1): constraint violation: ...``; the
exception keeps the class of the cause (NotFound, ConstraintViolation, ...).
"""

import copy
import re
from collections.abc import Mapping

from twisted.internet import defer

from ovsdbus.ovsdb.errors import (
    Disconnected,
    InvalidArgs,
    OvsdbusError,
    ReferentialIntegrity,
    ResourcesExhausted,
    Timeout,
    TransactionError,
    WaitTimedOut,
)
from ovsdbus.ovsdb.schema import ZERO_UUID, NamedUuid, SymbolicRef
from ovsdbus.ovsdb.sets import VersionedSet
from ovsdbus.ovsdb.txn import Txn, is_index_conflict
from ovsdbus.vswitch import applied
from ovsdbus.vswitch.dbverbs import Context, NotYet
from ovsdbus.vswitch.verbs import CREATING_VERBS, VERBS

#: The options :meth:`Database.transact` takes.
OPTIONS = ("dry_run", "comment", "timeout", "wait", "apply_timeout")

#: Longest single wait for a change while a WaitUntil without timeout waits (then it waits again).
_LONGEST_WAIT = 3600.0

#: Most commands one batch may hold.
MAX_COMMANDS = 10000

#: Most batches (WaitUntil calls) that may wait at once for their conditions to hold, and most with
#: wait "applied" under way at once.
MAX_WAITING = 256

_UUID_IN_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def with_command(error, index, description):
    """A copy of ``error`` (same class, same attributes) whose message starts with
    ``command INDEX (DESCRIPTION): `` (``index`` counts from 1)."""
    wrapped = copy.copy(error)
    wrapped.args = ("command %d (%s): %s" % (index, description, error),)
    wrapped.__cause__ = error
    return wrapped


def _reference_name(value):
    """The name of an ``@name`` id, as given to ``id``."""
    if isinstance(value, SymbolicRef):
        return str(value)
    if isinstance(value, str) and value.startswith("@") and len(value) > 1:
        return value[1:]
    raise InvalidArgs("id must be \"@name\", not %r" % (value,))


class _Plan:
    """One batch planned on one Txn: the results, and how to name command ``i``."""

    def __init__(self, txn, results, checked):
        self.txn = txn
        self.results = results
        self.checked = checked

    def describe(self, index):
        """Command ``index`` (0-based) as a message names it (only an error needs it)."""
        spec, args = self.checked[index]
        return spec.describe(args)

    def wrap(self, error, index):
        """``error`` prefixed with command ``index`` (0-based)."""
        return with_command(error, index + 1, self.describe(index))

    def blame(self, error):
        """The index of the command a server error belongs to: the owner of the failing operation,
        else the first command that wrote a row the details name, else the last writing command."""
        owner = self.txn.owner_of(error.op_index)
        if owner is not None:
            return owner
        for uuid in _UUID_IN_TEXT.findall(str(getattr(error, "details", "") or "")):
            for table in self.txn.schema.tables:
                owner = self.txn.owner_of_uuid(table, uuid)
                if owner is not None:
                    return owner
        writers = self.txn.write_owners()
        return writers[-1] if writers else None


class Database:
    """The generic database verbs on an :class:`~ovsdbus.ovsdb.connection.OvsdbConnection`, with
    Python values (see :mod:`ovsdbus.ovsdb.schema`) in and out.

    Reads (:meth:`get`, :meth:`list`, :meth:`find`) are answered from the replica at once;
    writes return Deferreds that fire once the change is committed and in the replica.
    ``uuid_of_path`` (object path -> uuid, NotFound for an unknown one) lets records be named
    by object path.  ``clock`` (IReactorTime) defaults to the connection's.
    """

    def __init__(self, connection, max_attempts=5, conflict_wait=2.0, uuid_of_path=None, clock=None):
        self.connection = connection
        self.max_attempts = max_attempts
        self.conflict_wait = conflict_wait
        self.uuid_of_path = uuid_of_path
        self.clock = clock or connection.clock
        self.waiting = 0   # batches waiting now for a WaitUntil to hold
        self.applying = 0  # batches with wait "applied" under way (at most MAX_WAITING)

    @property
    def replica(self):
        """The synced replica; raises Disconnected when there is none."""
        if not self.connection.synced:
            raise Disconnected("not connected to ovsdb-server")
        return self.connection.replica

    def schema_json(self):
        """The server's schema, as it sent it."""
        return self.replica.schema.json

    # -- reads -----------------------------------------------------------------------

    def _read(self, verb, **args):
        spec = VERBS[verb]
        try:
            return spec.plan(Context(self.replica, self.uuid_of_path), **spec.arguments(args))
        except (TypeError, ValueError, AttributeError) as e:
            raise InvalidArgs("%s: malformed arguments: %s" % (spec.describe(args), e)) from None

    def get(self, table, record, columns=()):
        """``{column or "column:key": value, "_uuid": uuid}`` of one record (all columns when
        ``columns`` is empty)."""
        return self._read("Get", table=table, record=record, columns=columns)["rows"][0]

    def list(self, table, columns=()):
        """Every row of ``table`` as ``get`` gives it."""
        return self._read("List", table=table, columns=columns)["rows"]

    def find(self, table, conditions=(), columns=()):
        """The rows of ``table`` matching every ``(column or "column:key", operator, value)``."""
        return self._read("Find", table=table, conditions=conditions, columns=columns)["rows"]

    # -- writes ------------------------------------------------------------------------

    def _one(self, verb, args):
        d = self.transact([(verb, args)])
        d.addCallback(lambda results: results[0])
        return d

    def set(self, table, record, values, key_values=None):
        """Replace columns (``values``) and set single map keys (``{column: {key: value}}``)."""
        return self._one("Set", {"table": table, "record": record, "values": values, "key_values": key_values})

    def add(self, table, record, column, values):
        """Insert into a set or map column."""
        return self._one("Add", {"table": table, "record": record, "column": column, "values": values})

    def remove(self, table, record, column, values):
        """Delete from a set, or from a map by keys (a set) or by key-value pairs (a dict)."""
        return self._one("Remove", {"table": table, "record": record, "column": column, "values": values})

    def clear(self, table, record, columns):
        """Empty set, map and optional columns."""
        return self._one("Clear", {"table": table, "record": record, "columns": columns})

    def create(self, table, values):
        """Insert a row into a root table; fires with its uuid."""
        d = self._one("Create", {"table": table, "values": values})
        d.addCallback(lambda result: result["uuid"])
        return d

    def destroy(self, table, records):
        """Delete records (unlinking them where the schema allows; see
        :func:`~ovsdbus.vswitch.dbverbs.plan_destroy`)."""
        return self._one("Destroy", {"table": table, "records": records})

    def wait_until(self, table, record, conditions=(), timeout=None):
        """Fire once the replica shows ``record`` existing and matching ``conditions``; Timeout after
        ``timeout`` seconds (``None``: no limit).  Never blocks: it waits for changes."""
        return self._one("WaitUntil", {"table": table, "record": record, "conditions": conditions,
                                       "timeout": timeout})

    # -- batches -----------------------------------------------------------------------

    @staticmethod
    def _check_options(options):
        if options is None:
            return {}
        if not isinstance(options, Mapping):
            raise InvalidArgs("options must be a dict")
        unknown = sorted(k for k in options if k not in OPTIONS)
        if unknown:
            raise InvalidArgs("unknown option(s) %s (known: %s)" % (", ".join(map(str, unknown)), ", ".join(OPTIONS)))
        if not isinstance(options.get("dry_run", False), bool):
            raise InvalidArgs("option dry_run must be a boolean")
        if not isinstance(options.get("comment", ""), str):
            raise InvalidArgs("option comment must be a string")
        timeout = options.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or not 0 < timeout <= 86400):
            raise InvalidArgs("option timeout must be a number of seconds, more than 0 and at most 86400")
        options = dict(options)
        options["wait"], options["apply_timeout"] = applied.check_wait(options.get("wait", "commit"),
                                                                       options.get("apply_timeout"))
        return options

    @staticmethod
    def _check_commands(commands):
        if not isinstance(commands, (list, tuple)) or not commands:
            raise InvalidArgs("a batch needs at least one command")
        if len(commands) > MAX_COMMANDS:
            raise InvalidArgs("a batch holds at most %d commands" % MAX_COMMANDS)
        checked = []
        for i, command in enumerate(commands):
            if not (isinstance(command, (list, tuple)) and len(command) == 2):
                raise InvalidArgs("command %d: a command is (verb, arguments)" % (i + 1))
            verb, args = command
            spec = VERBS.get(verb) if isinstance(verb, str) else None
            if spec is None:
                raise InvalidArgs("command %d: unknown verb %r (known: %s)" % (i + 1, verb, ", ".join(sorted(VERBS))))
            try:
                spec.arguments(args)
            except InvalidArgs:
                spec.arguments(args, _where(i, spec, args))   # the same error, naming the command
                raise
            if "id" in args:
                if verb not in CREATING_VERBS:
                    raise InvalidArgs("%s%s creates no row and takes no id" % (_where(i, spec, args), verb))
                try:
                    _reference_name(args["id"])
                except InvalidArgs as e:
                    raise InvalidArgs(_where(i, spec, args) + str(e)) from None
            checked.append((spec, args))
        return checked

    def transact(self, commands, options=None):
        """Run ``commands`` (``[(verb, {argument: value})]``) as one transaction; fire with one
        result dict per command (see :mod:`ovsdbus.vswitch.dbverbs`), uuids of created rows
        resolved.  A dry run's results carry ``dry_run: True`` and uuid-names for created rows."""
        try:
            options = self._check_options(options)
            checked = self._check_commands(commands)
        except OvsdbusError as e:
            return defer.fail(e)
        return self._run(checked, options)

    def _run(self, checked, options):
        wait_applied = options.get("wait") == "applied" and not options.get("dry_run", False)
        if not wait_applied:
            return self._attempts(checked, options, False)
        # Refused before anything is sent: a change committed and then refused would look failed.
        if self.applying >= MAX_WAITING:
            return defer.fail(ResourcesExhausted(
                "resources exhausted", "%d calls are waiting for ovs-vswitchd already; try again later, or "
                "without wait \"applied\"" % self.applying))
        self.applying += 1

        def done(result):
            self.applying -= 1
            return result
        return self._attempts(checked, options, True).addBoth(done)

    @defer.inlineCallbacks
    def _attempts(self, checked, options, wait_applied):
        dry_run = options.get("dry_run", False)
        started = self.clock.seconds()
        for attempt in range(1, self.max_attempts + 1):
            replica, plan = yield self._plan_when_ready(checked, options, started)
            if wait_applied and replica.schema.name != applied.DATABASE:
                raise InvalidArgs("wait \"applied\" is for the %s database (ovs-vswitchd's), not %s"
                                  % (applied.DATABASE, replica.schema.name))
            if not plan.txn.writes and not dry_run and not wait_applied:
                return plan.results
            generation = replica.generation
            operations = plan.txn.operations()
            if wait_applied:
                # Even when nothing changed: ovs-vsctl too waits for ovs-vswitchd to have caught up.
                operations = operations + applied.bump_operations()
            try:
                results = yield self.connection.transact(operations, timeout=options.get("timeout"))
            except TransactionError as e:
                if dry_run and e.error == "aborted" and e.op_index == len(operations) - 1:
                    for result in plan.results:
                        result["dry_run"] = True
                    return plan.results
                conflict = isinstance(e, WaitTimedOut) or (is_index_conflict(e) and replica.generation != generation)
                if not conflict or attempt == self.max_attempts and not isinstance(e, WaitTimedOut):
                    index = plan.blame(e)
                    if index is None:
                        raise
                    raise plan.wrap(e, index) from None
                # Someone changed what the plan read: plan again once the replica shows it.
                if attempt < self.max_attempts:
                    yield self.connection.caught_up(replica, generation, self.conflict_wait)
                continue
            if dry_run:
                raise TransactionError("aborted", "the dry run's abort operation did not end the transaction")
            names = plan.txn.resolve(results)
            resolved = [_resolve(result, names) for result in plan.results]
            if wait_applied:
                interfaces = [names.get(u, u) for u in applied.interfaces_to_check(plan.txn)]
                yield applied.wait_applied(self.connection, applied.target_from(results[-1]), interfaces,
                                           options["apply_timeout"], self.clock)
            return resolved
        raise TransactionError("conflict", "the database kept changing under %d attempts" % self.max_attempts)

    @defer.inlineCallbacks
    def _plan_when_ready(self, checked, options, started):
        """``(replica, plan)`` once every WaitUntil of the batch holds (Timeout when one's time is up).

        At most :data:`MAX_WAITING` batches wait at once (each is planned again at every change of
        the replica); one more is refused with ResourcesExhausted."""
        counted = False
        try:
            while True:
                replica = self.replica
                try:
                    return replica, self._plan(replica, checked, options)
                except _Waiting as waiting:
                    remaining = waiting.deadline(started) - self.clock.seconds()
                    if remaining <= 0:
                        raise waiting.timed_out() from None
                    if not counted:
                        if self.waiting >= MAX_WAITING:
                            raise ResourcesExhausted(
                                "resources exhausted", "%d WaitUntil calls are waiting already; try again later"
                                % self.waiting) from None
                        self.waiting += 1
                        counted = True
                    try:
                        yield self.connection.next_change(min(remaining, _LONGEST_WAIT))
                    except Timeout:
                        if waiting.deadline(started) - self.clock.seconds() <= 0:
                            raise waiting.timed_out() from None
        finally:
            if counted:
                self.waiting -= 1

    def _plan(self, replica, checked, options):
        txn = Txn(replica, replica.schema.name)
        ctx = Context(txn, self.uuid_of_path)
        refs = {}        # name -> (index of the creating command, uuid or NamedUuid)
        used = set()
        results = []
        plan = _Plan(txn, results, checked)
        for index, (spec, args) in enumerate(checked):
            txn.owner = index
            try:
                call = {a: _substitute(v, refs, used, a) for a, v in spec.arguments(args).items()}
                result = spec.plan(ctx, **call)
                if "id" in args:
                    name = _reference_name(args["id"])
                    if name in refs:
                        raise InvalidArgs("id @%s is already given to command %d" % (name, refs[name][0] + 1))
                    refs[name] = (index, result.get("uuid"))
            except NotYet as e:
                raise _Waiting(index, plan.describe(index), e.timeout) from None
            except OvsdbusError as e:
                raise plan.wrap(e, index) from None
            except (TypeError, ValueError, AttributeError) as e:
                # Arguments of a shape no planner expects (the bus checks types; Python callers may not).
                raise plan.wrap(InvalidArgs("malformed arguments: %s" % e), index) from None
            results.append(result)
        for name, (index, _uuid) in refs.items():
            if name not in used:
                raise plan.wrap(InvalidArgs("id @%s is never used by a later command" % name), index)
        for owner, table, _name in txn.unreferenced_inserts():
            raise plan.wrap(InvalidArgs(
                "a new %s row must be referenced by another command of the same batch (give it "
                "id=@name and use @name), or OVSDB deletes it at once: %s is not a root table" % (table, table)),
                owner)
        for owner, table, _name, column, atom in txn.dangling_inserts():
            raise plan.wrap(ReferentialIntegrity(
                "referential integrity violation",
                "the new %s row's column %s refers to row %s, which does not exist%s"
                % (table, column, atom, " (give the column a value: its default refers to no row)"
                   if atom == ZERO_UUID else "")), owner)
        if options.get("comment"):
            txn.comment(options["comment"])
        if options.get("dry_run"):
            txn.abort()
        return plan


def _where(index, spec, args):
    """``command N (DESCRIPTION): ``, the start of an error message about command ``index``."""
    return "command %d (%s): " % (index + 1, spec.describe(args))


class _Waiting(Exception):
    """A WaitUntil command of the batch does not hold yet."""

    def __init__(self, index, description, timeout):
        super().__init__(description)
        self.index = index
        self.description = description
        self.timeout = timeout

    def deadline(self, started):
        return float("inf") if self.timeout is None else started + self.timeout

    def timed_out(self):
        return with_command(Timeout("the conditions did not hold within %g s" % self.timeout), self.index + 1,
                            self.description)


def _substitute(value, refs, used, argument):
    """``value`` with every SymbolicRef (and, for ``record``/``records``, every ``"@name"`` text)
    replaced by the row the reference names."""
    if isinstance(value, SymbolicRef) or (argument in ("record", "records") and isinstance(value, str)
                                          and value.startswith("@")):
        name = str(value) if isinstance(value, SymbolicRef) else value[1:]
        if name not in refs:
            raise InvalidArgs("@%s names no row created by an earlier command of the batch" % name)
        used.add(name)
        return refs[name][1]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {_substitute(k, refs, used, None): _substitute(v, refs, used, None) for k, v in value.items()}
    if isinstance(value, (frozenset, VersionedSet)):
        return frozenset(_substitute(v, refs, used, None) for v in value)
    if isinstance(value, set):
        return {_substitute(v, refs, used, None) for v in value}
    if isinstance(value, tuple):
        return tuple(_substitute(v, refs, used, argument if argument == "records" else None) for v in value)
    if isinstance(value, list):
        return [_substitute(v, refs, used, argument if argument == "records" else None) for v in value]
    return value


def _resolve(value, names):
    """``value`` with every NamedUuid replaced by the real uuid from ``names``."""
    if isinstance(value, NamedUuid):
        return names.get(value, value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {_resolve(k, names): _resolve(v, names) for k, v in value.items()}
    if isinstance(value, (frozenset, VersionedSet)):
        return frozenset(_resolve(v, names) for v in value)
    if isinstance(value, (list, tuple)):
        return type(value)(_resolve(v, names) for v in value)
    return value

