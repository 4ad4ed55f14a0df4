"""`.env` mutations: size, bytes, quoting and `${VAR}` expansion (python-dotenv's syntax)."""

from __future__ import annotations

import random
from collections.abc import Callable


def _lines(n: int) -> bytes:
    return b"".join(b"K%d=value%d\n" % (i, i) for i in range(n))


def _chain(n: int) -> bytes:
    out = [b"C0=x"] + [b"C%d=${C%d}y" % (i, i - 1) for i in range(1, n)]
    return b"\n".join(out) + b"\n"


def _doubling(n: int) -> bytes:
    out = [b"D0=ha"] + [b"D%d=${D%d}${D%d}" % (i, i - 1, i - 1) for i in range(1, n)]
    return b"\n".join(out) + b"\n"


def _ended(data: bytes) -> bytes:
    """`data` ending its last line, so that what is appended starts a line of its own (a file
    without a final newline made the first appended line part of the last value: a doubling
    chain whose D0 was swallowed so, expanding to nothing, was a false 'accepted' at 7:93744)."""
    return data if not data or data.endswith((b"\n", b"\r")) else data + b"\n"


def _insert(data: bytes, rng: random.Random, junk: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + junk + data[at:]


# name -> (mutation, must validate refuse it)
ENV_MUTATIONS: dict[str, tuple[Callable[[bytes, random.Random], bytes], bool]] = {
    "lines-20000": (lambda d, r: _ended(d) + _lines(20_000), False),
    "lines-5000": (lambda d, r: _ended(d) + _lines(5_000), False),
    "chain-2000": (lambda d, r: _ended(d) + _chain(2_000), False),
    "doubling-40": (lambda d, r: _ended(d) + _doubling(40), True),
    "nul-in-value": (lambda d, r: _ended(d) + b"NULVAL=a\x00b\n", True),
    "nul-anywhere": (lambda d, r: _insert(d, r, b"\x00"), False),
    "unterminated-double": (lambda d, r: _ended(d) + b'OPEN="abc\nNEXT=1\n', False),
    "unterminated-single": (lambda d, r: b"OPEN='abc\n" + d, False),
    "multiline-quoted": (lambda d, r: _ended(d) + b'ML="line1\nline2"\n', False),
    "export": (lambda d, r: _ended(d) + b"export EXPORTED=1\n", False),
    "no-equals": (lambda d, r: _ended(d) + b"JUSTAKEY\n", False),
    "empty-key": (lambda d, r: _ended(d) + b"=value\n", False),
    "bad-key": (lambda d, r: _ended(d) + b"1BAD-KEY.x=1\n", False),
    "spaces": (lambda d, r: _ended(d) + b"  SP  =  spaced value  \n", False),
    "self-cycle": (lambda d, r: _ended(d) + b"A=${A}\n", False),
    "cycle-2": (lambda d, r: _ended(d) + b"A=${B}\nB=${A}\n", False),
    "undefined-ref": (lambda d, r: _ended(d) + b"U=${NOT_DEFINED_ANYWHERE}\n", False),
    "default-ref": (lambda d, r: _ended(d) + b"U=${NOT_DEFINED:-fallback}\n", False),
    "secret-derived": (lambda d, r: _ended(d) + b"DERIVED=x${API_KEY}y\n", False),
    "secret-copy": (lambda d, r: _ended(d) + b"PLAIN_COPY=${API_KEY}\n", False),
    "long-line": (lambda d, r: _ended(d) + b"LONG=" + b"v" * 1_000_000 + b"\n", False),
    "huge-file": (lambda d, r: _ended(d) + b"H=" + b"h" * 5_000_000 + b"\n", True),
    "invalid-utf8": (lambda d, r: _ended(d) + b"BAD=\xff\xfe\n", False),
    "bom": (lambda d, r: b"\xef\xbb\xbf" + d, False),
    "crlf": (lambda d, r: d.replace(b"\n", b"\r\n"), False),
    "control-chars": (lambda d, r: _ended(d) + b"CTRL=\x1b[31m\x07\n", False),
    "escapes": (lambda d, r: _ended(d) + b'ESC="a\\nb\\tc\\\\d\\"e"\n', False),
    "unicode": (lambda d, r: _ended(d) + "UNI=ünï☃\u202e\n".encode(), False),
    "empty": (lambda d, r: b"", False),
    "only-comments": (lambda d, r: b"# nothing\n#\n", False),
    "deep-ref": (lambda d, r: _ended(d) + b"R=" + b"${" * 500 + b"X" + b"}" * 500 + b"\n", False),
    "flip-bytes": (
        lambda d, r: bytes(b if r.random() > 0.02 else r.randrange(256) for b in d),
        False,
    ),
}


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes, bool]:
    name = rng.choice(sorted(ENV_MUTATIONS))
    func, reject = ENV_MUTATIONS[name]
    return name, func(data, rng), reject
