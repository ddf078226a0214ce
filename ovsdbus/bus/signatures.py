"""txdbus's reading of incoming messages, with each signature's split into complete types kept.

txdbus decodes every message by splitting its signatures (the header's, then the body's) into
complete types with a generator that walks them character by character, nested types again for
each of their elements.  Under a load of calls that walk was 5 % of the service's time, for the
same handful of signatures.  :func:`install` makes txdbus's decoder look each split up in a
bounded cache instead (a caller's odd signatures cannot grow it past :data:`KEPT`); the split
itself, and every error it raises for a bad signature, stays txdbus's.
"""

import functools

from txdbus import marshal

#: Signatures whose split is kept (the least recently used goes first).
KEPT = 512

_split = marshal.genCompleteTypes


@functools.lru_cache(maxsize=KEPT)
def _complete_types(signature):
    return tuple(_split(signature))


def complete_types(signature):
    """An iterator over the complete types of ``signature``, as txdbus's own generator gives them."""
    try:
        return iter(_complete_types(signature))
    except TypeError:   # not hashable: not a str, let txdbus's generator say what it thinks of it
        return _split(signature)


def install():
    """Make txdbus's decoder use :func:`complete_types` (once per process; harmless again)."""
    marshal.genCompleteTypes = complete_types
