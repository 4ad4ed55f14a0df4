"""YAML mutations: hostile snippets placed at a chosen key of a parsed document, and byte-level
damage to the file.

A tree mutation loads the document, puts a placeholder at one key (or renames one key to a
placeholder), dumps it and swaps the placeholder for a one-line flow-style YAML snippet, so
any snippet (tags, anchors, aliases, deep nesting) can go anywhere.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

PLACEHOLDER = "FUZZPLACEHOLDERVALUE"
KEY_PLACEHOLDER = "FUZZPLACEHOLDERKEY"

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Snippet:
    """One-line YAML text. `reject`: "yaml" when any YAML file holding it must be refused,
    "serverless" when a serverless.yml holding it must be (the resolver's bounds), "name"
    where a name is required, "" else."""

    kind: str
    text: str
    reject: str = ""
    # top-level `custom:` entries the snippet refers to (serverless.yml only)
    custom: str = ""


class Tagged:
    """A value under a tag the safe loader does not know (`!Ref x`), kept for dumping."""

    def __init__(self, tag: str, value: Any):
        self.tag = tag
        self.value = value


class _Loader(yaml.SafeLoader):
    pass


class _Dumper(yaml.SafeDumper):
    pass


def _tagged(loader: _Loader, suffix: str, node: yaml.Node) -> Tagged:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return Tagged("!" + suffix, value)


def _represent_tagged(dumper: _Dumper, data: Tagged) -> yaml.Node:
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    return dumper.represent_scalar(data.tag, str(data.value))


_Loader.add_multi_constructor("!", _tagged)
_Dumper.add_representer(Tagged, _represent_tagged)


def load(text: bytes) -> Any:
    try:
        return yaml.load(text.decode("utf-8"), Loader=_Loader)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError):
        return None


def dump(tree: Any) -> str:
    return yaml.dump(tree, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)


def paths(tree: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every key path in the document (mapping keys and list indexes), depth first."""
    out: list[Path_] = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(key, str):
                out.append((*prefix, key))
                out.extend(paths(value, (*prefix, key)))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            out.append((*prefix, i))
            out.extend(paths(value, (*prefix, i)))
    return out


def get(tree: Any, path: Path_) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def put(tree: Any, path: Path_, value: Any) -> None:
    get(tree, path[:-1])[path[-1]] = value


def rename(tree: Any, path: Path_, new_key: str) -> None:
    """Rename the mapping key at `path`, keeping the order of its siblings."""
    parent = get(tree, path[:-1])
    items = [(new_key if k == path[-1] else k, v) for k, v in parent.items()]
    parent.clear()
    parent.update(items)


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + "x" + close * depth


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """Billion laughs in one flow sequence: level n holds `width` aliases of level n-1."""
    parts = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, levels):
        parts.append(f"&a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    return "[" + ", ".join(parts) + "]"


def doubling_chain(levels: int = 40) -> str:
    """`custom:` entries where each level is the previous one twice (2**levels characters)."""
    lines = ["  d0: ha"]
    lines += [
        f"  d{n}: ${{self:custom.d{n - 1}}}${{self:custom.d{n - 1}}}" for n in range(1, levels)
    ]
    return "\n".join(lines)


def value_snippets(outside: str, canary_rel: str, secret_key: str) -> list[Snippet]:
    """Hostile values. `outside` is the absolute folder outside the repository holding the
    canary files, `canary_rel` the relative way to it from a service folder."""
    big = "b" * 5_000_000
    return [
        Snippet("nest-500", nested(500), reject="yaml"),
        Snippet("nest-500-map", nested(500, "{a: ", "}"), reject="yaml"),
        Snippet("nest-100000", nested(100_000), reject="yaml"),
        Snippet("tag-float", "!!float nope", reject="yaml"),
        Snippet("tag-int", "!!int x", reject="yaml"),
        Snippet("tag-timestamp", "!!timestamp nope", reject="yaml"),
        Snippet("tag-bool", "!!bool maybe", reject="yaml"),
        Snippet("tag-binary", "!!binary '%%%not base64'", reject="yaml"),
        Snippet("tag-python", "!!python/object:os.system [echo pwned]", reject="yaml"),
        Snippet("tag-python-name", "!!python/name:os.system ''", reject="yaml"),
        Snippet("tag-unknown", "!Unknown x"),
        Snippet("tag-set", "!!set {a, b}"),
        Snippet("tag-omap", "!!omap [{a: 1}, {b: 2}]"),
        Snippet("alias-bomb", alias_bomb(), reject="yaml"),
        Snippet("alias-small", "[&s [1, 2], *s, *s]"),
        Snippet("alias-undefined", "*nope", reject="yaml"),
        Snippet("merge-bad", "{<<: [1, 2]}", reject="yaml"),
        Snippet("merge-ok", "{<<: {a: 1}, b: 2}"),
        Snippet("huge-string", '"' + big + '"', reject="yaml"),
        Snippet("long-string", '"' + "l" * 100_000 + '"'),
        Snippet("name-300", "a" * 300),
        Snippet("digits-400", "9" * 400),
        Snippet("neg-digits-400", "-" + "9" * 400),
        Snippet("float-huge", "1e400"),
        Snippet("nan", ".nan"),
        Snippet("inf", ".inf"),
        Snippet("neg-inf", "-.inf"),
        Snippet("negative", "-1"),
        Snippet("zero", "0"),
        Snippet("empty", "''"),
        Snippet("null", "null"),
        Snippet("true", "true"),
        Snippet("list", "[a]"),
        Snippet("map", "{a: b}"),
        Snippet("empty-list", "[]"),
        Snippet("empty-map", "{}"),
        Snippet("unicode", '"ünïcødé ☃ \\u202e \\U0001F600"'),
        Snippet("nul-escape", '"a\\0b"'),
        Snippet("control-chars", '"a\\x1b[31mred\\x07\\rb"'),
        Snippet("newlines", '"line1\\nline2\\n"'),
        Snippet("path-escape", "../../etc/passwd"),
        Snippet("path-abs", "/etc/passwd"),
        Snippet("path-outside", f"{outside}/canary.txt"),
        Snippet("file-dev-zero", "${file(/dev/zero)}"),
        Snippet("file-etc-passwd", "${file(/etc/passwd)}"),
        Snippet("file-abs-canary", f"${{file({outside}/canary.yml):key}}"),
        Snippet("file-rel-canary", f"${{file({canary_rel}/canary.yml):key}}"),
        Snippet("file-rel-passwd", "${file(../../../../../../../../etc/passwd)}"),
        Snippet("file-missing", "${file(./nope.yml)}"),
        Snippet("file-dir", "${file(./)}"),
        Snippet("file-secret-name", f"${{file(${{env:{secret_key}}}.yml)}}"),
        Snippet("env-secret", f"${{env:{secret_key}}}"),
        Snippet("env-secret-inside", f"pre-${{env:{secret_key}}}-post"),
        Snippet("env-missing", "${env:FUZZ_NOT_SET}"),
        Snippet("self-cycle", "${self:custom.loop}", custom="  loop: ${self:custom.loop}"),
        Snippet(
            "self-cycle-2",
            "${self:custom.ping}",
            custom="  ping: ${self:custom.pong}\n  pong: ${self:custom.ping}",
        ),
        Snippet(
            "doubling-chain", "${self:custom.d39}", reject="serverless", custom=doubling_chain(40)
        ),
        Snippet("var-nest-500", "${env:" * 500 + "X" + "}" * 500),
        Snippet("var-unterminated", "${self:custom"),
        Snippet("var-empty", "${}"),
        Snippet("ssm", "${ssm:/fuzz/param}"),
        Snippet("cf", "${cf:nope-dev.Out}"),
        Snippet("opt", "${opt:nope}"),
        Snippet("sls-stage", "${sls:stage}"),
        Snippet("aws-region", "${aws:region}"),
    ]


# Hostile keys and names (environment names, service names, branch names); `reject="name"`:
# refused where a name or a branch is required (the caller knows where that is).
NAME_SNIPPETS = [
    Snippet("name-300", "a" * 300, reject="name"),
    Snippet("name-caret", "dev^", reject="name"),
    Snippet("name-dotdot", "'a..b'", reject="name"),
    Snippet("name-slash-escape", "'../x'", reject="name"),
    Snippet("name-empty", "''", reject="name"),
    Snippet("name-unicode", "'ünï☃'", reject="name"),
    Snippet("name-space", "'a b'", reject="name"),
    Snippet("name-nul", '"a\\0b"', reject="name"),
    Snippet("name-number", "1"),
    Snippet("name-null", "null"),
    Snippet("name-upper", "DEV"),
    Snippet("name-dash", "-dev", reject="name"),
]

BRANCH_SNIPPETS = [
    Snippet("branch-caret", "dev^", reject="name"),
    Snippet("branch-tilde", "dev~1", reject="name"),
    Snippet("branch-range", "'main..dev'", reject="name"),
    Snippet("branch-reflog", "'dev@{1}'", reject="name"),
    Snippet("branch-option", "'--all'", reject="name"),
    Snippet("branch-300", "b" * 300, reject="name"),
    Snippet("branch-colon", "'a:b'", reject="name"),
    Snippet("branch-space", "'a b'", reject="name"),
    Snippet("branch-head", "HEAD"),
    Snippet("branch-glob", "'feature/*'"),
    Snippet("branch-refs", "refs/heads/dev"),
    Snippet("branch-empty", "''", reject="name"),
]


# What a build may do with the secrets it is given: every one must stay masked in its log,
# its exported variables, `run --json` and the database.
BUILD_SNIPPETS = {
    "export": [
        Snippet("export-secret", "[API_KEY, SIGNING_KEY, PAYMENTS_BUILD]"),
        Snippet("export-derived", "[DERIVED_FROM_SECRET]"),
    ],
    "command": [
        Snippet("echo-secret", "['echo $API_KEY', 'echo \"x${API_KEY}y\"']"),
        Snippet("derive-secret", "['DERIVED_FROM_SECRET=\"pre-$API_KEY-post\"']"),
        Snippet("env-dump", "['env | sort']"),
        Snippet("secret-to-file", "['echo $API_KEY > dist/leak.txt || true']"),
    ],
}


def wrong_type(value: Any, rng: random.Random) -> Snippet:
    """The value at a key as another type: list <-> map <-> scalar <-> null."""
    if isinstance(value, dict):
        choices = ["[a, b]", "x", "null", "1"]
    elif isinstance(value, list):
        choices = ["{a: b}", "x", "null", "1"]
    elif value is None:
        choices = ["[a]", "{a: b}", "x"]
    else:
        choices = ["[a]", "{a: b}", "null", "[[1]]", "{a: {b: c}}"]
    return Snippet("wrong-type", rng.choice(choices))


def place(text: bytes, path: Path_, snippet: Snippet, as_key: bool = False) -> bytes | None:
    """The document with `snippet` as the value (or the key name) at `path`."""
    tree = load(text)
    if not isinstance(tree, dict):
        return None
    if as_key:
        if not isinstance(path[-1], str):
            return None
        rename(tree, path, KEY_PLACEHOLDER)
        out = dump(tree).replace(KEY_PLACEHOLDER, snippet.text, 1)
    else:
        put(tree, path, PLACEHOLDER)
        out = dump(tree).replace(PLACEHOLDER, snippet.text, 1)
    if snippet.custom:
        out = _add_custom(out, snippet.custom)
    return out.encode("utf-8")


def _add_custom(text: str, entries: str) -> str:
    """`entries` (indented lines) under `custom:`, a new top-level block when there is none."""
    lines = text.splitlines()
    if "custom:" in lines:
        at = lines.index("custom:") + 1
        return "\n".join(lines[:at] + entries.splitlines() + lines[at:]) + "\n"
    return text + ("" if text.endswith("\n") else "\n") + "custom:\n" + entries + "\n"


# --------------------------------------------------------------------------- byte damage


def _insert(data: bytes, rng: random.Random, junk: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + junk + data[at:]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def _dup_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    return b"".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])


