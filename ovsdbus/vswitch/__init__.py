"""Open_vSwitch semantics: names, the verbs as transaction planners over the replica, running them with
retries.
"""
