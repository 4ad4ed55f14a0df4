"""From a seed and an index, one hostile repository state and the commands to run on it.

`generate(seed, index)` is deterministic: the same pair always gives the same case, so a
reproducer is the pair (and the saved files). Mutations: YAML values, keys, types and bytes in
shipway.yml / serverless.yml / buildspec.yml; `.env` layers; committed symlinks; deleted
files; hostile command arguments and SHIPWAY_HOME.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from tests.fuzz import envmut, yamlmut
from tests.fuzz.bases import Base, Canaries

OUTSIDE = "@OUTSIDE@"  # replaced by the case's absolute folder outside the repository
# Builds run only on states whose build is the example's own (no package installs, so no
# network): corpus buildspecs and requirements.txt would reach the internet.
RUNNABLE = frozenset({"example", "corpus-env"})
RUN = ["run", "dev", "--json"]


@dataclass
class Case:
    seed: int
    index: int
    base: Base
    canaries: Canaries
    files: dict[str, bytes] = field(default_factory=dict)  # path -> new content
    deleted: set[str] = field(default_factory=set)
    symlinks: dict[str, str] = field(default_factory=dict)  # path -> target (may use OUTSIDE)
    commands: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # extra variables (may use OUTSIDE)
    mutations: list[str] = field(default_factory=list)
    reject: list[str] = field(default_factory=list)  # mutations validate must refuse
    tree_mutated: set[str] = field(default_factory=set)
    # a refusal that holds only while another file says so: label -> that file
    reject_needs: dict[str, str] = field(default_factory=dict)
    extra: list[list[str]] = field(default_factory=list)  # commands a mutation asks for

    @property
    def name(self) -> str:
        return f"{self.seed}:{self.index}"

    def content(self, path: str) -> bytes | None:
        if path in self.deleted or path in self.symlinks:
            return None
        return self.files.get(path, self.base.files.get(path))

    def write(self, path: str, data: bytes) -> None:
        # a refusal that needed the old content of `path` (a reference to a link) may be gone
        self.reject = [r for r in self.reject if self.reject_needs.get(r) != path]
        self.files[path] = data
        self.deleted.discard(path)
        self.symlinks.pop(path, None)

    def describe(self) -> str:
        return f"case {self.name} on {self.base.name}: " + "; ".join(self.mutations)


def _forget(case: Case, path: str) -> None:
    """A later mutation of `path` may undo an earlier one (a truncation, a link over it):
    what validate had to refuse there is no longer known."""
    case.reject = [r for r in case.reject if not r.startswith((f"{path}: ", f"symlink {path} "))]


def _forget_folder(case: Case, folder: str) -> None:
    """A service whose serverless.yml is gone is no service: nothing in its folder is read,
    so nothing there has to be refused."""
    case.reject = [r for r in case.reject if not r.startswith((f"{folder}/", f"symlink {folder}/"))]


def _is_service(case: Case, folder: str) -> bool:
    return any(
        case.content(f"{folder}/{name}") is not None
        for name in ("serverless.yml", "serverless.yaml")
    )


def _pick_tree(case: Case, rng: random.Random) -> tuple[str, str, bytes, Any] | None:
    """A config file not yet changed as a tree: (path, kind, its text, its YAML tree)."""
    picked = _pick_file(case, rng)
    if picked is None or picked[0] in case.tree_mutated:
        return None
    path, kind = picked
    text = case.content(path) or b""
    return path, kind, text, yamlmut.load(text)


def _config_files(case: Case) -> list[tuple[str, str, int]]:
    """(path, kind, weight) of the YAML files Shipway reads in this state."""
    out: list[tuple[str, str, int]] = []
    if case.content("shipway.yml") is not None:
        out.append(("shipway.yml", "shipway", 3))
    for _, folder in case.base.services:
        if case.content(f"{folder}/serverless.yml") is not None:
            out.append((f"{folder}/serverless.yml", "serverless", 4))
        if case.content(f"{folder}/buildspec.yml") is not None:
            out.append((f"{folder}/buildspec.yml", "buildspec", 2))
    return out


def _pick_file(case: Case, rng: random.Random) -> tuple[str, str] | None:
    files = _config_files(case)
    if not files:
        return None
    path, kind, _ = rng.choices(files, weights=[w for _, _, w in files])[0]
    return path, kind


def _outside_rel(path: str) -> str:
    """The relative way from the folder of `path` to the outside folder (beside the repo)."""
    depth = len(PurePosixPath(path).parent.parts)
    return "/".join([".."] * (depth + 1) + ["outside"])


def _snippets(case: Case, path: str) -> list[yamlmut.Snippet]:
    return yamlmut.value_snippets(OUTSIDE, _outside_rel(path), "API_KEY")


def _rejects(snippet: yamlmut.Snippet, kind: str) -> bool:
    return snippet.reject == "yaml" or (snippet.reject == "serverless" and kind == "serverless")


def mutate_value(case: Case, rng: random.Random) -> None:
    picked = _pick_tree(case, rng)
    if picked is None:
        return mutate_bytes(case, rng)
    path, kind, text, tree = picked
    spots = yamlmut.paths(tree)
    if not spots:
        return mutate_bytes(case, rng)
    spot = rng.choice(spots)
    roll = rng.random()
    if roll < 0.2:
        snippet = yamlmut.wrong_type(yamlmut.get(tree, spot), rng)
    else:
        snippet = rng.choice(_snippets(case, path))
    out = yamlmut.place(text, spot, snippet)
    if out is None:
        return mutate_bytes(case, rng)
    case.write(path, out)
    case.tree_mutated.add(path)
    label = f"{path}: `{'.'.join(map(str, spot))}` = {snippet.kind}"
    case.mutations.append(label)
    if _rejects(snippet, kind):
        case.reject.append(label)


# Keys whose values are names, refs or limits with rules of their own: what to put there, and
# which of those values validate must refuse ("all" the flagged name/branch snippets, or a
# set of snippet kinds).
ALL = frozenset({"*"})
TARGETED: dict[str, list[tuple[tuple[str | int, ...], str, frozenset[str]]]] = {
    "shipway": [
        (("project",), "name", ALL),
        (("environments", "dev", "branch"), "branch", ALL),
        (
            ("environments", "dev", "stage"),
            "name",
            frozenset(
                {
                    "name-300",
                    "name-caret",
                    "name-dotdot",
                    "name-slash-escape",
                    "name-unicode",
                    "name-space",
                    "name-nul",
                }
            ),
        ),
        (("control_branch",), "branch", ALL),
        (
            ("build", "timeout"),
            "value",
            frozenset(
                {
                    "digits-400",
                    "neg-digits-400",
                    "negative",
                    "nan",
                    "inf",
                    "neg-inf",
                    "float-huge",
                    "list",
                    "map",
                    "name-300",
                }
            ),
        ),
        (("build", "concurrency"), "value", frozenset({"digits-400", "negative", "nan", "list"})),
        (("releases", "keep"), "value", frozenset({"digits-400", "negative", "nan", "list"})),
        (("services", 0), "value", frozenset()),
    ],
    "serverless": [
        (("service",), "name", ALL),
        (
            ("provider", "region"),
            "value",
            frozenset(
                {
                    "name-300",
                    "digits-400",
                    "unicode",
                    "path-escape",
                    "path-abs",
                    "list",
                    "map",
                    "nul-escape",
                    "control-chars",
                }
            ),
        ),
        (("provider", "stage"), "name", frozenset()),
        (("provider", "tags"), "value", frozenset({"list", "name-300", "digits-400"})),
        (("provider", "timeout"), "value", frozenset({"digits-400", "nan", "inf", "list"})),
        (("provider", "memorySize"), "value", frozenset({"digits-400", "nan", "inf", "list"})),
        (("provider", "runtime"), "value", frozenset()),
        (("provider", "environment"), "value", frozenset()),
        (("package", "patterns"), "value", frozenset()),
        (("useDotenv",), "value", frozenset()),
    ],
    "buildspec": [
        (("version",), "value", frozenset()),
        (
            ("artifacts", "base-directory"),
            "value",
            frozenset({"path-escape", "path-abs", "path-outside"}),
        ),
        (("artifacts", "files"), "value", frozenset()),
        (("cache", "paths"), "value", frozenset()),
        (("env", "exported-variables"), "export", frozenset()),
        (("batch",), "value", frozenset()),
        (("phases", "build", "commands"), "value", frozenset()),
        (("phases", "post_build", "commands"), "command", frozenset()),
    ],
}


def mutate_targeted(case: Case, rng: random.Random) -> None:
    """A hostile value at a key known to matter (names, branches, limits, paths)."""
    picked = _pick_tree(case, rng)
    if picked is None:
        return mutate_bytes(case, rng)
    path, kind, _text, tree = picked
    if not isinstance(tree, dict):
        return mutate_bytes(case, rng)
    spot, what, refused = rng.choice(TARGETED[kind])
    if (
        kind == "shipway"
        and spot[0] == "environments"
        and "dev" not in (tree.get("environments") or {})
    ):
        return mutate_bytes(case, rng)
    _ensure(tree, spot)
    if what == "name":
        snippet = rng.choice(yamlmut.NAME_SNIPPETS)
    elif what == "branch":
        snippet = rng.choice(yamlmut.BRANCH_SNIPPETS)
    elif what in yamlmut.BUILD_SNIPPETS:
        snippet = rng.choice(yamlmut.BUILD_SNIPPETS[what])
        if case.base.tags & RUNNABLE and RUN not in case.extra:
            case.extra.append(RUN)  # only a run shows what a build does
    else:
        snippet = rng.choice(_snippets(case, path))
    out = yamlmut.place(yamlmut.dump(tree).encode(), spot, snippet)
    if out is None:
        return mutate_bytes(case, rng)
    case.write(path, out)
    case.tree_mutated.add(path)
    label = f"{path}: `{'.'.join(map(str, spot))}` = {snippet.kind}"
    case.mutations.append(label)
    flagged = bool(snippet.reject) if refused == ALL else snippet.kind in refused
    if _rejects(snippet, kind) or flagged:
        case.reject.append(label)


def _ensure(tree: dict[str, object], spot: tuple[str | int, ...]) -> None:
    """Create the mappings on the way to `spot` (so the key exists to be replaced)."""
    node: object = tree
    for part in spot[:-1]:
        if isinstance(node, dict):
            if not isinstance(node.get(part), dict | list):
                node[part] = {}
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int):
            if not node:
                node.append({})
            node = node[min(part, len(node) - 1)]
    last = spot[-1]
    if isinstance(node, dict) and last not in node:
        node[last] = "x"
    elif isinstance(node, list) and not node:
        node.append("x")


def mutate_key(case: Case, rng: random.Random) -> None:
    """Rename a key: an environment name, a function name, any key."""
    picked = _pick_tree(case, rng)
    if picked is None:
        return mutate_bytes(case, rng)
    path, _kind, text, tree = picked
    spots = [p for p in yamlmut.paths(tree) if isinstance(p[-1], str)]
    if not spots:
        return mutate_bytes(case, rng)
    envs = [p for p in spots if len(p) == 2 and p[0] == "environments"]
    spot = rng.choice(envs) if envs and rng.random() < 0.6 else rng.choice(spots)
    snippet = rng.choice(yamlmut.NAME_SNIPPETS)
    out = yamlmut.place(text, spot, snippet, as_key=True)
    if out is None:
        return mutate_bytes(case, rng)
    case.write(path, out)
    case.tree_mutated.add(path)
    label = f"{path}: key `{'.'.join(map(str, spot))}` renamed {snippet.kind}"
    case.mutations.append(label)
    if spot in envs and snippet.reject:
        case.reject.append(label)


def mutate_bytes(case: Case, rng: random.Random) -> None:
    picked = _pick_file(case, rng)
    if picked is None:
        return
    path, _ = picked
    name = rng.choice(sorted(yamlmut.BYTE_MUTATIONS))
    data = yamlmut.BYTE_MUTATIONS[name](case.content(path) or b"", rng)
    _forget(case, path)
    case.write(path, data)
    case.tree_mutated.add(path)
    label = f"{path}: bytes {name}"
    case.mutations.append(label)
    if name in yamlmut.BYTE_REJECT:
        case.reject.append(label)


def mutate_env(case: Case, rng: random.Random) -> None:
    folders = [folder for _, folder in case.base.services]
    layer = rng.choice(
        [
            ".env.dev",
            ".env.qa",
            ".env.dev",
            *(f"{f}/.env" for f in folders),
            *(f"{f}/.env.dev" for f in folders),
        ]
    )
    name, data, reject = envmut.mutate(case.content(layer) or b"", rng)
    _forget(case, layer)
    case.write(layer, data)
    label = f"{layer}: {name}"
    case.mutations.append(label)
    folder = layer.rsplit("/", 1)[0] if "/" in layer else ""
    if reject and (not folder or _is_service(case, folder)):
        case.reject.append(label)


def mutate_fs(case: Case, rng: random.Random) -> None:
    """Committed symlinks (inside, outside, to /etc, loops) and missing files."""
    folders = [folder for _, folder in case.base.services]
    folder = rng.choice(folders)
    choice = rng.randrange(12)
    escape = True
    if choice == 0:
        path, target = "services/evil", f"{OUTSIDE}/service"
    elif choice == 1:
        path, target = folder, f"{OUTSIDE}/service"
        case.deleted.update(p for p in case.base.files if p.startswith(folder + "/"))
    elif choice == 2:
        path, target = ".env", "/etc/passwd"
    elif choice == 3:
        path, target = ".env.dev", f"{OUTSIDE}/canary.env"
    elif choice == 4:
        path, target = "shipway.yml", f"{OUTSIDE}/shipway.yml"
    elif choice == 5:
        path, target = f"{folder}/buildspec.yml", f"{OUTSIDE}/buildspec.yml"
    elif choice == 6:
        path, target = f"{folder}/serverless.yml", f"{OUTSIDE}/service/serverless.yml"
    elif choice == 7:
        path, target = f"{folder}/etcdir", "/etc"
        escape = False  # the default build must not follow it; validate need not refuse
    elif choice == 8:
        path, target = f"{folder}/conf.yml", f"{OUTSIDE}/canary.yml"
        config = f"{folder}/serverless.yml"
        text = case.content(config)
        escape = False  # refused only once something reads it
        if text is not None and config not in case.tree_mutated:
            out = yamlmut.place(
                text, ("custom",), yamlmut.Snippet("conf", "{c: '${file(./conf.yml):key}'}")
            )
            if out is not None:
                case.write(config, out)
                case.tree_mutated.add(config)
                escape = True
    elif choice == 9:
        path, target, escape = f"{folder}/loop", "loop", False
    elif choice == 10:
        path, target, escape = f"{folder}/inside-link", "serverless.yml", False
    else:
        # the state directory relocated by the commit: a state command must not follow it
        path, target, escape = ".shipway", f"{OUTSIDE}/state", False
        case.extra.append(["runs"])
    if target.startswith(OUTSIDE) and rng.random() < 0.5:
        target = _outside_rel(path) + target[len(OUTSIDE) :]  # the same place, relative
    _forget(case, path)
    case.symlinks[path] = target
    case.files.pop(path, None)
    label = f"symlink {path} -> {target}"
    case.mutations.append(label)
    if choice in (5, 8) and not _is_service(case, folder):
        escape = False  # a folder without serverless.yml is no service: nothing there is read
    if escape:
        case.reject.append(label)
        if choice == 8:
            case.reject_needs[label] = f"{folder}/serverless.yml"  # it reads conf.yml


def mutate_build(case: Case, rng: random.Random) -> None:
    """The example's buildspec exporting, echoing or deriving secrets, then a run."""
    path = "services/payments/buildspec.yml"
    what, spot = rng.choice(
        [
            ("export", ("env", "exported-variables")),
            ("command", ("phases", "post_build", "commands")),
        ]
    )
    snippet = rng.choice(yamlmut.BUILD_SNIPPETS[what])
    out = yamlmut.place(case.content(path) or b"", spot, snippet)
    if out is None:
        return
    if what == "export":  # a derived value to export too
        out = (
            yamlmut.place(
                out, ("phases", "post_build", "commands"), yamlmut.BUILD_SNIPPETS["command"][1]
            )
            or out
        )
    case.write(path, out)
    case.tree_mutated.add(path)
    case.mutations.append(f"{path}: `{'.'.join(spot)}` = {snippet.kind}")
    case.extra.append(RUN)


