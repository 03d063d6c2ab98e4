#!/usr/bin/env python3
"""Generates apiserver/src/k8s/protobuf/table.rs, the field table the protobuf
request-body decoder walks.

Reads the prost structs of the `k8s-pb` crate (every Kubernetes protobuf
message, with `#[prost(kind, label, tag = "N")]` attributes and snake_case
field names) and recovers each field's exact Kubernetes JSON name from the
`"jsonName" => Field::Key_snake` deserializer arms of `k8s-openapi` (matching
lowercase names without underscores). Only messages reachable from the
top-level kinds of the API groups in GROUPS (plus the meta/v1 option kinds)
are emitted.

Usage (stdlib only):
    python3 apiserver/scripts/gen_protobuf_table.py [--k8s-pb DIR] [--k8s-openapi DIR] [-o FILE]
Defaults look the crates up in ~/.cargo/registry/src/*/. Fields whose JSON
name could not be recovered from k8s-openapi are listed on stderr.
"""

import argparse
import glob
import os
import re
import sys

K8S_PB_VERSION = "0.9.0"
K8S_OPENAPI_VERSION = "0.29.0"
K8S_OPENAPI_FEATURE = "v1_33"

# k8s-pb module directories (relative to its src/) whose top-level kinds are decodable.
GROUPS = [
    "api/core/v1",
    "api/apps/v1",
    "api/batch/v1",
    "api/coordination/v1",
    "api/discovery/v1",
    "api/events/v1",
    "api/policy/v1",
    "api/rbac/v1",
    "api/authorization/v1",
    "api/authentication/v1",
    "api/autoscaling/v1",
    "api/autoscaling/v2",
    "api/storage/v1",
    "api/scheduling/v1",
]

# Subresource kinds sent as request bodies that k8s-pb does not mark as `Resource`.
EXTRA_KINDS = [
    ("api/authentication/v1", "TokenRequest"),
    ("api/policy/v1", "Eviction"),
    ("api/autoscaling/v1", "Scale"),
]

META = "apimachinery/pkg/apis/meta/v1"
# meta/v1 kinds that every group version registers (sent e.g. as DELETE bodies): any apiVersion.
ANY_VERSION_KINDS = ["DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions"]

# Messages with a non-object JSON form; the decoder handles them by hand.
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "FieldsV1",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Verbs": "StringList",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawExtension",
}
# Any message named ExtraValue (authentication, authorization, certificates) is a []string.
SPECIAL_BY_SHORT_NAME = {"ExtraValue": "StringList"}

# Optional `*string` fields (Go) where "" differs from absent: never omit an empty value.
KEEP_EMPTY_STRING = {
    ("k8s.io.api.core.v1.PersistentVolumeClaimSpec", "storageClassName"),
    ("k8s.io.api.core.v1.PersistentVolumeClaimSpec", "volumeAttributesClassName"),
    ("k8s.io.api.core.v1.PersistentVolumeSpec", "volumeAttributesClassName"),
}
# Non-pointer Go scalars with `omitempty` whose zero the decoder drops: ObjectMeta's, and the
# API types' listed in omit_zero_fields.txt (extracted from kubernetes/api's types.go).
OMIT_ZERO = {
    ("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", "generation"),
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "omit_zero_fields.txt")) as _f:
    for _line in _f:
        if _line.strip() and not _line.startswith("#"):
            OMIT_ZERO.add(tuple(_line.split()))

SCALAR = {"string": "Str", "bool": "Bool", "int32": "I32", "int64": "I64", "double": "F64", "bytes": "Bytes"}

ATTR_RE = re.compile(r'#\[prost\((.*)\)\]\s*$')
STRUCT_RE = re.compile(r'^pub struct (\w+) \{')
FIELD_RE = re.compile(r'^\s*pub (r#)?(\w+):(.*)$')
RESOURCE_RE = re.compile(r'^impl crate::Resource for (\w+) \{')
CONST_RE = re.compile(r'const (API_VERSION|KIND): &\'static str = "([^"]*)";')


