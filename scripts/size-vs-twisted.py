#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Count the code lines of the tutorial's programs and of their Twisted
counterparts (examples/twisted/), print the table of docs/tutorial/README.md
and exit 1 if a coil program is more than MAX_RATIO times as long as its
Twisted version, or if the table in the README does not show these numbers.

A code line is any line that is not blank and not only a comment, by the
same rule for both languages: C loses /* ... */ and // comments, Python
loses # comments; whatever else is left on a line makes it count.
Usage: size-vs-twisted.py [REPO_ROOT]"""
import os
import sys

MAX_RATIO = 2.5
# (label in the README table, C file, Twisted file) under examples/
PROGRAMS = [
    ("chat server (chapter 1)", "chat_server.c", "twisted/chat_server.py"),
    ("QOTD client (chapter 2)", "qotd_client.c", "twisted/qotd_client.py"),
    ("Deferred client (chapter 3)", "ask_client.c", "twisted/ask_client.py"),
    ("reconnecting client (chapter 5)", "reconnecting_client.c",
     "twisted/reconnecting_client.py"),
]


def c_code_lines(text):
    """Lines with something left once comments are removed (strings and
    character literals are skipped so a "/*" inside them is not a comment)."""
    count, in_block = 0, False
    for line in text.splitlines():
        code, i, quote = [], 0, None
        while i < len(line):
            ch, nxt = line[i], line[i:i + 2]
            if in_block:
                if nxt == "*/":
                    in_block, i = False, i + 2
                else:
                    i += 1
            elif quote:
                code.append(ch)
                if ch == "\\":
                    code.append(line[i + 1:i + 2])
                    i += 1
                elif ch == quote:
                    quote = None
                i += 1
            elif nxt == "/*":
                in_block, i = True, i + 2
            elif nxt == "//":
                break
            else:
                if ch in "\"'":
                    quote = ch
                code.append(ch)
                i += 1
        if "".join(code).strip():
            count += 1
    return count


def python_code_lines(text):
    return sum(1 for line in text.splitlines()
               if line.strip() and not line.strip().startswith("#"))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    examples = os.path.join(root, "examples")
    with open(os.path.join(root, "docs", "tutorial", "README.md")) as f:
        readme = f.read()
    failed = False
    print("| program | Twisted | coil | ratio |")
    print("|---|---|---|---|")
    for label, c_file, py_file in PROGRAMS:
        with open(os.path.join(examples, c_file)) as f:
            coil = c_code_lines(f.read())
        with open(os.path.join(examples, py_file)) as f:
            twisted = python_code_lines(f.read())
        ratio = coil / twisted
        row = "| %s | %d | %d | %.2f |" % (label, twisted, coil, ratio)
        print(row)
        if ratio > MAX_RATIO:
            print("  too long: %s has %d code lines, at most %d (%.1fx %s's %d)"
                  % (c_file, coil, int(MAX_RATIO * twisted), MAX_RATIO, py_file, twisted),
                  file=sys.stderr)
            failed = True
        if row not in readme:
            print("  docs/tutorial/README.md does not have the row: %s" % row, file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
