"""Wiring: the OVSDB connection, the Open_vSwitch verbs and the D-Bus service, put together.

Used by :mod:`ovsdbus.tap` (``twistd ovsdbus``) and by tests that run the service in-process;
the only module besides the tap that imports every layer.
"""

from twisted.application.service import MultiService

from ovsdbus.api.legacy import LEGACY, MEMBERSHIP_SIGNALS
from ovsdbus.bus.authorization import Policy
from ovsdbus.bus.service import BusService, object_tree
from ovsdbus.openflow.keeper import DEFAULT_CHECK_INTERVAL, FlowService
from ovsdbus.openflow.ofctl import DEFAULT_TIMEOUT as DEFAULT_OFCTL_TIMEOUT
from ovsdbus.openflow.ofctl import Ofctl, default_rundir
from ovsdbus.openflow.store import FlowStore
from ovsdbus.ovsdb.connection import ALL, OvsdbConnection
from ovsdbus.ovsdb.errors import NotSupported
from ovsdbus.ovsdb.remotes import remotes_endpoint
from ovsdbus.vswitch.batch import Database
from ovsdbus.vswitch.operations import QUIET_COLUMNS, Operations


def effective_polkit(polkit, bus):
    """The polkit mode in force: ``auto`` asks polkit only on the system bus, where nobody else can
    own its name."""
    if polkit == "auto" and bus != "system":
        return "no"
    return polkit


OPEN_VSWITCH = "Open_vSwitch"


def objects_for(database):
    """The objects the service shows for ``database``: every row of every table with its generated
    interface; for Open_vSwitch also the Bridge, Port and Interface interfaces and the root's
    BridgeAdded, PortAdded, ... signals (:mod:`ovsdbus.api.legacy`), with the counters
    ovs-vswitchd rewrites every few seconds never announced.  Another database's schema is not
    Open_vSwitch's, so it gets the generic tree alone."""
    if database == OPEN_VSWITCH:
        return object_tree(QUIET_COLUMNS, legacy=LEGACY, membership=MEMBERSHIP_SIGNALS)
    return object_tree()


class OtherDatabaseVerbs:
    """Stands in for :class:`~ovsdbus.vswitch.operations.Operations` when the service serves
    another database than Open_vSwitch (``--database``): every Open_vSwitch verb (CreateBridge,
    ListBridges, ...) fails with NotSupported naming the database served; the generic methods
    do not go through here and work on any schema."""

    def __init__(self, database):
        self.database = database

    def __getattr__(self, verb):
        if verb.startswith("_"):
            raise AttributeError(verb)

        def refuse(*args, **kwargs):
            raise NotSupported("not supported", "%s needs the %s database; this service serves %s"
                               % (verb, OPEN_VSWITCH, self.database))
        return refuse


#: Bytes from which glibc's malloc serves an allocation with a mapping of its own, and the free
#: bytes at the top of its heap from which it gives them back (mallopt M_MMAP_THRESHOLD and
#: M_TRIM_THRESHOLD; these are glibc's defaults, but fixed: see :func:`fix_malloc_thresholds`).
MALLOC_THRESHOLD = 128 * 1024


def fix_malloc_thresholds():
    """Keep glibc's malloc from holding on to the memory of large passing buffers for good.

    By default glibc raises both thresholds to the size of any mapped buffer freed (a 26 MB
    GetManagedObjects answer at 10 000 ports, the monitor's snapshot): from then on such buffers
    come from the heap, and the heap keeps tens of megabytes the process no longer uses (RSS
    after one GetManagedObjects at 10 000 ports: 135 MB instead of 106 MB).  Setting them fixes
    them.  Returns whether it could (not on a C library without mallopt)."""
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, MALLOC_THRESHOLD)) and bool(mallopt(m_trim_threshold, MALLOC_THRESHOLD))


def build_service(reactor, remotes, bus, on_bus_lost, tls=None, timeout=30.0, probe_interval=None,
                  max_message_size=None, allowed_gids=(), remote_gids=(), polkit="auto", database=OPEN_VSWITCH,
                  leader_only=True,
                  state_directory=None, ovs_rundir=None, ofctl_timeout=DEFAULT_OFCTL_TIMEOUT,
                  flows_check_interval=DEFAULT_CHECK_INTERVAL):
    """The whole service as a :class:`MultiService`: a connection to ``database`` (default
    Open_vSwitch) at ``remotes`` (parsed OVS remotes, ``tls`` for ``ssl:`` ones) and the D-Bus
    service on ``bus``; ``on_bus_lost(reason)`` is called when the bus connection fails or goes
    away.  ``leader_only``: use a clustered database only on its leader (see
    :mod:`ovsdbus.ovsdb.cluster`).

    For Open_vSwitch, each bridge object also gets org.openvswitch.ovsdb.Flows, run through
    ovs-ofctl (``ofctl_timeout`` seconds per run) against the management sockets in
    ``ovs_rundir`` (default: $OVS_RUNDIR or OVS's run directory); flows asked to persist are kept
    in ``state_directory`` (None: persisting is not offered) and checked every
    ``flows_check_interval`` seconds (see :mod:`ovsdbus.openflow.keeper`)."""
    fix_malloc_thresholds()
    options = {} if max_message_size is None else {"max_message_size": max_message_size}
    connection = OvsdbConnection(
        remotes_endpoint(reactor, remotes, tls), ALL, reactor, database=database,
        request_timeout=timeout, probe_interval=probe_interval, leader_only=leader_only,
        member_names=[str(r) for r in remotes], **options)
    operations = Operations(connection) if database == OPEN_VSWITCH else OtherDatabaseVerbs(database)
    top = MultiService()
    connection.setServiceParent(top)
    policy = Policy(allowed_gids=allowed_gids, remote_gids=remote_gids, polkit=effective_polkit(polkit, bus))
    objects = objects_for(database)
    # The generic verbs of org.openvswitch.ovsdb.Database, on any schema; records may be named by object path.
    database_verbs = Database(connection, uuid_of_path=objects.uuid_of_path)
    flows = None
    if database == OPEN_VSWITCH:
        store = FlowStore(state_directory, reactor) if state_directory else None
        # It follows the connection: the state file is read at the first sync, checks stop while disconnected.
        flows = FlowService(reactor, connection, ovs_rundir or default_rundir(), Ofctl(reactor, timeout=ofctl_timeout),
                            store, check_interval=flows_check_interval)
    BusService(reactor, bus, connection, operations, on_bus_lost, policy, database=database_verbs,
               objects=objects, flows=flows).setServiceParent(top)
    return top