def registry_dir(crate):
    hits = sorted(glob.glob(os.path.expanduser(f"~/.cargo/registry/src/*/{crate}/src")))
    if not hits:
        sys.exit(f"cannot find {crate} in ~/.cargo/registry/src; pass its src directory explicitly")
    return hits[-1]


def norm(name):
    return name.replace("_", "").lower()


def proto_name(mod, name):
    return "k8s.io." + mod.replace("/", ".") + "." + name


class PbField:
    def __init__(self, name, tag, kind, label, type_text, doc):
        self.name, self.tag, self.kind, self.label, self.type_text, self.doc = name, tag, kind, label, type_text, doc


def parse_k8s_pb_module(path, mod):
    """Returns ({struct: [PbField]}, [(api_version, kind)]) of one k8s-pb mod.rs."""
    structs, kinds = {}, []
    lines = open(path, encoding="utf-8").read().split("\n")
    i, cur, attr, doc = 0, None, None, []
    while i < len(lines):
        line = lines[i]
        m = STRUCT_RE.match(line)
        if m:
            cur = m.group(1)
            structs[cur] = []
            i += 1
            continue
        if cur is not None and line == "}":
            cur = None
        r = RESOURCE_RE.match(line)
        if r:
            consts = {}
            for j in range(i + 1, min(i + 8, len(lines))):
                c = CONST_RE.search(lines[j])
                if c:
                    consts[c.group(1)] = c.group(2)
            kinds.append((consts.get("API_VERSION"), r.group(1), consts.get("KIND")))
        if cur is not None:
            s = line.strip()
            if s.startswith("///"):
                doc.append(s[3:].strip())
            a = ATTR_RE.search(line)
            if a:
                attr = a.group(1)
            f = FIELD_RE.match(line)
            if f and attr is not None:
                text = f.group(3)
                while not (text.rstrip().endswith(",") and text.count("<") == text.count(">")):
                    i += 1
                    text += lines[i].strip()
                structs[cur].append(parse_field(f.group(2), attr, text, doc))
                attr, doc = None, []
        i += 1
    return structs, kinds


def parse_field(name, attr, type_text, doc):
    tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
    m = re.match(r'btree_map = "(\w+), (\w+)"', attr)
    if m:
        return PbField(name, tag, ("map", m.group(1), m.group(2)), "map", type_text, doc)
    kind = re.match(r'(\w+)', attr).group(1)
    label = "repeated" if ", repeated" in attr else "optional"
    return PbField(name, tag, kind, label, type_text, doc)


def resolve(mod, type_text, last_generic):
    """Resolves the message type of a field's Rust type to (module, struct)."""
    t = re.sub(r"\s+", "", type_text).rstrip(",").replace(",>", ">")
    inner = re.sub(r"^(::core::option::Option|::prost::alloc::vec::Vec)<(.*)>$", r"\2", t)
    if last_generic:
        inner = re.match(r"^::prost::alloc::collections::BTreeMap<(.*)>$", t).group(1).split(",", 1)[1]
    parts = inner.split("::")
    if parts[0] == "crate":
        return "/".join(parts[1:-1]), parts[-1]
    base = mod.split("/")
    while parts and parts[0] == "super":
        base.pop()
        parts.pop(0)
    return "/".join(base + parts[:-1]), parts[-1]


