#!/usr/bin/python3
"""Checks that every #include "mws/<module>/..." points one way down the layers.

The libraries already make a wrong-way call fail to link (mws_protocol cannot see mws_server);
this catches what the linker cannot: a header-only dependency (an inline function, a struct).
Exits 1 and names each wrong include. Run from anywhere: `just layers`.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# module -> the modules it may include (itself always allowed). Read top to bottom:
# protocol (base, buf, http, ws) < server library (net, tls, server, admin) < app; load beside app.
PROTOCOL = {"base", "buf", "http", "ws"}
ALLOWED = {
    "base": set(),
    "buf": {"base"},
    "http": {"base", "buf"},
    "ws": {"base", "buf"},
    "net": {"base"},
    "tls": {"base", "net"},
    "server": PROTOCOL | {"net", "tls"},
    "admin": PROTOCOL | {"net", "tls", "server"},
    "app": PROTOCOL | {"net", "tls", "server", "admin"},
    "load": PROTOCOL,
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"mws/([a-z_]+)/')


def module_of(path: pathlib.Path):
    """The module a source or header belongs to, from its place in the tree."""
    rel = path.relative_to(ROOT).parts
    if rel[0] == "load":
        return "load"
    if rel[0] == "include" and len(rel) > 3:
        return rel[2]
    if rel[0] == "src" and len(rel) > 2:
        return rel[1]
    return None


def main() -> int:
    problems = []
    files = [p for d in ("include", "src", "load") for p in (ROOT / d).rglob("*")
             if p.suffix in (".h", ".cpp")]
    for path in files:
        module = module_of(path)
        if module is None:
            continue
        if module not in ALLOWED:
            problems.append(f"{path.relative_to(ROOT)}: module '{module}' has no place in the layers")
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = INCLUDE.match(line)
            if m and m.group(1) != module and m.group(1) not in ALLOWED[module]:
                problems.append(f"{path.relative_to(ROOT)}:{n}: '{module}' may not include "
                                f"mws/{m.group(1)}/ (allowed: {', '.join(sorted(ALLOWED[module])) or 'none'})")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"layers: {len(files)} files, {len(problems)} wrong-way includes")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
