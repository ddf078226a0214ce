"""D-Bus wire format for the messages ovsdbus sends: signals, method returns, errors.

txdbus marshals values by walking Python objects and guessing variant types,
which costs more than everything else ovsdbus does for a call and cannot express
an empty array in a variant.  This encoder is driven by signatures only: a
variant's value is always given as ``(signature, value)``, so every type is
exact.  Pure code: bytes out, no I/O, no txdbus.

Messages are little-endian, D-Bus protocol version 1.
"""

import struct

from ovsdbus.projection.text import BoundedCache, carriable

SIGNAL, METHOD_RETURN, ERROR = 4, 2, 3
NO_REPLY_EXPECTED = 0x1

MAX_MESSAGE_SIZE = 32 * 1024 * 1024  # dbus-daemon's default limit

_FIXED = {
    "y": (1, struct.Struct("<B")), "n": (2, struct.Struct("<h")), "q": (2, struct.Struct("<H")),
    "i": (4, struct.Struct("<i")), "u": (4, struct.Struct("<I")), "x": (8, struct.Struct("<q")),
    "t": (8, struct.Struct("<Q")), "d": (8, struct.Struct("<d")), "h": (4, struct.Struct("<I")),
}
_ALIGNMENT = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "h": 4, "s": 4, "o": 4,
              "g": 1, "a": 4, "(": 8, "{": 8, "v": 1}
_U32 = struct.Struct("<I")
_ZEROS = bytes(8)


class SignatureError(ValueError):
    """A signature that is not a valid sequence of complete D-Bus types."""


class InvalidString(ValueError):
    """A string D-Bus cannot carry: it contains NUL or a lone surrogate
    (see :func:`ovsdbus.projection.text.can_carry`)."""


def _utf8(value):
    """The UTF-8 bytes of a D-Bus string value; InvalidString if D-Bus cannot carry it."""
    try:
        data = _encode(value, "utf-8")
    except TypeError:
        raise TypeError("%r is not a string" % (value,)) from None
    except UnicodeEncodeError:
        raise InvalidString("%s: a lone surrogate cannot be a D-Bus string" % _excerpt(value)) from None
    if b"\0" in data:
        raise InvalidString("%s: NUL cannot be in a D-Bus string" % _excerpt(value))
    return data


_encode = str.encode   # TypeError for anything but a str


def _excerpt(value, limit=64):
    return ascii(value[:limit]) + ("... (%d characters)" % len(value) if len(value) > limit else "")


def split_signature(signature):
    """Split a signature into its complete types: ``"sa{sv}as"`` -> ``["s", "a{sv}", "as"]``."""
    types = []
    i = 0
    while i < len(signature):
        end = _complete_type_end(signature, i)
        types.append(signature[i:end])
        i = end
    return types


_BASIC = "ybnqiuxtdhsog"


def _complete_type_end(sig, i, in_array=False):
    if i >= len(sig):
        raise SignatureError("incomplete signature %r" % sig)
    c = sig[i]
    if c == "a":
        return _complete_type_end(sig, i + 1, in_array=True)
    if c == "(":
        j, members = i + 1, 0
        while j < len(sig) and sig[j] != ")":
            j = _complete_type_end(sig, j)
            members += 1
        if j >= len(sig):
            raise SignatureError("unclosed %r in %r" % (c, sig))
        if not members:
            raise SignatureError("empty struct in %r" % sig)
        return j + 1
    if c == "{":
        if not in_array:
            raise SignatureError("dict entry outside an array in %r" % sig)
        if i + 1 >= len(sig) or sig[i + 1] not in _BASIC:
            raise SignatureError("dict entry key must be a basic type in %r" % sig)
        j = _complete_type_end(sig, i + 2)
        if j >= len(sig) or sig[j] != "}":
            raise SignatureError("dict entry must have exactly a key and a value in %r" % sig)
        return j + 1
    if c in _BASIC or c == "v":
        return i + 1
    raise SignatureError("unknown type code %r in %r" % (c, sig))


_encoders = {}


def _encoder(sig):
    """A function ``(buf, value)`` appending ``value`` of complete type ``sig`` to bytearray ``buf``."""
    enc = _encoders.get(sig)
    if enc is None:
        if not sig or _complete_type_end(sig, 0) != len(sig):
            raise SignatureError("%r is not exactly one complete type" % sig)
        enc = _encoders[sig] = _make_encoder(sig)
    return enc


def _pad(buf, n):
    p = -len(buf) % n
    if p:
        buf += _ZEROS[:p]


