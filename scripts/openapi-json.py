#!/usr/bin/python3
"""Converts docs/openapi.yaml into the JSON that GET /openapi.json serves.

    /usr/bin/python3 scripts/openapi-json.py docs/openapi.yaml OUT.json

Run by the Makefile at build time (Debian's python3-yaml; the binary then
carries the JSON, see scripts/embed-ui.sh).  YAML anchors are expanded.
Refuses a mapping key that is not a string: PyYAML reads YAML 1.1, where an
unquoted 200, `on` or `yes` is a number or a boolean, while the linter
(@redocly/cli, YAML 1.2) and OpenAPI want the string; quote such keys.
"""

import json
import os
import sys

import yaml


def check_keys(node, where):
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise SystemExit("%s: key %r at %s is not a string: quote it"
                                 % (sys.argv[1], key, where or "/"))
            check_keys(value, "%s/%s" % (where, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_keys(value, "%s/%d" % (where, i))


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: %s IN.yaml OUT.json" % sys.argv[0])
    with open(sys.argv[1], "rb") as f:
        doc = yaml.safe_load(f)
    check_keys(doc, "")
    # Compact (the binary carries it), key order kept as written.
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    tmp = "%s.tmp.%d" % (sys.argv[2], os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    # Renamed into place only when complete (as scripts/embed-ui.sh does).
    os.replace(tmp, sys.argv[2])


if __name__ == "__main__":
    main()
