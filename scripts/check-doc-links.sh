#!/usr/bin/env bash
# Checks the references of README.md and docs/*.md: every relative Markdown
# link names a file that exists (and a #fragment names a heading of it, by
# GitHub's anchor rules), and every path in backquotes that starts with one
# of the tree's folders names something that exists.  Prints one
# pg_regress-style line that scripts/test.sh counts, and the broken
# references; exits non-zero when there are any.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

exec python3 - "$root" <<'PY'
import glob, os, re, sys

root = sys.argv[1]
files = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
FOLDERS = ("src", "worker", "sql", "t", "bench", "scripts", "fuzz", "schemas",
           "demo", "docs", "expected", "debian")
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`]+)`")


def prose_lines(path):
    """The lines outside fenced code blocks, with their numbers."""
    fenced = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if not fenced:
                yield n, line


def anchors(path):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to
    hyphens, a repeated anchor numbered -1, -2, ..."""
    seen, out = {}, set()
    for _, line in prose_lines(path):
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = LINK.sub(r"\1", m.group(1)).replace("`", "").replace("*", "")
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


broken = []
cache = {}
for md in files:
    rel_md = os.path.relpath(md, root)
    for n, line in prose_lines(md):
        for target in (m.group(2) for m in LINK.finditer(CODE.sub("", line))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue                        # https:, mailto: ...
            path, _, fragment = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(md), path)) if path else md
            if not os.path.exists(dest):
                broken.append(f"{rel_md}:{n}: link to {target}: no such file")
            elif fragment and dest.endswith(".md"):
                if dest not in cache:
                    cache[dest] = anchors(dest)
                if fragment not in cache[dest]:
                    broken.append(f"{rel_md}:{n}: link to {target}: no such heading")
        for token in CODE.findall(line):
            if not re.fullmatch(r"(%s)/\S*" % "|".join(FOLDERS), token) or re.search(r"[{}<>]", token):
                continue
            hits = glob.glob(os.path.join(root, token)) if re.search(r"[*?\[]", token) \
                else [token] if os.path.exists(os.path.join(root, token)) else []
            if not hits:
                broken.append(f"{rel_md}:{n}: `{token}`: no such file in the tree")

if broken:
    print("test doc_links ... FAILED")
    print("\n".join(broken))
    sys.exit(1)
print("test doc_links ... ok")
PY