def _drop_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    del lines[rng.randrange(len(lines))]
    return b"".join(lines)


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _dup_top_key(data: bytes, rng: random.Random) -> bytes:
    tops = [ln for ln in _lines(data) if ln[:1].isalpha() and b":" in ln]
    if not tops:
        return data
    return (
        data + (b"" if data.endswith(b"\n") else b"\n") + rng.choice(tops).split(b":")[0] + b": x\n"
    )


BYTE_MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "bom": lambda d, r: b"\xef\xbb\xbf" + d,
    "double-bom": lambda d, r: b"\xef\xbb\xbf\xef\xbb\xbf" + d,
    "utf16": lambda d, r: d.decode("utf-8", "replace").encode("utf-16"),
    "crlf": lambda d, r: d.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
    "cr-only": lambda d, r: d.replace(b"\n", b"\r"),
    "tabs": lambda d, r: d.replace(b"  ", b"\t"),
    "invalid-utf8": lambda d, r: _insert(d, r, b"\xff\xfe\xc3("),
    "nul-byte": lambda d, r: _insert(d, r, b"\x00"),
    "control-char": lambda d, r: _insert(d, r, b"\x1b\x07"),
    "truncate": lambda d, r: d[: r.randrange(len(d) + 1)],
    "empty": lambda d, r: b"",
    "only-comment": lambda d, r: b"# nothing here\n",
    "scalar-doc": lambda d, r: b"just a string\n",
    "list-doc": lambda d, r: b"- a\n- b\n",
    "multi-doc": lambda d, r: d + b"\n---\nsecond: doc\n",
    "flip-bytes": _flip,
    "dup-line": _dup_line,
    "drop-line": _drop_line,
    "dup-top-key": _dup_top_key,
    "append-nest-500": lambda d, r: d + b"\nfuzz_nest: " + nested(500).encode() + b"\n",
    "append-block-nest-500": lambda d, r: (
        d + b"\n" + b"".join(b"  " * i + b"k:\n" for i in range(500)) + b"  " * 500 + b"v\n"
    ),
    "append-nest-100000": lambda d, r: d + b"\nfuzz_nest: " + nested(100_000).encode() + b"\n",
    "append-alias-bomb": lambda d, r: d + b"\nfuzz_bomb: " + alias_bomb().encode() + b"\n",
    "append-anchor-merge": lambda d, r: (
        d + b"\nfuzz_base: &base {a: 1}\nfuzz_merged:\n  <<: *base\n  b: 2\n"
    ),
    "huge-comment": lambda d, r: d + b"#" + b"c" * 5_000_000 + b"\n",
}

# Byte damage that must be refused (the document is no longer one valid YAML mapping).
BYTE_REJECT = {
    "invalid-utf8",
    "nul-byte",
    "control-char",
    "append-nest-500",
    "append-block-nest-500",
    "append-nest-100000",
    "append-alias-bomb",
    "huge-comment",
}
