"""Open_vSwitch semantics: names, the verbs as transaction planners over the replica, running them with
retries.
"""

#: Where Debian's openvswitch-common installs the Open_vSwitch schema (read at run time, never copied).
VSWITCH_SCHEMA_PATH = "/usr/share/openvswitch/vswitch.ovsschema"
