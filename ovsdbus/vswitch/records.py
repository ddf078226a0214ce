"""Naming records the way ovs-vsctl does (``man ovs-vsctl``, "Identifying Tables, Records, and Columns").

:func:`find_record` turns a caller's record name into the row's uuid.  It tries, in order:

1. a full uuid of a row of the table (either case);
2. ``.``: the only row of a table that has exactly one (Open_vSwitch, SSL, ...);
3. the table's record ids (:data:`RECORD_IDS` for the Open_vSwitch database; for any other
   database, a ``name`` column of type string or integer): a row whose name column holds exactly
   the record, or, for a record id that goes through another table (Controller by bridge), the
   one row the named referrer's column points to;
4. an object path (``/org/...``), turned into a uuid by the caller's ``uuid_of_path``;
5. a unique prefix of 4 or more characters of a row's uuid.

A name that matches several rows raises :class:`~ovsdbus.ovsdb.errors.Ambiguous`, no match
:class:`~ovsdbus.ovsdb.errors.NotFound`.

Deviations from ovs-vsctl, all towards clearer errors: ``.`` on a table of several rows is
Ambiguous (ovs-vsctl: "no row"); a referrer whose column holds several rows (a bridge with two
controllers) is Ambiguous (ovs-vsctl: "no row"); a referrer whose column is empty is NotFound
naming the referrer; a name column's value that is itself a uuid is not matched by its prefix.
"""

from typing import NamedTuple

from ovsdbus.ovsdb.errors import Ambiguous, InvalidArgs, NotFound
from ovsdbus.ovsdb.schema import INTEGER, STRING, is_uuid


class RecordId(NamedTuple):
    """One way to name a record of a table (ovs-vsctl's ``struct ctl_row_id``).

    The record is the value of ``name_column`` of a row of ``name_table``; when ``uuid_column``
    is set, that row is a referrer and the record is the row its ``uuid_column`` points to.
    """

    name_table: str
    name_column: str
    uuid_column: str = None


#: ovs-vsctl's record ids of the Open_vSwitch database (``vsctl_tables`` in ovs-vsctl.c), beyond
#: uuids and ``.``.  Entries whose tables or columns the server's schema lacks are ignored.
RECORD_IDS = {
    "Bridge": (RecordId("Bridge", "name"),),
    "Controller": (RecordId("Bridge", "name", "controller"),),
    "Interface": (RecordId("Interface", "name"),),
    "Mirror": (RecordId("Mirror", "name"),),
    "Manager": (RecordId("Manager", "target"),),
    "NetFlow": (RecordId("Bridge", "name", "netflow"),),
    "Port": (RecordId("Port", "name"),),
    "QoS": (RecordId("Port", "name", "qos"),),
    "sFlow": (RecordId("Bridge", "name", "sflow"),),
    "Flow_Table": (RecordId("Flow_Table", "name"),),
    "IPFIX": (RecordId("Bridge", "name", "ipfix"),),
    "AutoAttach": (RecordId("Bridge", "name", "auto_attach"),),
    "Flow_Sample_Collector_Set": (RecordId("Flow_Sample_Collector_Set", "id"),),
}

#: The database whose tables :data:`RECORD_IDS` describes.
VSWITCH_DATABASE = "Open_vSwitch"

#: The shortest uuid prefix that names a row (as ovs-vsctl).
MIN_UUID_PREFIX = 4

_HEX = frozenset("0123456789abcdef")


def _name_column_usable(schema, table, column):
    """True if ``table.column`` exists and can name rows: string or integer atoms, not a map."""
    tschema = schema.tables.get(table)
    if tschema is None or column not in tschema.columns:
        return False
    ctype = tschema.columns[column].type
    return not ctype.is_map and ctype.key.type in (STRING, INTEGER)


def record_ids(schema, table):
    """The :class:`RecordId` tuple naming records of ``table`` in ``schema`` (a DatabaseSchema):
    :data:`RECORD_IDS` for the Open_vSwitch database, else the table's ``name`` column if any."""
    if schema.name == VSWITCH_DATABASE and table in RECORD_IDS:
        ids = []
        for rid in RECORD_IDS[table]:
            if not _name_column_usable(schema, rid.name_table, rid.name_column):
                continue
            if rid.uuid_column is not None:
                referrer = schema.tables[rid.name_table].columns.get(rid.uuid_column)
                if referrer is None or referrer.type.key.ref_table != table:
                    continue
            ids.append(rid)
        return tuple(ids)
    if _name_column_usable(schema, table, "name"):
        return (RecordId(table, "name"),)
    return ()


