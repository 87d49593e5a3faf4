#!/usr/bin/env python3
"""Checks the import structure of src/: no import cycle between files, no import up the layers.

A file imports another when it names a path into it (`crate::a::b`, `super::x`, `self::y`),
in a `use` line or inline in code; each path is resolved to the deepest file that exists for
it (`a/b.rs` or `a/b/mod.rs`). Two rules:

1. No cycle: no two files reach each other through imports (a strongly connected group of
   files is printed with the names that tie it).
2. No upward import: a top-level module may import only modules of its own layer or of
   layers below it, as the table LAYERS below orders them (lowest first; the order of the
   layer table in `src/lib.rs`, with the edges above `network` as they are). Data flows one way, from the socket up to the caller.

Text-based, on purpose (no build needed, runs on a fresh clone): a macro or a glob re-export
can hide an edge. Exits 1 and prints every finding when a rule is broken; prints
"layers ok, no import cycles" and exits 0 otherwise.

Usage: scripts/check-layers.py [SRC_DIR]   (default: src next to this script's folder)
"""
import os
import re
import sys

# Lowest layer first. A module may import from its own row and from rows above it in this
# list, never from a row below it. Modules on one row are peers that may not import each
# other in a cycle (rule 1 still holds between their files).
LAYERS = [
    ["logging"],  # log sinks: used by every layer, uses none
    ["net"],  # socket: Discovery v5, TALKREQ, ENRs and their protocol-version field, uTP
    ["wire"],  # Portal wire messages (SSZ), encoded per net::ProtocolVersion
    ["content"],  # content keys, ids, values, the ring distance
    ["proof"],  # verification against a state root: the only maker of VerifiedContent
    ["store"],  # SQLite store of verified content, headers, peers
    ["data_dir"],  # the node key, ENR sequence number and listen port files
    ["overlay"],  # routing table, handlers, lookups, gossip
    ["network"],  # transport + overlay + store running on tokio
    # verified queries; state into the network; the beacon light client feeding a network
    # its trusted heads
    ["client", "bridge", "beacon"],
    ["node"],  # the app-facing API
    ["input"],  # text forms at the API's edge, errors as the API's NodeError
    ["ffi", "uniffi_api"],  # the C and uniffi edges over node
    ["bin"],  # the CLI
]


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "src"))
    rank = {m: i for i, row in enumerate(LAYERS) for m in row}

    files = {}  # module path (tuple) -> file path relative to the repository
    for root, _, names in os.walk(src):
        for name in names:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            parts = os.path.relpath(path, src)[:-3].split(os.sep)
            if parts[-1] == "mod":
                parts = parts[:-1]
            if parts == ["lib"]:
                parts = []
            # A binary's own crate root: src/bin/NAME/main.rs is the module ("bin", NAME).
            if parts[:1] == ["bin"] and parts[-1] == "main" and len(parts) > 2:
                parts = parts[:-1]
            files[tuple(parts)] = os.path.relpath(path, os.path.dirname(src))

    def deepest_file(module):
        for i in range(len(module), -1, -1):
            if tuple(module[:i]) in files:
                return tuple(module[:i])
        return ()

    path_re = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
    group_re = re.compile(
        r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*?)\};", re.S
    )
    edges = {}  # file module -> {imported file module -> names}
    for module, rel in files.items():
        with open(os.path.join(os.path.dirname(src), rel)) as f:
            text = re.sub(r"//[^\n]*", "", f.read())

        def absolute(kind, rest):
            # `crate` in a binary (src/bin/NAME/...) is that binary's root, not the library.
            root = list(module[:2]) if module[:1] == ("bin",) else []
            out = root if kind == "crate" else list(module) if kind == "self" else list(module[:-1])
            for seg in rest:
                if seg == "super":
                    out = out[:-1]
                elif seg != "self":
                    out.append(seg)
            return out

        targets = []
        for kind, head, body in group_re.findall(text):
            prefix = absolute(kind, [s for s in head.split("::") if s])
            for item in re.split(r"[,{}]", body):
                item = item.strip().split(" as ")[0].strip()
                if item == "self":
                    targets.append(tuple(prefix))
                elif item and item != "*":
                    targets.append(tuple(prefix + [s for s in item.split("::") if s]))
        for kind, rest in path_re.findall(text):
            targets.append(tuple(absolute(kind, [s for s in rest.split("::") if s])))
        for target in targets:
            found = deepest_file(target)
            if found != module and found != ():
                name = target[len(found)] if len(target) > len(found) else "*"
                edges.setdefault(module, {}).setdefault(found, set()).add(name)

    problems = []

    # Rule 2: layers. The top-level module of a file is its first path segment; a binary's
    # files (src/bin/...) are the layer "bin".
    def layer_of(module):
        return module[0] if module else None

    for a, imports in sorted(edges.items()):
        la = layer_of(a)
        for b, names in sorted(imports.items()):
            lb = layer_of(b)
            if la is None or lb is None or la == lb:
                continue
            if la not in rank or lb not in rank:
                missing = la if la not in rank else lb
                problems.append(f"module `{missing}` is not in the LAYERS table of {__file__}")
                continue
            if rank[lb] > rank[la]:
                problems.append(
                    f"upward import: {files[a]} ({la}) -> {files[b]} ({lb}): "
                    + ", ".join(sorted(names))
                )

    # Rule 1: cycles (Tarjan's strongly connected components).
    index, low, stack, on_stack, groups, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    sys.setrecursionlimit(10000)
    for v in sorted(files):
        if v not in index:
            visit(v)
    for group in groups:
        lines = ["import cycle: " + ", ".join(files[m] for m in sorted(group))]
        for a in sorted(group):
            for b, names in sorted(edges.get(a, {}).items()):
                if b in group:
                    lines.append(f"  {files[a]} -> {files[b]}: {', '.join(sorted(names))}")
        problems.append("\n".join(lines))

    for p in dict.fromkeys(problems):
        print(p)
    if problems:
        return 1
    print("layers ok, no import cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