def parse_openapi(root):
    """Returns ({(module, lowercase struct): [(json names, optional json names)] per version},
    {module: {normalised name: {json names}}}) from k8s-openapi. OPENAPI_FEATURE comes first
    (its optionality is what the server targets), then newer-to-older versions so that fields
    k8s-pb has but OPENAPI_FEATURE lacks still get their names."""
    out, by_mod = {}, {}
    versions = sorted((d for d in os.listdir(root) if re.fullmatch(r"v1_\d+", d)),
                      key=lambda d: (d != K8S_OPENAPI_FEATURE, -int(d[3:])))
    for version in versions:
        for path in glob.glob(os.path.join(root, version, "**", "*.rs"), recursive=True):
            text = open(path, encoding="utf-8").read()
            m = re.search(r"^pub struct (\w+) \{(.*?)^\}", text, re.M | re.S)
            if not m:
                continue
            mod = os.path.relpath(os.path.dirname(path), os.path.join(root, version))
            optional_rust = set(re.findall(r"^    pub (?:r#)?(\w+): Option<", m.group(2), re.M))
            json, opt = [], set()
            for jname, rname in re.findall(r'^\s*"([^"]+)" => Field::Key_(\w+),', text, re.M):
                json.append(jname)
                if rname in optional_rust:
                    opt.add(jname)
                by_mod.setdefault(mod, {}).setdefault(norm(jname), set()).add(jname)
            out.setdefault((mod, m.group(1).lower()), []).append((json, opt))
    return out, by_mod


def camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k8s-pb", default=None)
    ap.add_argument("--k8s-openapi", default=None)
    ap.add_argument("-o", "--output", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src", "k8s", "protobuf", "table.rs"))
    args = ap.parse_args()
    pb_root = args.k8s_pb or registry_dir(f"k8s-pb-{K8S_PB_VERSION}")
    oa_root = args.k8s_openapi or registry_dir(f"k8s-openapi-{K8S_OPENAPI_VERSION}")

    structs, kinds_by_mod = {}, {}
    for path in glob.glob(os.path.join(pb_root, "**", "mod.rs"), recursive=True):
        mod = os.path.relpath(os.path.dirname(path), pb_root)
        s, k = parse_k8s_pb_module(path, mod)
        for name, fields in s.items():
            structs[(mod, name)] = fields
        kinds_by_mod[mod] = k
    openapi, openapi_names = parse_openapi(oa_root)

    top = []  # (api_version, kind, (mod, struct))
    for mod in GROUPS:
        for api_version, struct, kind in kinds_by_mod.get(mod, []):
            top.append((api_version, kind, (mod, struct)))
        for emod, struct in EXTRA_KINDS:
            if emod == mod:
                av = mod.split("/")[2]
                group = {"core": ""}.get(mod.split("/")[1], mod.split("/")[1] + (
                    ".k8s.io" if mod.split("/")[1] not in ("apps", "batch", "policy", "autoscaling") else ""))
                top.append((f"{group}/{av}" if group else av, struct, (mod, struct)))
    for kind in ANY_VERSION_KINDS:
        top.append(("*", kind, (META, kind)))

    # Breadth-first over the reachable messages.
    order, index, queue = [], {}, [key for _, _, key in top]
    while queue:
        key = queue.pop(0)
        if key in index:
            continue
        if key not in structs:
            sys.exit(f"unknown message {key}")
        index[key] = len(order)
        order.append(key)
        if special_of(key):
            continue
        for f in structs[key]:
            if f.kind == "message":
                queue.append(resolve(key[0], f.type_text, False))
            elif isinstance(f.kind, tuple) and f.kind[2] == "message":
                queue.append(resolve(key[0], f.type_text, True))

    unmapped, out = [], []
    nfields = 0
    for key in order:
        mod, name = key
        pname = proto_name(mod, name)
        special = special_of(key)
        rust_path = mod.replace("/", "::") + "::" + name
        out.append(f"    // {index[key]}: {rust_path}")
        if special:
            out.append(f'    Message {{ name: "{pname}", special: Special::{special}, fields: &[] }},')
            continue
        oa = openapi.get((mod, name.lower()))
        out.append(f'    Message {{ name: "{pname}", special: Special::None, fields: &[')
        for f in sorted(structs[key], key=lambda f: f.tag):
            json, optional, inline = None, True, False
            for names_opt in oa or []:
                hits = [j for j in names_opt[0] if norm(j) == norm(f.name)]
                if len(hits) == 1:
                    json, optional = hits[0], hits[0] in names_opt[1]
                    break
            if json is None and oa:
                if f.kind == "message":
                    # A Go embedded struct (e.g. LocalObjectReference, ProbeHandler, VolumeSource):
                    # inlined in JSON, recognisable because the parent has all the child's names.
                    child = structs[resolve(mod, f.type_text, False)]
                    names = {norm(j) for names_opt in oa for j in names_opt[0]}
                    inline = bool(child) and all(norm(c.name) in names for c in child)
                    if inline:
                        json = ""
            if json is None:
                # No own k8s-openapi struct (embedded-only, or options kinds): any unique name in the module.
                cands = openapi_names.get(mod, {}).get(norm(f.name), set())
                if len(cands) == 1:
                    json = next(iter(cands))
            if json is None:
                first = f.doc[0].split(" ")[0] if f.doc else ""
                json = first if norm(first) == norm(f.name) and first[:1].islower() else camel(f.name)
                unmapped.append(f"{pname}.{f.name} -> {json}")
            if isinstance(f.kind, tuple):
                _, _, v = f.kind
                kind = {"string": "MapStr", "bytes": "MapBytes"}.get(v)
                if kind is None:
                    kind = f"MapMsg({index[resolve(mod, f.type_text, True)]})"
            elif f.kind == "message":
                kind = f"Msg({index[resolve(mod, f.type_text, False)]})"
            else:
                kind = SCALAR[f.kind]
            flags = []
            if f.label == "repeated":
                flags.append("REPEATED")
            if inline:
                flags.append("INLINE")
            if optional and f.kind == "string" and f.label != "repeated" and (pname, json) not in KEEP_EMPTY_STRING:
                flags.append("OMIT_EMPTY")
            if (pname, json) in OMIT_ZERO and f.label != "repeated":
                flags.append("OMIT_EMPTY")
            flag = " | ".join(flags) or "0"
            out.append(f'        f({f.tag}, "{json}", {kind}, {flag}),')
            nfields += 1
        out.append("    ] },")

    tops = []
    for api_version, kind, key in sorted(top, key=lambda t: (t[0], t[1])):
        tops.append(f'    TopLevel {{ api_version: "{api_version}", kind: "{kind}", message: {index[key]} }},')

    header = f"""//! Generated field table of the Kubernetes protobuf messages the request-body decoder knows.
//!
//! GENERATED FILE, DO NOT EDIT. Produced by `apiserver/scripts/gen_protobuf_table.py` from
//! k8s-pb {K8S_PB_VERSION} (message layouts) and k8s-openapi {K8S_OPENAPI_VERSION} (JSON names; optionality from {K8S_OPENAPI_FEATURE}).
//! {len(order)} messages, {nfields} fields, {len(top)} top-level kinds. Re-run the script to update.

use super::schema::{{f, Kind::*, Message, Special, TopLevel, INLINE, OMIT_EMPTY, REPEATED}};

/// Every known message; `Msg(n)` / `MapMsg(n)` refer to `MESSAGES[n]`. Fields are sorted by tag.
#[rustfmt::skip]
pub(crate) static MESSAGES: &[Message] = &[
"""
    body = header + "\n".join(out) + "\n];\n\n"
    body += "/// Top-level kinds by (apiVersion, kind), sorted; apiVersion `*` matches any version.\n"
    body += "#[rustfmt::skip]\n"
    body += "pub(crate) static TOP_LEVEL: &[TopLevel] = &[\n" + "\n".join(tops) + "\n];\n"
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(body)
    for u in unmapped:
        print(f"unmapped (guessed): {u}", file=sys.stderr)
    print(f"wrote {args.output}: {len(order)} messages, {nfields} fields, {len(top)} kinds, "
          f"{len(unmapped)} unmapped", file=sys.stderr)


def special_of(key):
    mod, name = key
    return SPECIAL.get(proto_name(mod, name)) or SPECIAL_BY_SHORT_NAME.get(name)


if __name__ == "__main__":
    main()
