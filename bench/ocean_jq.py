#!/usr/bin/env python3
"""The mapping done the way Port's Ocean framework does it (baseline of item 1).

    python bench/ocean_jq.py --config MAPPING.yml --kind AWS::EC2::Instance INPUT.jsonl > entities.jsonl
    python bench/ocean_jq.py --config MAPPING.yml --kind AWS::EC2::Instance --jq-program > entity.jq

Ocean's entity processor (port_ocean, JQEntityProcessorSync) compiles every JQ expression of a mapping once
with the `jq` package (libjq bindings) and, per raw object, evaluates the selector query and then each
expression with `compiled.input_value(obj)`, taking the first output (none -> null). This script does exactly
that and nothing more: no asyncio tasks, thread-pool executor or per-call logging as Ocean's async processor
adds, so the baseline is, if anything, faster than Ocean itself. It reads JSON lines and writes one entity
per line, like `port-aws-sync map`.

`--jq-program` prints instead one jq program that builds the whole entity (the `jq` command-line baseline):
every expression `E` becomes `([E][0])`, i.e. its first output or null, as above.
"""

from __future__ import annotations

import argparse
import json
import sys

import yaml


def load_mapping(path: str, kind: str) -> tuple[str, dict]:
    with open(path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    for resource in config["resources"]:
        if resource["kind"] == kind:
            return resource["selector"].get("query", "true"), resource["port"]["entity"]["mappings"]
    raise SystemExit(f"{path}: no resource of kind {kind}")


FIELDS = ("identifier", "title", "blueprint", "team", "icon")


def jq_program(mappings: dict) -> str:
    def first(expr: str) -> str:
        return f"([{expr}][0])"

    parts = [f"{name}: {first(mappings[name])}" for name in FIELDS if name in mappings]
    for group in ("properties", "relations"):
        inner = ", ".join(f"{json.dumps(k)}: {first(v)}" for k, v in (mappings.get(group) or {}).items())
        parts.append(f"{group}: {{{inner}}}")
    return "{" + ", ".join(parts) + "}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--kind", default="AWS::EC2::Instance")
    parser.add_argument("--jq-program", action="store_true")
    parser.add_argument("input", nargs="?")
    args = parser.parse_args()
    query, mappings = load_mapping(args.config, args.kind)
    if args.jq_program:
        sys.stdout.write(jq_program(mappings))
        return 0

    import jq  # only the Python baseline needs libjq

    selector = jq.compile(query)
    scalars = [(name, jq.compile(mappings[name])) for name in FIELDS if name in mappings]
    groups = [(group, [(k, jq.compile(v)) for k, v in (mappings.get(group) or {}).items()])
              for group in ("properties", "relations")]

    def first(program, obj):
        return next(iter(program.input_value(obj)), None)

    out = sys.stdout
    source = open(args.input, encoding="utf-8") if args.input else sys.stdin
    mapped = 0
    with source:
        for line in source:
            if not line.strip():
                continue
            obj = json.loads(line)
            if selector.input_value(obj).first() is not True:
                continue
            entity = {name: first(program, obj) for name, program in scalars}
            for group, programs in groups:
                entity[group] = {k: first(program, obj) for k, program in programs}
            if entity.get("identifier") and entity.get("blueprint"):
                out.write(json.dumps(entity, separators=(",", ":")))
                out.write("\n")
                mapped += 1
    sys.stderr.write(f"{mapped} entities\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