def _make_encoder(sig):
    c = sig[0]
    if c in _FIXED:
        align, st = _FIXED[c]
        pack = st.pack

        def enc(buf, value):
            _pad(buf, align)
            try:
                buf += pack(value)
            except struct.error as e:
                raise ValueError("%r does not fit D-Bus type %r: %s" % (value, c, e)) from None
        return enc
    if c == "b":
        def enc(buf, value):
            _pad(buf, 4)
            buf += _U32.pack(1 if value else 0)
        return enc
    if c in "so":
        def enc(buf, value):
            data = _utf8(value)
            _pad(buf, 4)
            buf += _U32.pack(len(data))
            buf += data
            buf.append(0)
        return enc
    if c == "g":
        def enc(buf, value):
            data = value.encode("ascii")
            buf.append(len(data))
            buf += data
            buf.append(0)
        return enc
    if c == "v":
        def enc(buf, value):
            vsig, inner = value
            data = vsig.encode("ascii")
            buf.append(len(data))
            buf += data
            buf.append(0)
            _encoder(vsig)(buf, inner)
        return enc
    if c == "(":
        members = [_encoder(t) for t in split_signature(sig[1:-1])]

        def enc(buf, value):
            _pad(buf, 8)
            for m, v in zip(members, value, strict=True):
                m(buf, v)
        return enc
    if c == "a":
        element = sig[1:]
        element_align = _ALIGNMENT[element[0]] if element[0] != "b" else 4
        if element == "{sv}":
            return _encode_properties
        if element[0] == "{":
            key_enc, value_enc = (_encoder(t) for t in split_signature(element[1:-1]))

            def enc(buf, value):
                _pad(buf, 4)
                at = len(buf)
                buf += b"\0\0\0\0"
                _pad(buf, 8)
                start = len(buf)
                for k, v in value.items():
                    _pad(buf, 8)
                    key_enc(buf, k)
                    value_enc(buf, v)
                buf[at:at + 4] = _U32.pack(len(buf) - start)
            return enc
        if element in ("s", "o"):
            return _encode_string_array
        element_enc = _encoder(element)

        def enc(buf, value):
            _pad(buf, 4)
            at = len(buf)
            buf += b"\0\0\0\0"
            _pad(buf, element_align)
            start = len(buf)
            for v in value:
                element_enc(buf, v)
            buf[at:at + 4] = _U32.pack(len(buf) - start)
        return enc
    raise SignatureError("cannot encode %r" % sig)


# A string's encoding followed by zeros up to the next 4-aligned offset: the same bytes
# wherever it stands in an array of strings (each element starts 4-aligned).  Names recur
# (ports, paths), and building a chunk costs three times as much as finding it, so chunks are
# kept, within a bound in bytes: the names and paths of a bridge of 10 000 ports fit.
_string_chunks = BoundedCache(max_bytes=8 << 20, max_item_bytes=1024)
# The terminating NUL and the padding after it, by the string's length modulo 4.
_NUL_AND_PADDING = (b"\0\0\0\0", b"\0\0\0", b"\0\0", b"\0")


def _string_chunk(s):
    # The caller found nothing in the young generation.
    chunk = _string_chunks.old.get(s)
    if chunk is None:
        data = _utf8(s)
        chunk = _U32.pack(len(data)) + data + _NUL_AND_PADDING[len(data) % 4]
        # The key's characters take at most as many bytes as their UTF-8 form; 130 is what
        # the str and bytes objects and the dict slot take besides.
        _string_chunks.put(s, chunk, 2 * len(chunk) + 130)
    return chunk


# The last large list of strings encoded, its length and its bytes (from the array's length
# on, the same wherever the array stands: it starts 4-aligned and holds nothing aligned to
# more).  A list answered again unchanged (ListBridgePorts keeps its answer until the
# replica changes) is copied, not encoded again.  Lists handed to the encoder are not
# modified afterwards (the length is checked all the same).
_last_strings = (None, 0, b"")
_REMEMBERED_STRINGS = 1024   # elements from which a list is remembered


def _encode_string_array(buf, value):
    # The hot path of ListBridgePorts and friends: an array of strings or object paths.
    global _last_strings
    _pad(buf, 4)
    last, length, data = _last_strings
    if value is last and len(value) == length:
        buf += data
        return
    at = len(buf)
    buf += b"\0\0\0\0"
    start = len(buf)
    young = _string_chunks.young
    chunks = [young.get(s) or _string_chunk(s) for s in value]
    if chunks:
        buf += b"".join(chunks)
        # Padding belongs before an element, not after the last one: drop the last's.
        padding = _trailing_padding(chunks[-1])
        if padding:
            del buf[-padding:]
    buf[at:at + 4] = _U32.pack(len(buf) - start)
    if len(chunks) >= _REMEMBERED_STRINGS and isinstance(value, list):
        _last_strings = (value, len(value), bytes(buf[at:]))


def _trailing_padding(chunk):
    length = _U32.unpack_from(chunk)[0]
    return len(chunk) - 4 - length - 1


