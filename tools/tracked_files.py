"""The loop tools/doxygen_comments.py and tools/rewrite_includes.py share: each git-tracked file that matches the
patterns and the filter is read as lines, transformed, and written back if it changed (or only listed, with
--check); returns the exit status (1 when --check found a file to change)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rewrite_tracked(patterns, keep, transform, verbs):
    """patterns: git ls-files globs; keep(rel) -> bool; transform(lines, rel) -> lines; verbs: ("to convert",
    "converted"), the summary's words for --check and for a real run."""
    check = "--check" in sys.argv[1:]
    files = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, check=True, capture_output=True,
                           text=True).stdout.split()
    changed = 0
    for rel in filter(keep, files):
        path = os.path.join(ROOT, rel)
        with open(path, encoding="utf-8") as f:
            old = f.read().split("\n")
        new = transform(old, rel)
        if new != old:
            changed += 1
            print(rel)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write("\n".join(new))
    print(f"{changed} file(s) {verbs[0] if check else verbs[1]}", file=sys.stderr)
    return 1 if check and changed else 0
