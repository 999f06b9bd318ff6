#!/usr/bin/python3
"""Turns the plain comments that document declarations in the public headers into Doxygen comments, so that the
API reference (docs/Doxyfile, ./build.sh docs) picks them up; idempotent, re-run it after merging header edits.

  // Text above a declaration.        →  /// Text above a declaration.
  int x = 0;  // what x is             →  int x = 0;  ///< what x is

A comment block is converted only when the next line is a declaration (not blank, not a preprocessor line, not a
brace, namespace or access specifier); a trailing comment only after a line that ends a member or an enumerator.
Usage: tools/doxygen_comments.py [--check]
"""
import re
import sys

from tracked_files import rewrite_tracked

FOLDERS = ("autograd/", "nn/", "optim/", "teach/", "util/")
PRIVATE = {"autograd/files.hpp", "autograd/ops/common.hpp", "nn/data_util.hpp"}  # docs/Doxyfile's EXCLUDE
NOT_DECL = re.compile(r"^\s*($|#|}|namespace\b|public:|private:|protected:|//|/\*|\*)")
SCOPE = re.compile(r"^\s*(namespace\b|(template\s*<.*>\s*)?(class|struct|union|enum)\b[^(]*$|extern\s+\"C)")


def strip_literals(code):
    """The line without string and character literals and without its // comment."""
    code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
    code = re.sub(r"'(\\.|[^'\\])*'", "''", code)
    return code.split("//", 1)[0]


def comment_at(line):
    """Index of a trailing // comment (outside literals) after code, or -1."""
    code = re.sub(r'"(\\.|[^"\\])*"', lambda m: "x" * len(m.group(0)), line)
    code = re.sub(r"'(\\.|[^'\\])*'", lambda m: "x" * len(m.group(0)), code)
    i = code.find("//")
    return i if i > 0 and code[:i].strip() else -1


def convert(lines):
    """Converts comments at namespace and class scope only: comments inside function bodies stay as they are."""
    out = list(lines)
    stack = []      # one entry per open brace: True if it opened a namespace/class scope, False for a body
    pending = None  # the kind of scope the next "{" opens (a declaration can put its brace on the next line)
    i = 0
    while i < len(out):
        line = out[i]
        at_scope = all(stack)
        s = line.lstrip()
        if s.startswith("//") and not s.startswith(("///", "//!")):
            j = i
            while j < len(out) and out[j].lstrip().startswith("//") and not out[j].lstrip().startswith("///"):
                j += 1
            banner = any("----" in out[k] for k in range(i, j))
            top_of_file = i > 0 and out[i - 1].strip() == "#pragma once"
            if at_scope and j < len(out) and not NOT_DECL.match(out[j]) and not banner and not top_of_file:
                for k in range(i, j):
                    pre, _, text = out[k].partition("//")
                    out[k] = f"{pre}///{text}"
            i = j
            continue
        code = strip_literals(line)
        c = comment_at(line)
        if at_scope and c > 0 and not line[c:].startswith(("///", "//!")) and not s.startswith("}"):
            body = line[:c].rstrip()
            if body.endswith((";", ",", "}")) and not re.match(r"\s*(return|if|for|while|case|using namespace)\b", body):
                text = line[c + 2:].lstrip()
                out[i] = f"{line[:c]}///< {text}"
        if SCOPE.match(code) or (pending is None and re.match(r"^\s*(class|struct|enum|namespace)\b", code)):
            pending = True
        for ch in code:
            if ch == "{":
                stack.append(bool(pending))
                pending = None
            elif ch == "}" and stack:
                stack.pop()
        if ";" in code and "{" not in code:
            pending = None
        i += 1
    return out


def main():
    return rewrite_tracked(["*.hpp"], lambda rel: rel.startswith(FOLDERS) and rel not in PRIVATE,
                           lambda lines, rel: convert(lines), ("to convert", "converted"))


if __name__ == "__main__":
    sys.exit(main())
