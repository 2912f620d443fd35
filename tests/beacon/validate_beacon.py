#!/usr/bin/python3
"""Checks JSON documents against the GA4GH Beacon v2 JSON Schemas (draft 2020-12).

    validate_beacon.py SPEC_ROOT SCHEMA DOCUMENT [SCHEMA DOCUMENT ...]

SPEC_ROOT is the beacon-v2 folder (../shared/specs/beacon-v2); each SCHEMA is a path under it,
optionally with a JSON pointer after '#'. The schemas refer to each other by relative file
names, and to their published copies on raw.githubusercontent.com: both are read from
SPEC_ROOT, nothing from the network. Formats (uri, ...) are checked. Prints one line per
document and exits 0 when every document is valid, 1 when one is not, 2 when a schema cannot
be read. Uses Debian's python3-jsonschema (RefResolver, jsonschema 4.10).
"""
import json
import os
import sys
import urllib.parse

from jsonschema import Draft202012Validator, RefResolver

PUBLISHED = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/"


def main(argv):
    if len(argv) < 4 or len(argv) % 2 != 0:
        print(__doc__, file=sys.stderr)
        return 2
    root = os.path.realpath(argv[1])
    cache = {}

    def load(uri):
        uri = urllib.parse.urldefrag(uri)[0]
        if uri.startswith(PUBLISHED):
            # <branch>/<path>: the local tree stands for every branch.
            path = os.path.join(root, uri[len(PUBLISHED):].split("/", 1)[1])
        elif uri.startswith("file://"):
            path = urllib.parse.unquote(uri[len("file://"):])
        else:
            raise OSError("a schema outside the specification: " + uri)
        if path not in cache:
            with open(path, encoding="utf-8") as f:
                cache[path] = json.load(f)
        return cache[path]

    handlers = {"file": load, "https": load, "http": load}
    failed = False
    for schema_arg, document in zip(argv[2::2], argv[3::2]):
        path, _, pointer = schema_arg.partition("#")
        uri = "file://" + urllib.parse.quote(os.path.join(root, path))
        try:
            load(uri)
        except (OSError, ValueError) as e:
            print("ERROR %s: %s" % (schema_arg, e))
            return 2
        wrapper = {"$ref": uri + ("#" + pointer if pointer else "")}
        # The wrapper has no address of its own, so each $ref resolves against the file that
        # holds it.
        resolver = RefResolver(base_uri="", referrer=wrapper, handlers=handlers)
        validator = Draft202012Validator(
            wrapper, resolver=resolver, format_checker=Draft202012Validator.FORMAT_CHECKER)
        with open(document, encoding="utf-8") as f:
            instance = json.load(f)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            failed = True
            print("INVALID %s against %s" % (document, schema_arg))
            for e in errors[:10]:
                where = "/".join(str(p) for p in e.absolute_path) or "(top)"
                print("  at %s: %s" % (where, e.message[:300]))
        else:
            print("valid %s against %s" % (document, schema_arg))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