# Properties (``a{sv}``) repeat the same few values over thousands of objects: empty strings,
# arrays and maps, zeros, booleans (most columns of a new row hold their default).  A dict
# entry starts 8-aligned and holds nothing aligned to more than 8, so its bytes are the same
# wherever it stands: the entries of such values are kept, within a bound in bytes, padded to
# the next 8-aligned offset, and copied instead of encoded.  Non-empty strings (names, uuids,
# paths: mostly unique) are not kept; for them the name and signature part is.
_property_entries = BoundedCache(max_bytes=4 << 20, max_item_bytes=512)
_NUMBERS = frozenset((int, bool))  # not float: 0.0 == -0.0
_EMPTY = frozenset((str, list, tuple, dict))
_PLAIN = frozenset((int, bool, float, str, list, tuple, dict))
_encode_key = None   # the "s" encoder, set below


def _property_prefix(key, sig):
    """The bytes of an ``{sv}`` entry up to its value: the name, then the variant's signature."""
    cache_key = (key, sig)
    prefix = _property_entries.young.get(cache_key) or _property_entries.old.get(cache_key)
    if prefix is None:
        buf = bytearray()
        _encode_key(buf, key)
        data = sig.encode("ascii")
        buf.append(len(data))
        buf += data
        buf.append(0)
        _encoder(sig)   # a SignatureError before anything is kept
        prefix = bytes(buf)
        _property_entries.put(cache_key, prefix, 2 * len(prefix) + 200)
    return prefix


def _property_entry(key, cache_key, sig, inner):
    """``(bytes padded to 8, padding)`` of the entry ``key: (sig, inner)``; the caller found
    nothing in the young generation."""
    entry = _property_entries.old.get(cache_key)
    if entry is None:
        buf = bytearray(_property_prefix(key, sig))
        _encoder(sig)(buf, inner)
        padding = -len(buf) % 8
        entry = (bytes(buf) + _ZEROS[:padding], padding)
        _property_entries.put(cache_key, entry, 2 * len(entry[0]) + 250)
    return entry


def _encode_properties(buf, value):
    """a{sv}, each value given as ``(signature, value)``.  A value that is no plain Python value
    (not a number, str, list, tuple or dict) but has a ``resolve()`` method is computed now:
    properties whose value is read from the database only when shown."""
    _pad(buf, 4)
    at = len(buf)
    buf += b"\0\0\0\0"
    _pad(buf, 8)
    start = len(buf)
    cached = _property_entries.young.get
    numbers, empty, plain, zeros = _NUMBERS, _EMPTY, _PLAIN, _ZEROS
    padding = -1   # of the last entry when it was copied padded to 8; -1 when it was encoded
    for k, v in value.items():
        sig, inner = v
        t = type(inner)
        if t not in plain and hasattr(inner, "resolve"):
            inner = inner.resolve()
            t = type(inner)
        if t in numbers:
            cache_key = (k, sig, t, inner)
        elif t in empty and not inner:
            cache_key = (k, sig, t)
        else:
            if padding < 0:
                p = -len(buf) & 7
                if p:
                    buf += zeros[:p]
            buf += cached((k, sig)) or _property_prefix(k, sig)
            _encoder(sig)(buf, inner)
            padding = -1
            continue
        if padding < 0:
            p = -len(buf) & 7
            if p:
                buf += zeros[:p]
        entry, padding = cached(cache_key) or _property_entry(k, cache_key, sig, inner)
        buf += entry
    if padding > 0:
        del buf[-padding:]
    buf[at:at + 4] = _U32.pack(len(buf) - start)


_encode_key = _encoder("s")


_body_encoders = {}   # signature -> the encoders of its complete types (the few signatures sent)


def _encoders_of(signature):
    encoders = _body_encoders.get(signature)
    if encoders is None:
        encoders = [_encoder(t) for t in split_signature(signature)]
        if len(_body_encoders) < 1024:
            _body_encoders[signature] = encoders
    return encoders


def encode_body(signature, values):
    """The body bytes of ``values`` (a sequence, one per complete type of ``signature``)."""
    buf = bytearray()
    encoders = _encoders_of(signature)
    if len(encoders) != len(values):
        raise SignatureError("signature %r has %d types for %d values" % (signature, len(encoders), len(values)))
    for enc, v in zip(encoders, values, strict=True):
        enc(buf, v)
    return buf


# Header field codes.
PATH, INTERFACE, MEMBER, ERROR_NAME, REPLY_SERIAL, DESTINATION, SENDER, SIGNATURE = 1, 2, 3, 4, 5, 6, 7, 8
_FIELD_TYPES = {PATH: "o", INTERFACE: "s", MEMBER: "s", ERROR_NAME: "s", REPLY_SERIAL: "u", DESTINATION: "s",
                SENDER: "s", SIGNATURE: "g"}