def mutate_delete(case: Case, rng: random.Random) -> None:
    candidates = sorted(
        p
        for p in case.base.files
        if p not in case.symlinks
        and (p.endswith((".yml", ".py")) or PurePosixPath(p).name.startswith(".env"))
    )
    path = rng.choice(candidates)
    _forget(case, path)
    case.deleted.add(path)
    case.files.pop(path, None)
    if PurePosixPath(path).name in ("serverless.yml", "serverless.yaml"):
        _forget_folder(case, path.rsplit("/", 1)[0] if "/" in path else "")
    case.mutations.append(f"deleted {path}")


MUTATORS = [
    (mutate_value, 30),
    (mutate_targeted, 14),
    (mutate_key, 8),
    (mutate_bytes, 16),
    (mutate_env, 14),
    (mutate_fs, 8),
    (mutate_delete, 4),
]


def _commands(case: Case, rng: random.Random, run_share: float) -> None:
    service, _ = rng.choice(case.base.services)
    env = rng.choice(case.base.envs)
    case.commands.append(["validate"])
    if rng.random() < 0.35:
        case.commands.append(["print", service, "--env", env, "--format", "json"])
    if rng.random() < 0.2:
        case.commands.append(["synth", service, "--env", env])
    if rng.random() < 0.03:
        case.commands.append(_hostile_args(rng, service))
    if rng.random() < 0.01:
        case.env["SHIPWAY_HOME"] = rng.choice(
            [f"{OUTSIDE}/canary.txt", f"{OUTSIDE}/canary.txt/sub", "/dev/null", "/proc/self"]
        )
        case.commands.append(["runs"])
        case.mutations.append(f"SHIPWAY_HOME={case.env['SHIPWAY_HOME']}")
    case.commands.extend(case.extra)
    if rng.random() < run_share and case.base.tags & RUNNABLE and RUN not in case.commands:
        case.commands.append(RUN)