def _name_value(ctype, record):
    """``record`` as an atom of the name column's key type, or None if it cannot be one."""
    if ctype.key.type == STRING:
        return record
    # ovs-vsctl: an integer name is written in decimal digits only.
    if record.isascii() and record.isdigit():
        return int(record, 10)
    return None


def _rows_named(view, schema, rid, record):
    """The uuids of ``rid.name_table`` rows whose name column holds exactly ``record``."""
    tschema = schema.tables[rid.name_table]
    ctype = tschema.columns[rid.name_column].type
    name = _name_value(ctype, record)
    if name is None:
        return []
    if ctype.is_scalar and (rid.name_column,) in tschema.indexes and hasattr(view, "find"):
        found = view.find(rid.name_table, **{rid.name_column: name})
        return [] if found is None else [found]
    matches = []
    for uuid, row in view.rows(rid.name_table).items():
        value = row.get(rid.name_column)
        if ctype.is_scalar:
            hit = value == name
        elif ctype.is_optional:
            hit = value is not None and value == name
        else:
            hit = value is not None and len(value) == 1 and name in value
        if hit:
            matches.append(uuid)
    return matches


def _by_record_id(view, schema, table, rid, record):
    """The uuid named by ``record`` through ``rid``, or None; Ambiguous for several."""
    named = _rows_named(view, schema, rid, record)
    if len(named) > 1:
        raise Ambiguous('multiple rows in %s match "%s"' % (rid.name_table, record))
    if not named:
        return None
    if rid.uuid_column is None:
        return named[0]
    referrer = view.row(rid.name_table, named[0])
    value = referrer.get(rid.uuid_column) if referrer is not None else None
    ctype = schema.tables[rid.name_table].columns[rid.uuid_column].type
    if ctype.is_scalar or ctype.is_optional:
        targets = [] if value is None else [value]
    else:
        targets = sorted(value or ())
    if len(targets) > 1:
        raise Ambiguous('%s "%s" has %d %s rows (in column %s): name one by uuid'
                        % (rid.name_table, record, len(targets), table, rid.uuid_column))
    if not targets or view.row(table, targets[0]) is None:
        raise NotFound('no row "%s" in table %s (%s "%s" has no %s)'
                       % (record, table, rid.name_table, record, rid.uuid_column))
    return targets[0]


def _is_uuid_prefix(record):
    text = record.lower()
    if len(text) < MIN_UUID_PREFIX or len(text) > 36:
        return False
    for i, ch in enumerate(text):
        if i in (8, 13, 18, 23):
            if ch != "-":
                return False
        elif ch not in _HEX:
            return False
    return True


def find_record(view, schema, table, record, uuid_of_path=None):
    """The uuid of the row of ``table`` that ``record`` names (see the module's docstring).

    ``view`` answers ``rows(table)`` (``{uuid: row}``) and ``row(table, uuid)`` (a Replica, or a
    transaction's overlay of it); ``find(table, **{column: value})`` is used when present for a
    name column with a unique index.  ``schema`` is the DatabaseSchema.  ``uuid_of_path(path)``
    turns an object path into a uuid (raising NotFound); without it, object paths are refused.

    Raises InvalidArgs for an unknown table or an empty record, Ambiguous when several rows
    match, NotFound when none does.
    """
    if not isinstance(table, str) or table not in schema.tables:
        raise InvalidArgs("database %s has no table %r" % (schema.name, table))
    if not isinstance(record, str) or not record:
        raise InvalidArgs("%s: a record must be a non-empty string, got %r" % (table, record))
    if is_uuid(record):
        uuid = record.lower()
        if view.row(table, uuid) is not None:
            return uuid
    if record == ".":
        rows = view.rows(table)
        if len(rows) == 1:
            return next(iter(rows))
        if len(rows) > 1:
            raise Ambiguous('"." names the only row of a table, but %s has %d rows' % (table, len(rows)))
    for rid in record_ids(schema, table):
        uuid = _by_record_id(view, schema, table, rid, record)
        if uuid is not None:
            return uuid
    if record.startswith("/"):
        if uuid_of_path is None:
            raise InvalidArgs("%s: an object path cannot name a record here: %r" % (table, record))
        uuid = uuid_of_path(record)
        if uuid is None or view.row(table, uuid) is None:
            raise NotFound("object %s is not a row of table %s" % (record, table))
        return uuid
    if _is_uuid_prefix(record):
        prefix = record.lower()
        found = [u for u in view.rows(table) if u.startswith(prefix)]
        if len(found) > 1:
            raise Ambiguous("%s contains %d rows whose uuids begin with %s: %s"
                            % (table, len(found), record, ", ".join(sorted(found)[:3])))
        if found:
            return found[0]
    raise NotFound('no row "%s" in table %s' % (record, table))
