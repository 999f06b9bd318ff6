#!/usr/bin/env python3
"""Lists every function longer than --max-function lines and every source file longer than --max-file lines.

    tools/long_functions.py [--root DIR] [--allow FILE] [DIR ...]    (default DIRs: autograd nn optim teach util tools)

A function's length counts the lines from the first line of its declaration (its `template <...>` line, if any)
to its closing brace, both included; a lambda or local class inside a function counts towards that function. The
scan is lexical (no compiler): comments, string, character and raw-string literals are skipped, then braces are
matched and each `{` at namespace or class scope is classified from the text before it (namespace, class, function
body, or an initializer). That is right on this code base's style; the self-test (`--self-test`) checks the cases
it relies on.

With --allow FILE (one `path` or `path:function` a line, `#` comments), listed offenders are reported as allowed
and do not fail. An allow-list entry that matches no offender is reported as STALE (remove it); with --strict it
fails too. Exit status: 0 when every offender is allowed (and, with --strict, no entry is stale), 1 otherwise,
2 on bad usage.
"""
import argparse
import os
import re
import sys

SOURCE_SUFFIXES = (".cpp", ".hpp", ".h", ".cc")
DEFAULT_DIRS = ("autograd", "nn", "optim", "teach", "util", "tools")
# Words that may stand between a function's `)` and its body's `{`.
AFTER_PARAMS = {"const", "override", "final", "noexcept", "mutable", "volatile", "&", "&&", "try"}


def strip_code(text):
    """The text with comments, literals and preprocessor lines blanked out (newlines kept, so lines still count)."""
    out = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if c == "\n":
            out.append(c)
            at_line_start = True
            i += 1
            continue
        if at_line_start and c == "#":  # a preprocessor line, with its `\` continuations
            while i < n and text[i] != "\n":
                if text[i] == "\\" and i + 1 < n and text[i + 1] == "\n":
                    out.append("\n")
                    i += 2
                    continue
                i += 1
            continue
        if not c.isspace():
            at_line_start = False
        if text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
            continue
        raw = re.match(r'(?:u8|u|U|L)?R"([^()\\\s]{0,16})\(', text[i:i + 24])
        if raw and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            close = ")" + raw.group(1) + '"'
            end = text.find(close, i + raw.end())
            end = n if end < 0 else end + len(close)
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:end]))
            i = end
            continue
        if c == '"' or (c == "'" and not (i > 0 and text[i - 1].isalnum())):  # not a digit separator (1'000)
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def drop_template_heads(h):
    """`template <class T> void f(T)` → `void f(T)`: the angle brackets may nest."""
    while True:
        m = re.match(r"\s*template\s*<", h)
        if not m:
            return h
        depth, k = 1, m.end()
        while k < len(h) and depth:
            depth += {"<": 1, ">": -1}.get(h[k], 0)
            k += 1
        h = h[k:]


def depth0(h):
    """The header with everything inside (...) and [...] replaced by spaces, and `operator@` spelled `operator`."""
    h = re.sub(r"\boperator\s*(\(\)|\[\]|[^\s(]+)", "operator", h)
    out, depth = [], 0
    for c in h:
        if c in "([":
            depth += 1
            out.append(c if depth == 1 else " ")
        elif c in ")]":
            depth -= 1
            out.append(c if depth == 0 else " ")
        else:
            out.append(c if depth == 0 else " ")
    return "".join(out)


def classify(header):
    """What a `{` at namespace or class scope opens, from the text since the previous `;`, `{` or `}`."""
    h = drop_template_heads(header).strip()
    if h.count("(") > h.count(")"):
        return "init"  # a default argument `= {}` inside a parameter list
    if re.match(r"(inline\s+)?namespace\b", h) or re.match(r'extern\s*"', h):
        return "namespace"
    if re.match(r"((typedef|static|const|constexpr|inline)\s+)*(class|struct|union|enum)\b", h) and "=" not in depth0(h):
        return "class"
    flat = depth0(h)
    if "(" not in flat:
        return "other"  # `int x_{0}`, `T table[] = {`
    before_params = flat[:flat.index("(")]
    if "=" in before_params:
        return "other"  # `auto f = [](...) {` : a variable, not a function
    if re.search(r"\)\s*->", flat):
        return "function"  # trailing return type
    if re.search(r"\)\s*:(?!:)", flat):  # a constructor's initializer list: `: a_(x), b_{y} {`
        return "function" if re.search(r"[)}]\s*$", flat) else "init"
    tail = re.findall(r"\w+|&&|&|\S", flat[flat.rindex(")") + 1:])
    if all(t in AFTER_PARAMS or re.match(r"noexcept|throw", t) for t in tail):
        return "function"
    return "other"


def function_name(header, classes):
    flat = depth0(drop_template_heads(header))
    m = re.search(r"([~\w:]+)\s*\($", flat[:flat.index("(") + 1]) if "(" in flat else None
    name = m.group(1) if m else "?"
    if classes and "::" not in name:
        name = "::".join(classes) + "::" + name
    return name


