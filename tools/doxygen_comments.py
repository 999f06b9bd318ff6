#!/usr/bin/python3
"""Turns the plain comments that document declarations in the public headers into Doxygen comments, so that the
API reference (docs/Doxyfile, ./build.sh docs) picks them up; idempotent, re-run it after merging header edits.

  // Text above a declaration.        →  /// Text above a declaration.
  int x = 0;  // what x is             →  int x = 0;  ///< what x is

A comment block is converted only when the next line is a declaration (not blank, not a preprocessor line, not a
brace, namespace or access specifier); a trailing comment only after a line that ends a member or an enumerator.
Usage: tools/doxygen_comments.py [--check]
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = ("autograd/", "nn/", "optim/", "teach/", "util/")
PRIVATE = {"autograd/files.hpp", "autograd/ops/common.hpp", "nn/data_util.hpp"}  # docs/Doxyfile's EXCLUDE
TRAILING = re.compile(r'^(\s*[^\s/"}][^"]*?[;,}])(\s+)//(?!/)\s?(.*)$')
NOT_DECL = re.compile(r"^\s*($|#|}|namespace\b|public:|private:|protected:|//|/\*|\*)")


def convert(lines):
    out = list(lines)
    i = 0
    while i < len(out):
        s = out[i].lstrip()
        if s.startswith("//") and not s.startswith("///") and not s.startswith("//!"):
            j = i
            while j < len(out) and out[j].lstrip().startswith("//") and not out[j].lstrip().startswith("///"):
                j += 1
            if j < len(out) and not NOT_DECL.match(out[j]) and (i == 0 or out[i - 1].strip() != "#pragma once"):
                for k in range(i, j):
                    pre, _, text = out[k].partition("//")
                    out[k] = f"{pre}///{text}"
            i = j
            continue
        m = TRAILING.match(out[i])
        if m and "(" not in m.group(1).split("{")[0] or (m and m.group(1).rstrip().endswith(";")):
            code, gap, text = m.groups()
            if not code.lstrip().startswith(("return", "if", "for", "while", "case", "using namespace")):
                out[i] = f"{code}{gap}///< {text}"
        i += 1
    return out


def main():
    check = "--check" in sys.argv[1:]
    files = subprocess.run(["git", "ls-files", "*.hpp"], cwd=ROOT, check=True, capture_output=True,
                           text=True).stdout.split()
    changed = 0
    for rel in files:
        if not rel.startswith(FOLDERS) or rel in PRIVATE:
            continue
        path = os.path.join(ROOT, rel)
        with open(path, encoding="utf-8") as f:
            old = f.read().split("\n")
        new = convert(old)
        if new != old:
            changed += 1
            print(rel)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write("\n".join(new))
    print(f"{changed} file(s) {'to convert' if check else 'converted'}", file=sys.stderr)
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