_encode_field = _encoder("(yv)")


_HEADER_START = struct.Struct("<BBBBIII")  # endianness, type, flags, version, body length, serial, fields length
# Each header field (a "(yv)" struct) starts 8-aligned, so its bytes are the same wherever it
# stands; the fields of one message differ from another's mostly in the path and the serials.
_field_chunks = BoundedCache(max_bytes=4 << 20, max_item_bytes=1024)


def _field_chunk(code, value):
    """``(bytes, padding)``: header field ``code`` holding ``value``, padded to 8 bytes (the
    padding is not part of the field array's length after the last field)."""
    key = (code, value)
    chunk = _field_chunks.young.get(key) or _field_chunks.old.get(key)
    if chunk is None:
        buf = bytearray()
        _encode_field(buf, (code, (_FIELD_TYPES[code], value)))
        padding = -len(buf) % 8
        chunk = (bytes(buf) + _ZEROS[:padding], padding)
        if code != REPLY_SERIAL:
            _field_chunks.put(key, chunk, 2 * len(chunk[0]) + 200)
    return chunk


def encode_entry(entry_signature, key, value):
    """One dict entry of an array ``a{...}`` (``entry_signature`` is the part inside the braces),
    encoded on its own.  It starts 8-aligned and holds nothing aligned to more than 8, so the
    same bytes are right at any 8-aligned offset: see :func:`array_of_entries`."""
    key_enc, value_enc = _encoders_of(entry_signature)
    buf = bytearray()
    key_enc(buf, key)
    value_enc(buf, value)
    return bytes(buf)


class BodyTooLarge(ValueError):
    """An array of entries that would exceed the length it was allowed (see :func:`array_of_entries`)."""


def array_of_entries(entries, max_length=None):
    """The body (a bytearray) of a message whose only value is an array of already encoded dict
    entries, from an iterable of them.

    Written as the entries come, so a generator's entries (a body can be tens of megabytes:
    GetManagedObjects) are freed at once instead of all held until the end.  Raises
    BodyTooLarge as soon as the body exceeds ``max_length`` bytes."""
    body = bytearray(8)   # the array's length, and the padding to the first entry's 8-aligned start
    for entry in entries:
        padding = -(len(body) - 8) % 8
        if padding:
            body += _ZEROS[:padding]
        body += entry
        if max_length is not None and len(body) > max_length:
            raise BodyTooLarge("the entries take more than %d bytes" % max_length)
    body[0:4] = _U32.pack(len(body) - 8)
    return body


def encode_message(message_type, serial, fields, signature="", body=(), flags=0, raw_body=None):
    """A whole message: ``fields`` is ``{field code: value}`` (signature added from ``signature``).

    ``raw_body`` is a body already encoded for ``signature`` (then ``body`` is ignored)."""
    if raw_body is not None:
        body_bytes = raw_body
    else:
        body_bytes = encode_body(signature, body) if signature else b""
    chunks = [_field_chunk(code, value) for code, value in fields.items() if value is not None]
    if signature:
        chunks.append(_field_chunk(SIGNATURE, signature))
    fields_length = sum(len(chunk) for chunk, _ in chunks) - (chunks[-1][1] if chunks else 0)
    chunks = [chunk for chunk, _ in chunks]
    chunks.insert(0, _HEADER_START.pack(108, message_type, flags, 1, len(body_bytes), serial, fields_length))
    chunks.append(body_bytes)
    message = b"".join(chunks)   # one copy of the body, which can be megabytes
    if len(message) > MAX_MESSAGE_SIZE:
        raise ValueError("D-Bus message of %d bytes exceeds the limit" % len(message))
    return message


def signal(serial, path, interface, member, signature="", body=(), raw_body=None):
    """A signal message (``raw_body``: see :func:`encode_message`)."""
    return encode_message(SIGNAL, serial, {PATH: path, INTERFACE: interface, MEMBER: member},
                          signature, body, NO_REPLY_EXPECTED, raw_body)


def method_return(serial, reply_serial, destination, signature="", body=(), raw_body=None):
    """A method return message (``raw_body``: see :func:`encode_message`)."""
    return encode_message(METHOD_RETURN, serial, {REPLY_SERIAL: reply_serial, DESTINATION: destination},
                          signature, body, NO_REPLY_EXPECTED, raw_body)


def error(serial, reply_serial, destination, name, text):
    """An error message with a human-readable text (what D-Bus cannot carry in it, such as a
    NUL quoted from OVSDB, is replaced: see :func:`ovsdbus.projection.text.carriable`)."""
    return encode_message(ERROR, serial, {ERROR_NAME: name, REPLY_SERIAL: reply_serial, DESTINATION: destination},
                          "s", [carriable(text)], NO_REPLY_EXPECTED)
