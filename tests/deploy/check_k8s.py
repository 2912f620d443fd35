#!/usr/bin/python3
"""Checks Kubernetes manifests against the API models of Debian's python3-kubernetes.

Every document must be a kind the models know; every field must be one the model of its place
has (a misspelt key is an error, not ignored as kubectl would without --validate=strict), of the
model's type; required fields must be there (the models' own client-side validation). Prints one
line per problem and exits 1 if there is any.

    check_k8s.py FILE...
"""
import re
import sys

import kubernetes.client as k8s
import yaml

KINDS = {
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Service"): "V1Service",
    ("v1", "Secret"): "V1Secret",
    ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("networking.k8s.io/v1", "NetworkPolicy"): "V1NetworkPolicy",
}

PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object,
              "datetime": str, "date": str}


def check(value, type_name, where, problems):
    """Checks `value` against the model type `type_name` ("V1Container", "list[str]", ...)."""
    if value is None:
        return
    m = re.fullmatch(r"list\[(.+)\]", type_name)
    if m:
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, found {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check(item, m.group(1), f"{where}[{i}]", problems)
        return
    m = re.fullmatch(r"dict\(([^,]+), (.+)\)", type_name)
    if m:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a map, found {type(value).__name__}")
            return
        for key, item in value.items():
            check(item, m.group(2), f"{where}.{key}", problems)
        return
    if type_name in PRIMITIVES:
        expected = PRIMITIVES[type_name]
        if type_name == "str" and isinstance(value, (int, float)) and not isinstance(value, bool):
            # IntOrString fields (ports, quantities) are typed str in the models.
            return
        if expected is not object and not isinstance(value, expected):
            problems.append(f"{where}: expected {type_name}, found {value!r}")
        return
    model = getattr(k8s, type_name, None)
    if model is None:
        problems.append(f"{where}: unknown model type {type_name}")
        return
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object ({type_name}), found {value!r}")
        return
    fields = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        if key not in fields:
            problems.append(f"{where}: {type_name} has no field '{key}'")
            continue
        check(item, model.openapi_types[fields[key]], f"{where}.{key}", problems)


def main(paths):
    problems = []
    client = k8s.ApiClient()
    documents = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for n, doc in enumerate(yaml.safe_load_all(f)):
                if doc is None:
                    continue
                documents += 1
                where = f"{path}#{n}"
                kind = (doc.get("apiVersion"), doc.get("kind"))
                if kind not in KINDS:
                    problems.append(f"{where}: unknown apiVersion/kind {kind}")
                    continue
                check(doc, KINDS[kind], f"{where}({kind[1]})", problems)
                try:  # required fields, enumerations: the models' own validation
                    client._ApiClient__deserialize(doc, KINDS[kind])
                except (ValueError, TypeError) as e:
                    problems.append(f"{where}: {e}")
    for p in problems:
        print(p)
    print(f"{documents} documents in {len(paths)} files, {len(problems)} problems")
    return 1 if problems or documents == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
