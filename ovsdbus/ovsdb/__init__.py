"""RFC 7047, generic: framing, JSON-RPC, the client, remotes, schema and data, the replica, the
reconnecting connection, errors. Knows no Open_vSwitch table and no D-Bus.
"""
