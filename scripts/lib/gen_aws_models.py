"""Writes the trimmed AWS service models of src/aws/api/models/ from botocore's own models.

Run through scripts/gen-aws-models (it picks the project venv's Python, where botocore is pinned).
Input: src/aws/api/models/MANIFEST, lines `service: Operation1 Operation2 ...`.
Output, per service: src/aws/api/models/<service>.json with the same structure as botocore's
service-2.json (metadata, operations, shapes) plus the operations' paginators, trimmed to what the
Rust client reads; and src/aws/api/models/index.rs, the table of models compiled into the binary.
With --check nothing is written: the exit code is 1 when a committed file differs.
"""

import json
import os
import re
import sys

import botocore
from botocore.loaders import Loader

# Protocols the Rust client speaks. When a model lists several (`protocols`), the first one listed
# that we support is used; any of them yields the same parsed output.
SUPPORTED_PROTOCOLS = ["json", "rest-json", "rest-xml", "query", "ec2"]

METADATA_KEYS = [
    "apiVersion",
    "endpointPrefix",
    "globalEndpoint",
    "jsonVersion",
    "serviceId",
    "signatureVersion",
    "signingName",
    "targetPrefix",
]
SHAPE_KEYS = {
    "document",
    "flattened",
    "jsonvalue",
    "locationName",
    "payload",
    "timestampFormat",
    "type",
    "xmlAttribute",
    "xmlNamespace",
}
REF_KEYS = {
    "flattened",
    "jsonvalue",
    "location",
    "locationName",
    "queryName",
    "shape",
    "timestampFormat",
    "xmlAttribute",
    "xmlNamespace",
}
OPERATION_INPUT_KEYS = {"shape", "locationName", "xmlNamespace"}
OPERATION_OUTPUT_KEYS = {"shape", "resultWrapper"}
PAGINATOR_KEYS = ["input_token", "output_token", "limit_key", "result_key", "more_results"]
# Token and flag expressions the Rust client evaluates: member names joined by dots.
SIMPLE_PATH = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")


class ModelError(Exception):
    pass


def read_manifest(path):
    services = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            service, sep, ops = line.partition(":")
            service = service.strip()
            if not sep or not re.fullmatch(r"[a-z0-9-]+", service):
                raise ModelError(f"{path}:{number}: expected `service: Operation ...`, got {line!r}")
            if service in services:
                raise ModelError(f"{path}:{number}: {service} is listed twice")
            services[service] = sorted(set(ops.split()))
    return services


def pick_protocol(service, metadata):
    offered = metadata.get("protocols") or [metadata["protocol"]]
    for protocol in offered:
        if protocol in SUPPORTED_PROTOCOLS:
            return protocol
    raise ModelError(f"{service}: no supported protocol among {offered}")


def trim_ref(ref, keys):
    return {k: v for k, v in ref.items() if k in keys}


def check_operation(service, name, op):
    if "endpoint" in op:
        raise ModelError(f"{service} {name}: host prefixes (`endpoint`) are not supported")


def check_shape(service, name, shape):
    for member, ref in shape.get("members", {}).items():
        if ref.get("hostLabel"):
            raise ModelError(f"{service} {name}.{member}: host labels are not supported")
        if ref.get("eventstream") or ref.get("streaming"):
            raise ModelError(f"{service} {name}.{member}: streams are not supported")
    if shape.get("eventstream") or shape.get("streaming"):
        raise ModelError(f"{service} {name}: streams are not supported")


def collect_shapes(service, shapes, roots):
    out = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in out:
            continue
        if name not in shapes:
            raise ModelError(f"{service}: shape {name} is referenced but not defined")
        shape = shapes[name]
        check_shape(service, name, shape)
        trimmed = trim_ref(shape, SHAPE_KEYS)
        if "members" in shape:
            trimmed["members"] = {
                m: trim_ref(ref, REF_KEYS) for m, ref in shape["members"].items()
            }
            pending.extend(ref["shape"] for ref in shape["members"].values())
        for key in ("member", "key", "value"):
            if key in shape:
                trimmed[key] = trim_ref(shape[key], REF_KEYS)
                pending.append(shape[key]["shape"])
        out[name] = trimmed
    return out


def check_paginator(service, name, paginator):
    for key in ("input_token", "output_token", "more_results"):
        value = paginator.get(key)
        if value is None:
            continue
        for expr in value if isinstance(value, list) else [value]:
            if not SIMPLE_PATH.match(expr):
                raise ModelError(
                    f"{service} {name}: paginator {key} {expr!r} is not a plain member path "
                    "(the client follows only dotted member names)"
                )


