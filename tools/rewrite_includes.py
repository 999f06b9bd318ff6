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
import sys

from tracked_files import ROOT, rewrite_tracked

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
    # include/: the umbrella headers, already relative to include/chainrule/
    return rewrite_tracked(["*.hpp", "*.cpp", "*.h", "*.md"], lambda rel: not rel.startswith("include/"),
                           lambda lines, rel: [rewrite_line(line, rel) for line in lines], ("to rewrite", "rewritten"))


if __name__ == "__main__":
    sys.exit(main())
