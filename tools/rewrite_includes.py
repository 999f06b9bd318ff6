#!/usr/bin/python3
"""Rewrites #include lines to chainrule's header scheme (CMakeLists.txt, "Public headers"); idempotent, so it can be
run again after merging branches that still use the old project-root form ("autograd/tensor.hpp").

  the library (autograd/ nn/ optim/ teach/ util/):   "nn/module.hpp" → "../nn/module.hpp" or "module.hpp"
  everything else (tests, examples, bench, tools, docs, README): "nn/nn.hpp" → <chainrule/nn.hpp>,
                                                       "nn/layers.hpp" → <chainrule/nn/layers.hpp>
  "tests/helpers.hpp", "examples/cli.hpp", "bench/timer.hpp" (project files, not the library) → relative paths

Usage: tools/rewrite_includes.py [--check]   (from anywhere; --check lists what would change and exits 1 if any)
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARY = {"autograd", "nn", "optim", "teach", "util"}
PROJECT = {"tests", "examples", "bench", "tools"}
UMBRELLA = {"autograd/autograd.hpp": "autograd.hpp", "nn/nn.hpp": "nn.hpp", "optim/optim.hpp": "optim.hpp",
            "teach/teach.hpp": "teach.hpp"}
INCLUDE = re.compile(r'^(\s*#\s*include\s+)"([^"]+)"(.*)$')


def rewrite_line(line, rel_file):
    m = INCLUDE.match(line)
    if not m:
        return line
    head, path, tail = m.groups()
    file_dir = os.path.dirname(rel_file)
    top = path.split("/", 1)[0]
    if file_dir and os.path.exists(os.path.join(ROOT, file_dir, path)) \
            and file_dir.split("/", 1)[0] not in LIBRARY | PROJECT:
        return line  # resolves next to the file (and the file is outside the tree's code folders): leave it
    in_library = file_dir.split("/", 1)[0] in LIBRARY
    is_doc = rel_file.endswith(".md")
    if top in LIBRARY and "/" in path and not path.startswith("."):
        if in_library:
            return f'{head}"{os.path.relpath(path, file_dir or ".")}"{tail}'
        return f"{head}<chainrule/{UMBRELLA.get(path, path)}>{tail}"
    if top in PROJECT and "/" in path and not is_doc and not in_library:
        return f'{head}"{os.path.relpath(path, file_dir or ".")}"{tail}'
    return line


def main():
    check = "--check" in sys.argv[1:]
    files = subprocess.run(["git", "ls-files", "*.hpp", "*.cpp", "*.h", "*.md"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    changed = 0
    for rel in files:
        if rel.startswith("include/"):
            continue  # the umbrella headers: already relative to include/chainrule/
        full = os.path.join(ROOT, rel)
        with open(full, encoding="utf-8") as f:
            old = f.read().split("\n")
        new = [rewrite_line(line, rel) for line in old]
        if new != old:
            changed += 1
            print(rel)
            if not check:
                with open(full, "w", encoding="utf-8") as f:
                    f.write("\n".join(new))
    print(f"{changed} file(s) {'to rewrite' if check else 'rewritten'}", file=sys.stderr)
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
