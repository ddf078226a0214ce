"""The D-Bus adapter, the only importer of txdbus: wire encoding, exported objects, dispatch,
authorization, the service's life on the bus.
"""
