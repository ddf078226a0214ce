"""Pure projection of replica rows to D-Bus objects: paths, values D-Bus can carry, the object tree.
"""