def _hostile_args(rng: random.Random, service: str) -> list[str]:
    choice = rng.randrange(6)
    if choice == 0:
        return ["run", "dev", "--commit", rng.choice(["main..dev", "dev^", "-x", "a" * 300, ""])]
    if choice == 1:
        return ["invoke", "f", "--env", "dev", "--data", "[" * 10_000 + "]" * 10_000]
    if choice == 2:
        return ["print", "a" * 300, "--env", "dev"]
    if choice == 3:
        return ["print", service, "--env", rng.choice(["dev^", "a" * 300, "../x", ""])]
    if choice == 4:
        return ["logs", rng.choice(["../../etc/passwd", "dev-1", "a" * 300])]
    return ["synth", service, "--env", "nope"]


def generate(
    seed: int, index: int, bases: list[Base], canaries: Canaries, run_share: float = 0.02
) -> Case:
    rng = random.Random(f"shipway-fuzz:{seed}:{index}")
    build = rng.random() < run_share
    corpus = [b for b in bases if "example" not in b.tags]
    base = bases[0] if build or not corpus or rng.random() < 0.5 else rng.choice(corpus)
    case = Case(seed, index, base, canaries)
    if build:
        mutate_build(case, rng)  # alone on the example, so the build runs and shows its work
    else:
        count = rng.choices([0, 1, 2, 3], weights=[3, 70, 20, 7])[0]
        funcs = [f for f, _ in MUTATORS]
        weights = [w for _, w in MUTATORS]
        for _ in range(count):
            rng.choices(funcs, weights=weights)[0](case, rng)
    if not case.mutations:
        case.mutations.append("unchanged")
    _commands(case, rng, run_share)
    return case
