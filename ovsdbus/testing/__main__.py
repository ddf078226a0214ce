"""``python -m ovsdbus.testing``: the fake OVSDB server (:class:`~ovsdbus.testing.FakeOvsdb`) as a program.

Serves one database per schema file (default: the installed Open_vSwitch schema, initialised like
``ovs-vsctl init``) on a unix socket until SIGTERM or SIGINT, so that a service or a test in
another process can talk to the fake exactly as it talks to ovsdb-server.
:class:`ovsdbus.testing.sandbox.FakeOvsdbServer` starts it for tests.
"""

import argparse
import os
import sys

from ovsdbus.testing import DEFAULT_SCHEMA_PATH, FakeOvsdb, FakeOvsdbFactory


def main(argv=None):
    """Parse ``argv``, listen, and run the reactor until stopped; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m ovsdbus.testing",
        description="Run the fake OVSDB server of ovsdbus.testing on a unix socket.")
    parser.add_argument("schemas", nargs="*", metavar="SCHEMA", default=[DEFAULT_SCHEMA_PATH],
                        help="schema file of a database to serve (repeatable; default: %(default)s)")
    parser.add_argument("--unix", required=True, metavar="PATH", help="unix socket to listen on")
    parser.add_argument("--pidfile", metavar="PATH", help="write the process id here once listening")
    options = parser.parse_args(argv)

    from twisted.internet import reactor

    try:
        databases = [FakeOvsdb.from_file(path) for path in options.schemas]
    except (OSError, ValueError) as e:
        print("python -m ovsdbus.testing: %s" % e, file=sys.stderr)
        return 2
    for db in databases:
        if db.name == "Open_vSwitch":
            db.init_open_vswitch()
    factory = FakeOvsdbFactory(databases, clock=reactor)
    factory.listen_unix(options.unix, reactor)
    if options.pidfile:
        with open(options.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    print("serving %s on unix:%s" % (", ".join(db.name for db in databases), options.unix), flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