def build_model(loader, service, operations):
    model = loader.load_service_model(service, "service-2")
    metadata = model["metadata"]
    trimmed_meta = {k: metadata[k] for k in METADATA_KEYS if k in metadata}
    trimmed_meta["protocol"] = pick_protocol(service, metadata)
    if "awsQueryCompatible" in metadata:
        trimmed_meta["awsQueryCompatible"] = True
    if "signingName" not in trimmed_meta:
        trimmed_meta["signingName"] = metadata["endpointPrefix"]

    ops = {}
    roots = []
    for name in operations:
        if name not in model["operations"]:
            raise ModelError(f"{service}: no operation {name} in botocore {botocore.__version__}")
        op = model["operations"][name]
        check_operation(service, name, op)
        entry = {"name": name, "http": trim_ref(op["http"], {"method", "requestUri"})}
        for part, keys in (("input", OPERATION_INPUT_KEYS), ("output", OPERATION_OUTPUT_KEYS)):
            if part in op:
                entry[part] = trim_ref(op[part], keys)
                roots.append(op[part]["shape"])
        ops[name] = entry

    try:
        all_paginators = loader.load_service_model(service, "paginators-1")["pagination"]
    except Exception:  # services without paginators
        all_paginators = {}
    paginators = {}
    for name in operations:
        if name in all_paginators:
            paginator = {k: all_paginators[name][k] for k in PAGINATOR_KEYS if k in all_paginators[name]}
            check_paginator(service, name, paginator)
            paginators[name] = paginator

    return {
        "metadata": trimmed_meta,
        "operations": ops,
        "paginators": paginators,
        "shapes": collect_shapes(service, model["shapes"], roots),
    }


def render(model):
    """Sorted keys; one operation, paginator and shape per line, for readable diffs."""

    def one(value):
        return json.dumps(value, sort_keys=True, separators=(", ", ": "))

    lines = ["{"]
    sections = ["metadata", "operations", "paginators", "shapes"]
    for i, section in enumerate(sections):
        last_section = i == len(sections) - 1
        if section == "metadata":
            lines.append(f'  "metadata": {one(model["metadata"])},')
            continue
        entries = sorted(model[section].items())
        if not entries:
            lines.append(f'  "{section}": {{}}' + ("" if last_section else ","))
            continue
        lines.append(f'  "{section}": {{')
        for j, (name, value) in enumerate(entries):
            comma = "," if j < len(entries) - 1 else ""
            lines.append(f"    {json.dumps(name)}: {one(value)}{comma}")
        lines.append("  }" + ("" if last_section else ","))
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_index(services):
    lines = [
        "// Generated by scripts/gen-aws-models from MANIFEST: do not edit.",
        "",
        "/// Each service's trimmed model (JSON), by botocore service name, sorted.",
        "const MODELS: &[(&str, &str)] = &[",
    ]
    for service in sorted(services):
        lines.append(f'    ("{service}", include_str!("{service}.json")),')
    lines.append("];")
    return "\n".join(lines) + "\n"


def main(argv):
    check = argv[1:] == ["--check"]
    if argv[1:] not in ([], ["--check"]):
        print("usage: gen-aws-models [--check]", file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    models_dir = os.path.join(root, "src", "aws", "api", "models")
    try:
        manifest = read_manifest(os.path.join(models_dir, "MANIFEST"))
        loader = Loader()
        wanted = {f"{s}.json": render(build_model(loader, s, ops)) for s, ops in manifest.items()}
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    wanted["index.rs"] = render_index(manifest)

    stale = sorted(
        f for f in os.listdir(models_dir) if f.endswith(".json") and f not in wanted
    )
    changed = []
    for name, text in sorted(wanted.items()):
        path = os.path.join(models_dir, name)
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            changed.append(name)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
    if not check:
        for name in stale:
            os.remove(os.path.join(models_dir, name))
    if check and (changed or stale):
        for name in changed:
            print(f"out of date: src/aws/api/models/{name}", file=sys.stderr)
        for name in stale:
            print(f"not in MANIFEST: src/aws/api/models/{name}", file=sys.stderr)
        print(
            f"run scripts/gen-aws-models (botocore {botocore.__version__}) and commit the result",
            file=sys.stderr,
        )
        return 1
    if not check:
        for name in changed + stale:
            print(f"{'removed' if name in stale else 'wrote'} src/aws/api/models/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