def scan(text):
    """(name, first line, last line) of every function defined in the text."""
    code = strip_code(text)
    stack = []  # (kind, name) of every open brace
    header, header_line = "", None
    found = []
    line = 1
    for c in code:
        if c == "\n":
            line += 1
        at_scope = all(kind in ("namespace", "class") for kind, _, _ in stack)
        if c == "{":
            if at_scope:
                kind = classify(header)
                name = ""
                if kind == "function":
                    name = function_name(header, [n for k, n, _ in stack if k == "class"])
                elif kind == "class":
                    m = re.search(r"(class|struct|union|enum)\s+(?:class\s+)?(\w+)", drop_template_heads(header))
                    name = m.group(2) if m else ""
                stack.append((kind, name, header_line or line))
                if kind == "init":
                    header += c
                else:
                    header, header_line = "", None
            else:
                stack.append(("block", "", line))
            continue
        if c == "}":
            if not stack:
                continue
            kind, name, first = stack.pop()
            if kind == "function":
                found.append((name, first, line))
            if kind == "init":
                header += c
            elif all(k in ("namespace", "class") for k, _, _ in stack):
                header, header_line = "", None
            continue
        if not at_scope:
            continue
        if c == ";":
            header, header_line = "", None
            continue
        if header_line is None and not c.isspace():
            # `public:` and friends end no statement; skip them so the next declaration starts its own header
            header_line = line
        header += c
        if re.search(r"\b(public|private|protected)\s*:$", header) and not header.endswith("::"):
            header, header_line = "", None
    return found


def self_test():
    sample = '''#include <x>
namespace a {
namespace {
int helper(int x) {
  auto f = [&](int y) { return y + 1; };
  return f(x);
}
}  // namespace
struct S : B<int> {
  int x_{0};
  S(int v) : x_(v), y_{v} {
    x_ += 1;
  }
  int get() const& override { return x_; }
  void set(int v, std::vector<int> w = {}) { x_ = v; }
  bool operator==(const S& o) const noexcept { return x_ == o.x_; }
 public:
  auto tail(int v) -> std::vector<int> { return {v}; }
};
const int table[] = {1, 2, 3};
template <class T, class U = std::pair<T, T>>
T twice(T v) {
  const char* s = "}{";
  const char c = '{';
  const char* r = R"x(})x";
  return v + v + 1'000;  // }
}
}  // namespace a
'''
    got = [(n, a, b) for n, a, b in scan(sample)]
    want = [("helper", 4, 7), ("S::S", 11, 13), ("S::get", 14, 14), ("S::set", 15, 15), ("S::operator", 16, 16),
            ("S::tail", 18, 18), ("twice", 21, 27)]
    if got != want:
        print("self-test failed:\n  got  %s\n  want %s" % (got, want))
        return 1
    print("self-test passed")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dirs", nargs="*", default=list(DEFAULT_DIRS))
    p.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    p.add_argument("--max-function", type=int, default=60)
    p.add_argument("--max-file", type=int, default=500)
    p.add_argument("--allow", help="allow-list file: `path` or `path:function` a line")
    p.add_argument("--strict", action="store_true", help="a stale allow-list entry fails too")
    p.add_argument("--self-test", action="store_true")
    args = p.parse_args()
    if args.self_test:
        return self_test()

    allowed = {}
    if args.allow:
        with open(args.allow, encoding="utf-8") as f:
            for raw in f:
                entry = raw.split("#", 1)[0].strip()
                if entry:
                    allowed[entry] = False

    offenders = []  # (key, message)
    for d in args.dirs:
        top = os.path.join(args.root, d)
        if not os.path.isdir(top):
            print("long_functions: no directory %s" % top, file=sys.stderr)
            return 2
        for dirpath, _, files in sorted(os.walk(top)):
            for fname in sorted(files):
                if not fname.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(dirpath, fname)
                rel = os.path.relpath(path, args.root)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                lines = text.count("\n")
                if lines > args.max_file:
                    offenders.append((rel, "%s: %d lines (file limit %d)" % (rel, lines, args.max_file)))
                for name, first, last in scan(text):
                    length = last - first + 1
                    if length > args.max_function:
                        offenders.append(("%s:%s" % (rel, name),
                                          "%s:%d: %s: %d lines (function limit %d)" %
                                          (rel, first, name, length, args.max_function)))

    failed = False
    for key, message in offenders:
        if key in allowed:
            allowed[key] = True
            print("allowed   " + message)
        else:
            print("OFFENDER  " + message)
            failed = True
    for key, used in allowed.items():
        if not used:
            print("STALE     %s is in the allow-list but is not an offender: remove it" % key)
            failed = failed or args.strict
    if not offenders:
        print("no function over %d lines, no file over %d lines" % (args.max_function, args.max_file))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
