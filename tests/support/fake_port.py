#!/usr/bin/env python3
"""A strict, in-memory fake of the Port (getport.io) REST API, for tests.

Usage:
    python tests/support/fake_port.py --port 0 --client-id ID --client-secret SECRET \
        [--openapi PATH] [--quiet]

Prints exactly one line ``LISTENING <port>`` on stdout when ready. Logs go to stderr.
The contract it follows is /work/shared/reference/port-api.md (section 9 is the checklist).
Every /v1 request body is validated against Port's OpenAPI 3.1 document; violations answer 422
and are recorded in ``schema_violations`` so tests can assert there were none.

Control API (no auth, not under /v1):
    GET  /_fake/state    blueprints, entities (with meta), integrations, requests, schema_violations, token_requests
    GET  /_fake/config   current settings
    POST /_fake/config   merge settings (rate_limit_429, retry_after, seed, expire_tokens, entity_failures, ...)
    POST /_fake/inject   add a fault: {method, path_regex, status, count, body, headers, delay, close}
    POST /_fake/seed     preload {blueprints: [...], entities: [{blueprint, entity, datasource}],
                         integrations: [{identifier, config?, ...}]}
    POST /_fake/reset    drop all state and settings
"""

from __future__ import annotations

import argparse
import base64
import copy
import gzip
import ipaddress
import json
import math
import random
import re
import secrets
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OPENAPI = Path(__file__).resolve().parent / "port-openapi.json"  # copy of Port's published OpenAPI 3.1 spec
SPEC_URI = "urn:port-openapi"
MAX_BODY = 1024 * 1024  # "The body of all requests is limited to 1 MiB"

# ----------------------------------------------------------------------------------------------
# Regexes and formats. Port's patterns use \p{L} (any Unicode letter), which Python's `re`
# lacks; a character class containing it becomes (?:[rest]|[^\W\d_]).
# ----------------------------------------------------------------------------------------------
_LETTER = r"[^\W\d_]"


def translate_pattern(pattern: str) -> str:
    if r"\p{L}" not in pattern:
        return pattern
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i:i + 2])
            i += 2
        elif ch == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            body = pattern[i + 1:j]
            if r"\p{L}" in body and not body.startswith("^"):
                rest = body.replace(r"\p{L}", "")
                out.append(f"(?:[{rest}]|{_LETTER})" if rest else _LETTER)
            else:
                out.append(pattern[i:j + 1])
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out).replace(r"\p{L}", _LETTER)


_REGEX_CACHE: dict[str, re.Pattern] = {}


def port_regex(pattern: str) -> re.Pattern:
    compiled = _REGEX_CACHE.get(pattern)
    if compiled is None:
        compiled = _REGEX_CACHE[pattern] = re.compile(translate_pattern(pattern))
    return compiled


ENTITY_ID_PATTERN = r"^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/=-]+$"
BLUEPRINT_ID_PATTERN = r"^(?!\.{1,2}$)[\p{L}0-9@_.+:\\/-]+$"
PROPERTY_ID_PATTERN = r"^[A-Za-z0-9@_=\-]+$"


def valid_entity_id(value) -> bool:
    return isinstance(value, str) and len(value) <= 1000 and bool(port_regex(ENTITY_ID_PATTERN).search(value))


def valid_blueprint_id(value) -> bool:
    return isinstance(value, str) and len(value) <= 100 and bool(port_regex(BLUEPRINT_ID_PATTERN).search(value))


_DATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_datetime(value):
    """RFC 3339 date-time (timezone required) -> aware datetime, else None."""
    if not isinstance(value, str) or not _DATE_TIME_RE.match(value):
        return None
    text = value.replace("z", "Z").replace("t", "T")
    text = text[:-1] + "+00:00" if text.endswith("Z") else text
    if "." in text:  # fromisoformat (3.11) accepts at most microseconds
        head, _, tail = text.partition(".")
        digits = re.match(r"\d+", tail).group(0)
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits):]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("date-time")
@FORMAT_CHECKER.checks("timer")
def _check_datetime(value) -> bool:
    return not isinstance(value, str) or parse_datetime(value) is not None


@FORMAT_CHECKER.checks("url")
def _check_url(value) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc) and " " not in value


@FORMAT_CHECKER.checks("email")
@FORMAT_CHECKER.checks("idn-email")
def _check_email(value) -> bool:
    return not isinstance(value, str) or bool(re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value))


@FORMAT_CHECKER.checks("ipv4")
@FORMAT_CHECKER.checks("ipv6")
def _check_ip(value) -> bool:
    if not isinstance(value, str):
        return True
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def _pattern_keyword(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not port_regex(pattern).search(instance):
        yield ValidationError(f"{_short(instance)} does not match {pattern!r}")


def _pattern_properties_keyword(validator, patterns, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if port_regex(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


PortValidator = validators.extend(
    Draft202012Validator, {"pattern": _pattern_keyword, "patternProperties": _pattern_properties_keyword}
)


def _short(value, limit=200) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def error_message(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    message = error.message
    if len(message) > 300:  # the default message embeds the whole (possibly huge) instance
        message = (f"{_short(error.instance, 120)} failed {error.validator!r}: "
                   f"{_short(error.validator_value, 120)}")
    return f"body/{where}: {message}" if where else f"body: {message}"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PortError(Exception):
    def __init__(self, status: int, error: str, message: str, details=None):
        super().__init__(message)
        self.status, self.error, self.message, self.details = status, error, message, details

    def body(self) -> dict:
        body = {"ok": False, "error": self.error, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


# ----------------------------------------------------------------------------------------------
# OpenAPI document: routes, parameter specs and cached request-body validators.
# ----------------------------------------------------------------------------------------------
# Routes Port's own clients use that the public spec lacks (port-api.md §0.1).
INTERNAL_ROUTES = {
    "/v1/integration": {"post": {"parameters": [
        {"in": "query", "name": "upsert", "schema": {"type": "boolean"}},
        {"in": "query", "name": "integration_modes", "schema": {"type": "array", "items": {"type": "string"}}}],
        "x-body-schema": {"type": "object", "required": ["installationId"], "additionalProperties": True,
                          "properties": {"installationId": {"type": "string", "minLength": 1},
                                         "installationAppType": {"type": "string"}, "title": {"type": "string"},
                                         "version": {"type": "string"}, "config": {"type": ["object", "null"]},
                                         "changelogDestination": {"type": "object"}}}}},
    "/v1/blueprints/entities/datasource-entities": {"post": {"parameters": [],
        "x-body-schema": {"type": "object", "additionalProperties": False,
                          "properties": {"datasource_prefix": {"type": "string"}, "datasource_suffix": {"type": "string"},
                                         "limit": {"type": "integer", "minimum": 1, "maximum": 10000},
                                         "before": {"type": "string", "format": "date-time"},
                                         "from": {"type": "string"}}}}},
}


class OpenApi:
    def __init__(self, path: Path):
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        self._fix_nullable(doc)
        self.doc = doc
        self.registry = Registry().with_resource(SPEC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
        self._validators: dict = {}
        self._lock = threading.Lock()
        self.routes = []  # (regex, template, {method: op}, internal)
        for template, item in list(INTERNAL_ROUTES.items()) + list(doc["paths"].items()):
            ops = {m.upper(): op for m, op in item.items() if m in ("get", "post", "put", "patch", "delete")}
            regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")
            self.routes.append((regex, template, ops, template in INTERNAL_ROUTES))
        # Literal segments win over parameters (e.g. .../entities/bulk vs .../entities/{id}).
        self.routes.sort(key=lambda r: (not r[3], r[1].count("{"), -len(r[1])))

    @staticmethod
    def _fix_nullable(node):
        """OpenAPI 3.0 leftovers: `nullable: true` means the type also admits null."""
        if isinstance(node, dict):
            if node.get("nullable") is True and isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
            for value in node.values():
                OpenApi._fix_nullable(value)
        elif isinstance(node, list):
            for value in node:
                OpenApi._fix_nullable(value)

    def match(self, method: str, raw_path: str):
        """-> (template, op, path params) ; (template, None, {}) if only the method is wrong ; None."""
        path_hit = None
        for regex, template, ops, _ in self.routes:
            m = regex.match(raw_path)
            if not m:
                continue
            if method in ops:
                return template, ops[method], {k: unquote(v) for k, v in m.groupdict().items()}
            path_hit = path_hit or (template, None, {})
        return path_hit

    def body_validator(self, template: str, method: str):
        key = (template, method)
        with self._lock:
            if key in self._validators:
                return self._validators[key]
            op = (INTERNAL_ROUTES.get(template) or self.doc["paths"][template])[method.lower()]
            validator = None
            if "x-body-schema" in op:
                validator = PortValidator(op["x-body-schema"], format_checker=FORMAT_CHECKER)
            elif op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema") is not None:
                pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in
                                   ["paths", template, method.lower(), "requestBody", "content", "application/json", "schema"])
                validator = PortValidator({"$ref": f"{SPEC_URI}#/{pointer}"}, registry=self.registry,
                                          format_checker=FORMAT_CHECKER)
            self._validators[key] = validator
            return validator

    def validator_for(self, schema: dict):
        return PortValidator(schema, registry=self.registry, format_checker=FORMAT_CHECKER)


# ----------------------------------------------------------------------------------------------
# Search: rule evaluation and projection.
# ----------------------------------------------------------------------------------------------
META = {"$identifier": "identifier", "$title": "title", "$icon": "icon", "$team": "team", "$blueprint": "blueprint",
        "$datasource": "datasource", "$createdAt": "createdAt", "$updatedAt": "updatedAt",
        "$createdBy": "createdBy", "$updatedBy": "updatedBy"}


class Unsupported(Exception):
    pass


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _compare(left, right, op) -> bool:
    if left is None or right is None:
        return False
    if isinstance(right, str):
        left_dt, right_dt = parse_datetime(left), parse_datetime(right)
        if left_dt is None or right_dt is None:
            return False
        left, right = left_dt, right_dt
    elif isinstance(left, bool) or not isinstance(left, (int, float)):
        return False
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]


def _contains(value, needle) -> bool:
    if isinstance(value, str):
        return isinstance(needle, str) and needle in value
    if isinstance(value, list):
        return needle in value
    return False


def apply_operator(op: str, value, target) -> bool:
    if op == "=":
        if isinstance(target, dict):
            return apply_operator("between", value, target)
        return target in value if isinstance(value, list) else value == target
    if op == "!=":
        return not apply_operator("=", value, target)
    if op in ("in", "notIn"):
        targets = _as_list(target)
        hit = any(v in targets for v in value) if isinstance(value, list) else value in targets
        return hit if op == "in" else not hit
    if op == "contains":
        return _contains(value, target)
    if op == "doesNotContains":
        return not _contains(value, target)
    if op == "containsAny":
        return any(_contains(value, t) for t in _as_list(target))
    if op in ("beginsWith", "doesNotBeginsWith", "endsWith", "doesNotEndsWith"):
        hit = isinstance(value, str) and isinstance(target, str) and (
            value.startswith(target) if "egins" in op else value.endswith(target))
        return hit if not op.startswith("doesNot") else not hit
    if op in ("isEmpty", "isNotEmpty"):
        empty = value is None or value == "" or value == [] or value == {}
        return empty if op == "isEmpty" else not empty
    if op in (">", ">=", "<", "<="):
        return _compare(value, target, op)
    if op in ("between", "notBetween"):
        if not isinstance(target, dict) or "from" not in target:
            raise Unsupported(f"date presets are not supported by the fake: {_short(target)}")
        hit = _compare(value, target["from"], ">=") and _compare(value, target["to"], "<=")
        return hit if op == "between" else not hit
    if op in ("isExpired", "isNotExpired"):
        moment = parse_datetime(value)
        expired = moment is not None and moment <= datetime.now(timezone.utc)
        return expired if op == "isExpired" else not expired
    raise Unsupported(f"operator {op!r} is not supported by the fake")


class Matcher:
    """Evaluates Port search queries against stored entities (needs the store for relation titles)."""

    def __init__(self, store: "Store"):
        self.store = store

    def matches(self, query: dict, entity: dict) -> bool:
        rules = query.get("rules", [])
        if not rules:
            return True
        results = (self.rule(r, entity) for r in rules)
        return all(results) if query.get("combinator", "and") == "and" else any(results)

    def rule(self, rule: dict, entity: dict) -> bool:
        if "combinator" in rule:
            return self.matches(rule, entity)
        op = rule.get("operator")
        if op == "relatedTo":
            return self.related_to(rule, entity)
        if "relation" in rule:
            value = entity["relations"].get(rule["relation"])
            if rule.get("targetProperty") == "$title" and value is not None:
                target_bp = self.store.blueprints.get(entity["blueprint"], {}).get("relations", {}).get(
                    rule["relation"], {}).get("target")
                titles = [self.store.entities.get(target_bp, {}).get(v, {}).get("title") for v in _as_list(value)]
                value = titles if isinstance(value, list) else titles[0]
            return apply_operator(op, value, rule.get("value"))
        prop = rule.get("property")
        if not isinstance(prop, str):
            raise Unsupported(f"rule is not supported by the fake: {_short(rule)}")
        return apply_operator(op, self.value_of(entity, prop), rule.get("value"))

    @staticmethod
    def value_of(entity: dict, prop: str):
        if prop in META:
            return entity.get(META[prop])
        if prop in entity["properties"]:
            return entity["properties"][prop]
        return entity["relations"].get(prop)

    def related_to(self, rule: dict, entity: dict) -> bool:
        """Direct relations only: upstream = the given entities point at this one; downstream = this one
        points at them; no direction = either."""
        bp, ids = rule["blueprint"], set(_as_list(rule["value"]))
        direction = rule.get("direction")
        if direction in (None, "downstream"):
            rels = self.store.blueprints.get(entity["blueprint"], {}).get("relations", {})
            for name, rel in rels.items():
                if rel.get("target") == bp and ids & set(_as_list(entity["relations"].get(name) or [])):
                    return True
        if direction in (None, "upstream"):
            for ident in ids:
                source = self.store.entities.get(bp, {}).get(ident)
                if not source:
                    continue
                for name, rel in self.store.blueprints.get(bp, {}).get("relations", {}).items():
                    if rel.get("target") == entity["blueprint"] and entity["identifier"] in _as_list(
                            source["relations"].get(name) or []):
                        return True
        return False


def public_entity(entity: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in entity.items() if k != "datasource"}


def project_meta(entity: dict, include, exclude) -> dict:
    """Blueprint search include/exclude: property/relation identifiers, meta-properties with `$`."""
    def path_of(name):
        if name in META:
            return (META[name],)
        if name in entity["relations"] and name not in entity["properties"]:
            return ("relations", name)
        return ("properties", name)
    return project_paths(entity, [path_of(n) for n in include or []] or None, [path_of(n) for n in exclude or []])


def project_paths(entity: dict, include, exclude) -> dict:
    """include/exclude as tuples of keys (entity JSON paths such as ("properties", "x"))."""
    full = public_entity(entity)
    if include:
        out: dict = {}
        for path in include:
            src, dst = full, out
            for key in path[:-1]:
                if not isinstance(src, dict) or key not in src:
                    break
                src = src[key]
                dst = dst.setdefault(key, {})
            else:
                if isinstance(src, dict) and path[-1] in src:
                    dst[path[-1]] = src[path[-1]]
        full = out
    for path in exclude or []:
        node = full
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return full


def encode_cursor(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> dict:
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if isinstance(data, dict):
            return data
    except (ValueError, TypeError):
        pass
    raise PortError(422, "invalid_request", "`from` is not a cursor returned by this server")


# ----------------------------------------------------------------------------------------------
# State and settings.
# ----------------------------------------------------------------------------------------------
DEFAULT_CONFIG = {
    "rate_limit_429": 0.0,        # probability of a random 429 on any /v1 request
    "retry_after": 1,             # Retry-After seconds on 429s
    "seed": 0,                    # RNG seed for rate_limit_429
    "token_ttl": 10800,           # lifetime of access tokens (seconds)
    "entity_failures": [],        # [{identifier_regex, blueprint?, status, error, message, count?}]
    "dependents": "any",          # "any" relation blocks deletes without delete_dependents, or "required" only
    "auth_rate_limit": {"limit": 100, "period": 300},  # token route bucket (null disables)
    "gzip": True,                 # gzip responses >1 KiB when the client accepts it
    "latency": 0.0,               # extra seconds added to every /v1 response
}
BUCKET_LIMITS = {"auth": 100, "entities": 35000, "single_upsert": 10000, "bulk_upsert": 35000,
                 "search": 35000, "blueprints": 15000, "other": 15000}
RATE_PERIOD = 300


class Store:
    def __init__(self, client_id: str, client_secret: str):
        self.client_id, self.client_secret = client_id, client_secret
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        self.config = copy.deepcopy(DEFAULT_CONFIG)
        self.rng = random.Random(self.config["seed"])
        self.blueprints: dict = {}
        self.entities: dict = {}
        self.integrations: dict = {}
        self.migrations: dict = {}
        self.requests: list = []
        self.schema_violations: list = []
        self.token_requests = 0
        self.tokens: dict = {}
        self.faults: list = []
        self.window_start = time.time()
        self.window_counts: dict = {}

    def snapshot(self) -> dict:
        return json.loads(json.dumps({
            "blueprints": self.blueprints, "entities": self.entities, "integrations": self.integrations,
            "requests": self.requests, "schema_violations": self.schema_violations,
            "token_requests": self.token_requests, "config": self.config, "pending_faults": self.faults}))

    # -- tokens ---------------------------------------------------------------------------------
    def issue_token(self, client_id: str) -> tuple:
        now = time.time()
        for token, info in self.tokens.items():
            if info["client_id"] == client_id and info["expires_at"] > now:
                return token, info["expires_at"] - now
        ttl = float(self.config["token_ttl"])
        claims = {"sub": client_id, "isMachine": True, "iat": int(now), "exp": int(now + ttl), "jti": uuid.uuid4().hex}
        b64 = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")
        token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.{secrets.token_urlsafe(16)}"
        self.tokens[token] = {"client_id": client_id, "expires_at": now + ttl}
        return token, ttl

    def token_owner(self, token: str):
        info = self.tokens.get(token)
        return info["client_id"] if info and info["expires_at"] > time.time() else None

    # -- rate-limit windows ---------------------------------------------------------------------
    def count_request(self, bucket: str) -> dict:
        now = time.time()
        if now - self.window_start >= RATE_PERIOD:
            self.window_start, self.window_counts = now, {}
        self.window_counts[bucket] = self.window_counts.get(bucket, 0) + 1
        limit = BUCKET_LIMITS[bucket]
        auth = self.config.get("auth_rate_limit")
        if bucket == "auth" and auth:
            limit = int(auth.get("limit", limit))
        return {"limit": limit, "remaining": limit - self.window_counts[bucket],
                "reset": max(1, math.ceil(self.window_start + RATE_PERIOD - now))}

    # -- relations ------------------------------------------------------------------------------
    def dependents_of(self, bp_id: str, ids: set, required_only: bool) -> list:
        """(blueprint, identifier, relation) of entities whose relations point at (bp_id, id in ids)."""
        found = []
        for src_bp, bp in self.blueprints.items():
            for rel_name, rel in bp.get("relations", {}).items():
                if rel.get("target") != bp_id or (required_only and not rel.get("required")):
                    continue
                for ident, entity in self.entities.get(src_bp, {}).items():
                    if set(_as_list(entity["relations"].get(rel_name) or [])) & ids:
                        found.append((src_bp, ident, rel_name))
        return found

    def drop_references(self, bp_id: str, ids: set):
        for src_bp, ident, rel_name in self.dependents_of(bp_id, ids, required_only=False):
            entity = self.entities[src_bp][ident]
            value = entity["relations"].get(rel_name)
            entity["relations"][rel_name] = [v for v in value if v not in ids] if isinstance(value, list) else None


# ----------------------------------------------------------------------------------------------
# The Port API itself.
# ----------------------------------------------------------------------------------------------
class PortApi:
    ROUTES = {
        ("POST", "/v1/auth/access_token"): "token",
        ("GET", "/v1/blueprints"): "list_blueprints",
        ("POST", "/v1/blueprints"): "create_blueprint",
        ("GET", "/v1/blueprints/{identifier}"): "get_blueprint",
        ("PUT", "/v1/blueprints/{identifier}"): "put_blueprint",
        ("PATCH", "/v1/blueprints/{identifier}"): "patch_blueprint",
        ("DELETE", "/v1/blueprints/{identifier}"): "delete_blueprint",
        ("POST", "/v1/blueprints/{blueprint_identifier}/entities"): "upsert_entity",
        ("GET", "/v1/blueprints/{blueprint_identifier}/entities"): "list_entities",
        ("POST", "/v1/blueprints/{blueprint_identifier}/entities/bulk"): "bulk_upsert",
        ("GET", "/v1/blueprints/{blueprint_identifier}/entities/{entity_identifier}"): "get_entity",
        ("PATCH", "/v1/blueprints/{blueprint_identifier}/entities/{entity_identifier}"): "patch_entity",
        ("PUT", "/v1/blueprints/{blueprint_identifier}/entities/{entity_identifier}"): "put_entity",
        ("DELETE", "/v1/blueprints/{blueprint_identifier}/entities/{entity_identifier}"): "delete_entity",
        ("GET", "/v1/blueprints/{blueprint_identifier}/entities-count"): "count_entities",
        ("DELETE", "/v1/blueprints/{blueprint_identifier}/all-entities"): "delete_all_entities",
        ("POST", "/v1/blueprints/{blueprint_identifier}/bulk/entities/delete"): "bulk_delete",
        ("POST", "/v1/blueprints/{blueprint_identifier}/entities/search"): "search_blueprint",
        ("POST", "/v1/entities/search"): "search_all",
        ("POST", "/v1/blueprints/entities/datasource-entities"): "datasource_entities",
        ("GET", "/v1/migrations/{migration_id}"): "get_migration",
        ("GET", "/v1/integration"): "list_integrations",
        ("POST", "/v1/integration"): "create_integration",
        ("GET", "/v1/integration/{identifier}"): "get_integration",
        ("PATCH", "/v1/integration/{identifier}"): "patch_integration",
        ("PATCH", "/v1/integration/{identifier}/config"): "patch_integration_config",
        ("DELETE", "/v1/integration/{identifier}"): "delete_integration",
        ("GET", "/v1/organization"): "get_organization",
    }

    def __init__(self, store: Store, spec: OpenApi):
        self.store, self.spec = store, spec
        self.matcher = Matcher(store)

    # -- helpers --------------------------------------------------------------------------------
    def _blueprint(self, bp_id: str) -> dict:
        bp = self.store.blueprints.get(bp_id)
        if bp is None:
            raise PortError(404, "not_found", f"Blueprint with identifier \"{bp_id}\" was not found")
        return bp

    def _entity(self, bp_id: str, ident: str) -> dict:
        self._blueprint(bp_id)
        entity = self.store.entities.get(bp_id, {}).get(ident)
        if entity is None:
            raise PortError(404, "not_found", f"Entity with identifier \"{ident}\" of blueprint \"{bp_id}\" was not found")
        return entity

    # -- auth -----------------------------------------------------------------------------------
    def token(self, ctx):
        body = ctx.body
        if body["clientId"] != self.store.client_id or body["clientSecret"] != self.store.client_secret:
            raise PortError(401, "unauthorized", "The provided client credentials are invalid")
        token, remaining = self.store.issue_token(body["clientId"])
        return 200, {"ok": True, "accessToken": token, "expiresIn": max(1, int(remaining)), "tokenType": "Bearer"}

    # -- blueprints -----------------------------------------------------------------------------
    def _check_blueprint_refs(self, bp: dict):
        for name in bp.get("schema", {}).get("properties", {}):
            if name in bp.get("relations", {}):
                raise PortError(422, "invalid_request", f"\"{name}\" is both a property and a relation")
        for name, rel in bp.get("relations", {}).items():
            target = rel.get("target")
            if target != bp["identifier"] and target not in self.store.blueprints:
                raise PortError(404, "not_found", f"Relation \"{name}\" targets blueprint \"{target}\" which does not exist")

    def _stamp_blueprint(self, bp: dict, actor: str, previous=None) -> dict:
        bp.setdefault("schema", {"properties": {}})
        bp["schema"].setdefault("required", [])
        for key in ("relations", "calculationProperties", "mirrorProperties", "aggregationProperties"):
            bp.setdefault(key, {})
        stamp = now_iso()
        bp["createdAt"] = previous["createdAt"] if previous else stamp
        bp["createdBy"] = previous["createdBy"] if previous else actor
        bp["updatedAt"], bp["updatedBy"] = stamp, actor
        return bp

    def list_blueprints(self, ctx):
        return 200, {"ok": True, "blueprints": copy.deepcopy(list(self.store.blueprints.values()))}

    def get_blueprint(self, ctx):
        return 200, {"ok": True, "blueprint": copy.deepcopy(self._blueprint(ctx.params["identifier"]))}

    def create_blueprint(self, ctx):
        bp = copy.deepcopy(ctx.body)
        if bp["identifier"] in self.store.blueprints:
            raise PortError(409, "identifier_taken", f"A blueprint with identifier \"{bp['identifier']}\" already exists")
        self._check_blueprint_refs(bp)
        self.store.blueprints[bp["identifier"]] = self._stamp_blueprint(bp, ctx.actor)
        self.store.entities.setdefault(bp["identifier"], {})
        return 201, {"ok": True, "blueprint": copy.deepcopy(bp)}

    def put_blueprint(self, ctx):
        bp_id = ctx.params["identifier"]
        previous = self._blueprint(bp_id)
        if ctx.body.get("identifier", bp_id) != bp_id:
            raise PortError(422, "invalid_request", "Changing a blueprint identifier is not supported by the fake")
        bp = copy.deepcopy(ctx.body)
        bp["identifier"] = bp_id
        self._check_blueprint_refs(bp)
        self.store.blueprints[bp_id] = self._stamp_blueprint(bp, ctx.actor, previous)
        return 200, {"ok": True, "blueprint": copy.deepcopy(bp)}

    def patch_blueprint(self, ctx):
        bp_id = ctx.params["identifier"]
        previous = self._blueprint(bp_id)
        if ctx.body.get("identifier", bp_id) != bp_id:
            raise PortError(422, "invalid_request", "Changing a blueprint identifier is not supported by the fake")
        bp = copy.deepcopy(previous)
        for key, value in copy.deepcopy(ctx.body).items():
            if key == "schema":
                bp["schema"].setdefault("properties", {}).update(value.get("properties", {}))
                if "required" in value:
                    bp["schema"]["required"] = value["required"]
            elif key in ("relations", "calculationProperties", "mirrorProperties", "aggregationProperties") \
                    and isinstance(value, dict):
                bp.setdefault(key, {}).update(value)
            else:
                bp[key] = value
        self._check_blueprint_refs(bp)
        self.store.blueprints[bp_id] = self._stamp_blueprint(bp, ctx.actor, previous)
        return 200, {"ok": True, "blueprint": copy.deepcopy(bp)}

    def delete_blueprint(self, ctx):
        bp_id = ctx.params["identifier"]
        self._blueprint(bp_id)
        if self.store.entities.get(bp_id):
            raise PortError(422, "blueprint_has_entities",
                            f"Blueprint \"{bp_id}\" still has {len(self.store.entities[bp_id])} entities")
        users = [b for b, bp in self.store.blueprints.items() if b != bp_id and any(
            r.get("target") == bp_id for r in bp.get("relations", {}).values())]
        if users:
            raise PortError(422, "blueprint_in_use", f"Blueprint \"{bp_id}\" is a relation target of {users}")
        del self.store.blueprints[bp_id]
        self.store.entities.pop(bp_id, None)
        return 200, {"ok": True}

    # -- entity writes --------------------------------------------------------------------------
    _prop_validators: dict = {}

    def _check_property(self, bp_id: str, name: str, definition: dict, value):
        if value is None:
            return
        schema = {k: v for k, v in definition.items() if k in (
            "type", "format", "enum", "items", "pattern", "minLength", "maxLength", "minimum", "maximum",
            "minItems", "maxItems", "uniqueItems")}
        key = json.dumps(schema, sort_keys=True)
        validator = self._prop_validators.get(key)
        if validator is None:
            validator = self._prop_validators[key] = PortValidator(schema, format_checker=FORMAT_CHECKER)
        error = best_match(validator.iter_errors(value))
        if error is not None:
            raise PortError(422, "invalid_request",
                            f"Property \"{name}\" of blueprint \"{bp_id}\" is invalid: {error.message[:300]}",
                            details={"property": name})

    def write_entity(self, bp_id: str, body: dict, opts: dict, datasource: str, actor: str, existing_only=False):
        """Validate and (unless validation_only) store one entity. -> (entity, created)."""
        bp = self._blueprint(bp_id)
        ident = body.get("identifier")
        if not isinstance(ident, str):
            raise PortError(422, "invalid_request",
                            "The fake requires a string `identifier` (no generated ids, no search identifiers)")
        if not valid_entity_id(ident):
            raise PortError(422, "invalid_request", f"Entity identifier {_short(ident)} does not match "
                                                    f"{ENTITY_ID_PATTERN} (max 1000 characters)")
        if body.get("blueprint", bp_id) != bp_id:
            raise PortError(422, "invalid_request", f"Entity blueprint \"{body.get('blueprint')}\" differs from \"{bp_id}\"")
        self._injected_entity_failure(bp_id, ident)
        store_entities = self.store.entities.setdefault(bp_id, {})
        existing = store_entities.get(ident)
        if existing_only and existing is None:
            raise PortError(404, "not_found", f"Entity with identifier \"{ident}\" of blueprint \"{bp_id}\" was not found")
        if existing is not None and not opts.get("upsert") and not existing_only:
            raise PortError(409, "identifier_taken", f"Entity with identifier \"{ident}\" already exists in \"{bp_id}\"")

        properties = body.get("properties") or {}
        relations = body.get("relations") or {}
        prop_defs = bp.get("schema", {}).get("properties", {})
        rel_defs = bp.get("relations", {})
        for name, value in properties.items():
            if name not in prop_defs:
                raise PortError(422, "blueprint_schema_mismatch",
                                f"Property \"{name}\" does not exist in blueprint \"{bp_id}\"", details={"property": name})
            self._check_property(bp_id, name, prop_defs[name], value)
        for name, value in relations.items():
            if name not in rel_defs:
                raise PortError(422, "blueprint_schema_mismatch",
                                f"Relation \"{name}\" does not exist in blueprint \"{bp_id}\"", details={"relation": name})
            many = bool(rel_defs[name].get("many"))
            if value is not None and (not isinstance(value, list) if many else not isinstance(value, str)):
                raise PortError(422, "invalid_request", f"Relation \"{name}\" of blueprint \"{bp_id}\" expects "
                                                        f"{'an array of identifiers' if many else 'one identifier'}: "
                                                        f"{_short(value)} (search-query relations are not supported)")
            for target in _as_list(value) if value is not None else []:
                if not valid_entity_id(target):
                    raise PortError(422, "invalid_request", f"Relation \"{name}\" target {_short(target)} is not a "
                                                            f"valid entity identifier")

        if existing is not None and (opts.get("merge") or existing_only == "patch"):
            entity = copy.deepcopy(existing)
            entity["properties"].update(copy.deepcopy(properties))
            entity["relations"].update(copy.deepcopy(relations))
        else:
            entity = {"identifier": ident, "title": None, "icon": None, "team": [],
                      "properties": copy.deepcopy(properties), "relations": copy.deepcopy(relations)}
        for field in ("title", "icon"):
            if field in body:
                entity[field] = body[field]
        if "team" in body:
            team = body["team"]
            entity["team"] = [] if team is None else ([team] if isinstance(team, str) else list(team))
            if not all(isinstance(t, str) for t in entity["team"]):
                raise PortError(422, "invalid_request", "Team search queries are not supported by the fake")

        for name in bp.get("schema", {}).get("required", []):
            if entity["properties"].get(name) is None:
                raise PortError(422, "missing_property", f"Required property \"{name}\" is missing",
                                details={"property": name})
        missing_targets = []
        for name, rel in rel_defs.items():
            value = entity["relations"].get(name)
            if rel.get("required") and (value is None or value == []):
                raise PortError(422, "required_relation", f"Required relation \"{name}\" is missing",
                                details={"relation": name})
            for target in _as_list(value) if value is not None else []:
                target_bp = rel.get("target")
                if target_bp not in self.store.blueprints:
                    raise PortError(404, "not_found", f"Target blueprint \"{target_bp}\" of relation \"{name}\" not found")
                if target not in self.store.entities.get(target_bp, {}) and not (
                        target_bp == bp_id and target == ident):
                    if not opts.get("create_missing_related_entities"):
                        raise PortError(404, "not_found", f"Related entity with identifier \"{target}\" of blueprint "
                                                          f"\"{target_bp}\" (relation \"{name}\") was not found")
                    missing_targets.append((target_bp, target))

        stamp = now_iso()
        entity["blueprint"] = bp_id
        entity["createdAt"] = existing["createdAt"] if existing else stamp
        entity["createdBy"] = existing["createdBy"] if existing else actor
        entity["updatedAt"], entity["updatedBy"] = stamp, actor
        entity["datasource"] = datasource
        if opts.get("validation_only"):
            return entity, existing is None
        for target_bp, target in missing_targets:
            self.store.entities.setdefault(target_bp, {}).setdefault(target, {
                "identifier": target, "title": None, "icon": None, "team": [], "properties": {}, "relations": {},
                "blueprint": target_bp, "createdAt": stamp, "createdBy": actor, "updatedAt": stamp,
                "updatedBy": actor, "datasource": datasource})
        store_entities[ident] = entity
        return entity, existing is None

    def _injected_entity_failure(self, bp_id: str, ident: str):
        for rule in self.store.config.get("entity_failures", []):
            if rule.get("count") == 0:
                continue
            if rule.get("blueprint") not in (None, bp_id) or not re.search(rule.get("identifier_regex", ".*"), ident):
                continue
            if isinstance(rule.get("count"), int):
                rule["count"] -= 1
            raise PortError(int(rule.get("status", 422)), rule.get("error", "invalid_request"),
                            rule.get("message", f"Injected failure for entity \"{ident}\""))

    def _write_opts(self, ctx) -> dict:
        q = ctx.query
        return {k: q.get(k, False) for k in ("upsert", "merge", "create_missing_related_entities", "validation_only")}

    def upsert_entity(self, ctx):
        entity, created = self.write_entity(ctx.params["blueprint_identifier"], ctx.body, self._write_opts(ctx),
                                            ctx.user_agent, ctx.actor)
        return (201 if created else 200), {"ok": True, "entity": public_entity(entity)}

    def bulk_upsert(self, ctx):
        bp_id = ctx.params["blueprint_identifier"]
        self._blueprint(bp_id)
        opts = self._write_opts(ctx)
        results, errors = [], []
        for index, item in enumerate(ctx.body["entities"]):
            ident = item.get("identifier") if isinstance(item.get("identifier"), str) else "unknown"
            try:
                entity, created = self.write_entity(bp_id, item, opts, ctx.user_agent, ctx.actor)
                results.append({"identifier": entity["identifier"], "index": index, "created": created,
                                "additionalData": {}})
            except PortError as exc:
                errors.append({"identifier": ident, "index": index, "statusCode": exc.status, "error": exc.error,
                               "message": exc.message})
        return (207 if errors else 200), {"ok": True, "entities": results, "errors": errors}

    def patch_entity(self, ctx):
        bp_id, ident = ctx.params["blueprint_identifier"], ctx.params["entity_identifier"]
        self._entity(bp_id, ident)
        body = dict(ctx.body)
        if body.setdefault("identifier", ident) != ident:
            raise PortError(422, "invalid_request", "Renaming entities is not supported by the fake")
        opts = {"create_missing_related_entities": ctx.query.get("create_missing_related_entities", False)}
        entity, _ = self.write_entity(bp_id, body, opts, ctx.user_agent, ctx.actor, existing_only="patch")
        return 200, {"ok": True, "entity": public_entity(entity)}

    def put_entity(self, ctx):
        bp_id, ident = ctx.params["blueprint_identifier"], ctx.params["entity_identifier"]
        self._entity(bp_id, ident)
        body = dict(ctx.body)
        if body.setdefault("identifier", ident) != ident:
            raise PortError(422, "invalid_request", "Renaming entities is not supported by the fake")
        opts = {"create_missing_related_entities": ctx.query.get("create_missing_related_entities", False)}
        entity, _ = self.write_entity(bp_id, body, opts, ctx.user_agent, ctx.actor, existing_only="put")
        return 200, {"ok": True, "entity": public_entity(entity)}

    # -- entity reads ---------------------------------------------------------------------------
    @staticmethod
    def _paths(values) -> list:
        return [tuple(v.split(".")) for v in values or []]

    def get_entity(self, ctx):
        entity = self._entity(ctx.params["blueprint_identifier"], ctx.params["entity_identifier"])
        return 200, {"ok": True, "entity": project_paths(entity, self._paths(ctx.query.get("include")) or None,
                                                          self._paths(ctx.query.get("exclude")))}

    def list_entities(self, ctx):
        bp_id = ctx.params["blueprint_identifier"]
        self._blueprint(bp_id)
        inc, exc = self._paths(ctx.query.get("include")) or None, self._paths(ctx.query.get("exclude"))
        return 200, {"ok": True, "entities": [project_paths(e, inc, exc) for e in self.store.entities[bp_id].values()]}

    def count_entities(self, ctx):
        bp_id = ctx.params["blueprint_identifier"]
        self._blueprint(bp_id)
        return 200, {"ok": True, "count": len(self.store.entities.get(bp_id, {}))}

    def _filter(self, query, entities):
        try:
            return [e for e in entities if query is None or self.matcher.matches(query, e)]
        except Unsupported as exc:
            raise PortError(422, "invalid_request", str(exc)) from None

    def search_blueprint(self, ctx):
        bp_id = ctx.params["blueprint_identifier"]
        self._blueprint(bp_id)
        body = ctx.body or {}
        limit = int(body.get("limit", 200))
        after = decode_cursor(body["from"]).get("after") if body.get("from") else None
        ordered = sorted(self.store.entities.get(bp_id, {}).values(), key=lambda e: e["identifier"])
        if after is not None:
            ordered = [e for e in ordered if e["identifier"] > after]
        hits = self._filter(body.get("query"), ordered)
        page = hits[:limit]
        response = {"ok": True, "entities": [project_meta(e, body.get("include"), body.get("exclude")) for e in page]}
        if len(hits) > limit:
            response["next"] = encode_cursor({"after": page[-1]["identifier"], "bp": bp_id})
        return 200, response

    def search_all(self, ctx):
        everything = [e for bp in self.store.entities.values() for e in bp.values()]
        hits = self._filter(ctx.body, everything)
        inc, exc = self._paths(ctx.query.get("include")) or None, self._paths(ctx.query.get("exclude"))
        return 200, {"ok": True, "matchingBlueprints": sorted({e["blueprint"] for e in hits}), "failedBlueprints": [],
                     "entities": [project_paths(e, inc, exc) for e in hits]}

    def datasource_entities(self, ctx):
        body = ctx.body
        prefix, suffix = body.get("datasource_prefix", ""), body.get("datasource_suffix", "")
        before = parse_datetime(body["before"]) if body.get("before") else None
        after = tuple(decode_cursor(body["from"]).get("after", [])) if body.get("from") else None
        hits = sorted(((e["blueprint"], e["identifier"]), e) for bp in self.store.entities.values() for e in bp.values()
                      if (e.get("datasource") or "").startswith(prefix) and (e.get("datasource") or "").endswith(suffix)
                      and (before is None or parse_datetime(e["updatedAt"]) < before))
        if after:
            hits = [h for h in hits if h[0] > after]
        limit = int(body.get("limit", 5000))
        page = hits[:limit]
        return 200, {"ok": True, "entities": [public_entity(e) for _, e in page],
                     "next": encode_cursor({"after": list(page[-1][0])}) if len(hits) > limit else None}

    # -- deletes --------------------------------------------------------------------------------
    def _delete(self, bp_id: str, ids: set, delete_dependents: bool) -> None:
        """Delete (bp_id, ids) atomically: refuse if dependents exist and delete_dependents is false."""
        required_only = self.store.config.get("dependents") == "required"
        doomed = {(bp_id, i) for i in ids}
        frontier = [(bp_id, set(ids))]
        while frontier:
            cur_bp, cur_ids = frontier.pop()
            deps = [d for d in self.store.dependents_of(cur_bp, cur_ids, required_only) if (d[0], d[1]) not in doomed]
            if deps and not delete_dependents:
                shown = ", ".join(f"{b}/{i} (relation {r})" for b, i, r in deps[:5])
                raise PortError(422, "has_dependents", f"Cannot delete: {len(deps)} dependent entities exist "
                                                       f"(e.g. {shown}); use delete_dependents=true")
            by_bp: dict = {}
            for b, i, _ in deps:
                if (b, i) not in doomed:
                    doomed.add((b, i))
                    by_bp.setdefault(b, set()).add(i)
            frontier.extend(by_bp.items())
        for b, i in doomed:
            self.store.entities.get(b, {}).pop(i, None)
        by_bp = {}
        for b, i in doomed:
            by_bp.setdefault(b, set()).add(i)
        for b, gone in by_bp.items():
            self.store.drop_references(b, gone)

    def delete_entity(self, ctx):
        bp_id, ident = ctx.params["blueprint_identifier"], ctx.params["entity_identifier"]
        self._entity(bp_id, ident)
        self._delete(bp_id, {ident}, ctx.query.get("delete_dependents", False))
        return 200, {"ok": True}

    def bulk_delete(self, ctx):
        bp_id = ctx.params["blueprint_identifier"]
        self._blueprint(bp_id)
        present = [i for i in dict.fromkeys(ctx.body["entities"]) if i in self.store.entities.get(bp_id, {})]
        self._delete(bp_id, set(present), ctx.query.get("delete_dependents", False))
        return 200, {"ok": True, "deletedEntities": present}

    def delete_all_entities(self, ctx):
        bp_id = ctx.params["blueprint_identifier"]
        self._blueprint(bp_id)
        self._delete(bp_id, set(self.store.entities.get(bp_id, {})), True)
        if ctx.query.get("delete_blueprint"):
            self.delete_blueprint(Ctx(params={"identifier": bp_id}))
        migration_id = f"migration_{uuid.uuid4().hex[:12]}"
        self.store.migrations[migration_id] = {"id": migration_id, "status": "COMPLETED", "actor": ctx.actor,
                                               "sourceBlueprint": bp_id, "mapping": None}
        return 200, {"ok": True, "migrationId": migration_id}

    def get_migration(self, ctx):
        migration = self.store.migrations.get(ctx.params["migration_id"])
        if migration is None:
            raise PortError(404, "not_found", "Migration not found")
        return 200, {"ok": True, "migration": copy.deepcopy(migration)}

    # -- integrations ---------------------------------------------------------------------------
    def _integration(self, ident: str) -> dict:
        integration = self.store.integrations.get(ident)
        if integration is None:
            raise PortError(404, "not_found", f"Integration with identifier \"{ident}\" was not found")
        return integration

    def list_integrations(self, ctx):
        return 200, {"ok": True, "integrations": copy.deepcopy(list(self.store.integrations.values()))}

    def get_integration(self, ctx):
        return 200, {"ok": True, "integration": copy.deepcopy(self._integration(ctx.params["identifier"]))}

    def create_integration(self, ctx):
        body = copy.deepcopy(ctx.body)
        ident = body["installationId"]
        existing = self.store.integrations.get(ident)
        if existing is not None and not ctx.query.get("upsert"):
            raise PortError(409, "identifier_taken", f"Integration \"{ident}\" already exists")
        stamp = now_iso()
        integration = existing or {"identifier": ident, "installationId": ident, "createdAt": stamp,
                                   "createdBy": ctx.actor, "config": {}, "changelogDestination": {},
                                   "resyncState": {"status": None, "updatedAt": stamp}}
        integration.update(body)
        integration.update({"updatedAt": stamp, "updatedBy": ctx.actor})
        self.store.integrations[ident] = integration
        return (200 if existing else 201), {"ok": True, "integration": copy.deepcopy(integration)}

    def patch_integration(self, ctx):
        integration = self._integration(ctx.params["identifier"])
        integration.update(copy.deepcopy(ctx.body or {}))
        integration.update({"updatedAt": now_iso(), "updatedBy": ctx.actor})
        return 200, {"ok": True, "integration": copy.deepcopy(integration)}

    def patch_integration_config(self, ctx):
        integration = self._integration(ctx.params["identifier"])
        integration["config"] = copy.deepcopy(ctx.body.get("config"))
        integration.update({"updatedAt": now_iso(), "updatedBy": ctx.actor})
        return 200, {"ok": True, "integration": copy.deepcopy(integration)}

    def delete_integration(self, ctx):
        self._integration(ctx.params["identifier"])
        del self.store.integrations[ctx.params["identifier"]]
        return 200, {"ok": True}

    def get_organization(self, ctx):
        return 200, {"ok": True, "organization": {"id": "org_fake", "name": "fake", "featureFlags": []}}


# ----------------------------------------------------------------------------------------------
# HTTP layer: fault injection, rate limiting, auth, validation, dispatch, control API.
# ----------------------------------------------------------------------------------------------
class Ctx:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def bucket_of(method: str, template: str) -> str:
    if template == "/v1/auth/access_token":
        return "auth"
    if template.endswith("/search"):
        return "search"
    if template.endswith("/entities/bulk"):
        return "bulk_upsert"
    if method == "POST" and template == "/v1/blueprints/{blueprint_identifier}/entities":
        return "single_upsert"
    if "entities" in template:
        return "entities"
    if template.startswith("/v1/blueprints"):
        return "blueprints"
    return "other"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as Port's servers answer: headers and body are written separately, and with
    # Nagle's algorithm a small body waits for the client's delayed ACK (about 40 ms per response).
    disable_nagle_algorithm = True
    server_version = "FakePort/1.0"
    store: Store
    api: PortApi
    spec: OpenApi
    quiet = False

    def log_message(self, fmt, *args):  # replaced by one line per request in _finish
        pass

    def do_GET(self): self._handle()
    def do_POST(self): self._handle()
    def do_PUT(self): self._handle()
    def do_PATCH(self): self._handle()
    def do_DELETE(self): self._handle()

    # -- plumbing -------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            raw = b"".join(chunks)
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip" and raw:
            raw = gzip.decompress(raw)
        return raw

    def _send(self, status: int, payload, headers=None, rate=None):
        data = json.dumps(payload).encode() if payload is not None else b""
        out_headers = {"Content-Type": "application/json; charset=utf-8", "X-Trace-Id": uuid.uuid4().hex}
        if rate:
            out_headers.update({"x-ratelimit-period": str(RATE_PERIOD), "x-ratelimit-limit": str(rate["limit"]),
                                "x-ratelimit-remaining": str(max(0, rate["remaining"])),
                                "x-ratelimit-reset": str(rate["reset"])})
        out_headers.update({k: str(v) for k, v in (headers or {}).items()})
        if (self.store.config.get("gzip") and len(data) > 1024
                and "gzip" in (self.headers.get("Accept-Encoding") or "").lower()):
            data = gzip.compress(data, compresslevel=1)
            out_headers["Content-Encoding"] = "gzip"
        self._status = status
        # Record the request before the client can see the answer, so state reads never race it.
        pending, self._pending_record = getattr(self, "_pending_record", None), None
        if pending:
            pending()
        self.send_response(status)
        for key, value in out_headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._status = status

    def _violation(self, kind: str, message: str, **extra):
        with self.store.lock:
            self.store.schema_violations.append(
                {"method": self.command, "path": self._path, "kind": kind, "message": message, **extra})

    def _handle(self):
        started = time.time()
        self._status = 0
        parts = urlsplit(self.path)
        self._path = parts.path
        query_pairs = parse_qsl(parts.query, keep_blank_values=True)
        try:
            raw = self._read_body()
        except (ValueError, OSError) as exc:
            self._send(400, {"ok": False, "error": "bad_request", "message": f"Unreadable body: {exc}"})
            return
        try:
            if self._path.startswith("/_fake/"):
                self._control(raw)
            else:
                self._api(raw, query_pairs)
        except Exception as exc:  # a bug in the fake: answer 500 and say so on stderr
            import traceback
            traceback.print_exc()
            if not self._status:
                self._send(500, {"ok": False, "error": "fake_internal_error", "message": repr(exc)})
        finally:
            if not self.quiet:
                sys.stderr.write(f"fake_port: {self.command} {self.path[:200]} -> {self._status} "
                                 f"({(time.time() - started) * 1000:.1f} ms)\n")

    def _record(self, query_pairs, body, template=None, params=None):
        query: dict = {}
        for key, value in query_pairs:
            query[key] = [*_as_list(query[key]), value] if key in query else value
        count = len(body["entities"]) if isinstance(body, dict) and isinstance(body.get("entities"), list) else None
        with self.store.lock:
            self.store.requests.append({"method": self.command, "path": self._path, "query": query,
                                        "status": self._status, "user_agent": self.headers.get("User-Agent"),
                                        "entities": count, "route": template,
                                        "blueprint": (params or {}).get("blueprint_identifier"), "time": now_iso()})

    # -- /v1 ------------------------------------------------------------------------------------
    def _api(self, raw: bytes, query_pairs):
        store, body, template, params = self.store, None, None, None
        self._pending_record = lambda: self._record(query_pairs, body, template, params)
        try:
            if raw:
                try:
                    body = json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
                except ValueError:
                    body = None
            if not self._path.startswith("/v1/"):
                raise PortError(404, "not_found", f"Route {self.command} {self._path} not found")
            # 1. one-shot injected faults
            with store.lock:
                fault = next((f for f in store.faults if f["method"] in ("*", self.command)
                              and re.search(f["path_regex"], self._path)), None)
                if fault:
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        store.faults.remove(fault)
            if fault:
                time.sleep(float(fault.get("delay") or 0))
                if fault.get("close"):
                    self.close_connection = True
                    self._status = -1
                    self.connection.shutdown(2)
                    return
                headers = dict(fault.get("headers") or {})
                if fault["status"] == 429:
                    headers.setdefault("Retry-After", store.config["retry_after"])
                self._send(fault["status"], fault.get("body") or {
                    "ok": False, "error": "injected_fault", "message": f"Injected HTTP {fault['status']}"}, headers)
                return
            match = self.spec.match(self.command, self._path)
            template = match[0] if match else None
            with store.lock:
                rate = store.count_request(bucket_of(self.command, template or self._path))
                if template == "/v1/auth/access_token":
                    store.token_requests += 1
                random_429 = store.rng.random() < float(store.config["rate_limit_429"])
                limited = bucket_of(self.command, template or "") == "auth" and store.config.get(
                    "auth_rate_limit") and rate["remaining"] < 0
            # 2. rate limiting
            if random_429 or limited:
                retry = rate["reset"] if limited else store.config["retry_after"]
                rate = dict(rate, remaining=0, reset=retry)
                self._send(429, {"ok": False, "error": "rate_limit_exceeded", "message": "Too many requests"},
                           {"Retry-After": retry}, rate)
                return
            # 3. size limit
            if len(raw) > MAX_BODY:
                raise PortError(413, "request_too_large", "Request body is too large (limit is 1MiB)")
            if match is None or match[1] is None:
                raise PortError(404, "not_found", f"Route {self.command} {self._path} not found")
            template, op, params = match
            # 4. auth
            actor = None
            if template != "/v1/auth/access_token":
                scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
                with store.lock:
                    actor = store.token_owner(token.strip()) if scheme.lower() == "bearer" else None
                if actor is None:
                    raise PortError(401, "unauthorized", "Missing, invalid or expired access token")
            # 5. validation
            query = self._check_params(op, template, params, query_pairs)
            validator = self.spec.body_validator(template, self.command)
            if raw and body is None:
                self._violation("body", "Request body is not valid JSON")
                raise PortError(422, "invalid_request", "The json provided does not match the route's schema: "
                                                        "the body is not valid JSON")
            if validator is not None:
                body_required = "x-body-schema" in op or op.get("requestBody", {}).get("required", False)
                if body is None and body_required:
                    self._violation("body", "Missing request body")
                    raise PortError(422, "invalid_request", "The json provided does not match the route's schema: "
                                                            "a body is required")
                if body is not None:
                    error = best_match(validator.iter_errors(body))
                    if error is not None:
                        message = error_message(error)
                        self._violation("body", message, schema_path="/".join(map(str, error.absolute_schema_path)))
                        raise PortError(422, "invalid_request", message)
            if body is not None and raw and "json" not in (self.headers.get("Content-Type") or "").lower():
                self._violation("header", f"Content-Type is {self.headers.get('Content-Type')!r}, not application/json")
                raise PortError(422, "invalid_request", "Content-Type must be application/json")
            handler = PortApi.ROUTES.get((self.command, template))
            if handler is None:
                raise PortError(501, "not_implemented", f"{self.command} {template} is not implemented by the fake")
            ctx = Ctx(body=body, params=params, query=query, actor=actor,
                      user_agent=self.headers.get("User-Agent") or "")
            with store.lock:
                status, payload = getattr(self.api, handler)(ctx)
            latency = float(store.config.get("latency") or 0)
            if latency:
                time.sleep(latency)
            self._send(status, payload, rate=rate)
        except PortError as exc:
            self._send(exc.status, exc.body(), rate=locals().get("rate"))
        finally:
            pending, self._pending_record = self._pending_record, None
            if pending and self._status != 0:
                pending()

    def _check_params(self, op: dict, template: str, params: dict, query_pairs) -> dict:
        """Validate path params (plus Port's identifier patterns) and query params; -> typed query dict."""
        for spec_param in op.get("parameters", []):
            if spec_param.get("in") == "path" and spec_param["name"] in params:
                error = best_match(self.spec.validator_for(spec_param.get("schema", {})).iter_errors(
                    params[spec_param["name"]]))
                if error is not None:
                    self._violation("path", f"{spec_param['name']}: {error.message}")
                    raise PortError(422, "invalid_request", f"path parameter {spec_param['name']}: {error.message}")
        for name, value in params.items():
            if name == "entity_identifier" and not valid_entity_id(value):
                message = f"path parameter entity_identifier {_short(value)} does not match {ENTITY_ID_PATTERN}"
            elif (name == "blueprint_identifier" or (name == "identifier" and template.startswith("/v1/blueprints/"))) \
                    and not valid_blueprint_id(value):
                message = f"path parameter {name} {_short(value)} does not match {BLUEPRINT_ID_PATTERN}"
            else:
                continue
            self._violation("path", message)
            raise PortError(422, "invalid_request", message)
        specs = {p["name"]: p.get("schema", {}) for p in op.get("parameters", []) if p.get("in") == "query"}
        raw: dict = {}
        for key, value in query_pairs:
            raw.setdefault(key, []).append(value)
        typed: dict = {}
        for name, values in raw.items():
            schema = specs.get(name)
            if schema is None:  # unknown query params are tolerated (Ocean adds its own)
                typed[name] = values[-1]
                continue
            kind = schema.get("type")
            try:
                if kind == "array":
                    typed[name] = [v for value in values for v in value.split(",") if v]
                    continue
                if len(values) > 1:
                    raise ValueError("given more than once")
                value = values[0]
                if kind == "boolean":
                    if value not in ("true", "false"):
                        raise ValueError(f"{value!r} is not true/false")
                    typed[name] = value == "true"
                elif kind in ("number", "integer"):
                    typed[name] = int(value) if kind == "integer" else float(value)
                else:
                    typed[name] = value
                if "enum" in schema and typed[name] not in schema["enum"]:
                    raise ValueError(f"{value!r} is not one of {schema['enum']}")
            except ValueError as exc:
                self._violation("query", f"{name}: {exc}")
                raise PortError(422, "invalid_request", f"querystring/{name}: {exc}") from None
        return typed

    # -- control API ----------------------------------------------------------------------------
    def _control(self, raw: bytes):
        store = self.store
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._send(400, {"ok": False, "error": "bad_request", "message": "body is not JSON"})
            return
        route = (self.command, self._path.rstrip("/"))
        with store.lock:
            if route == ("GET", "/_fake/state"):
                self._send(200, store.snapshot())
            elif route == ("GET", "/_fake/config"):
                self._send(200, {"ok": True, "config": store.config})
            elif route == ("GET", "/_fake/health"):
                self._send(200, {"ok": True})
            elif route == ("POST", "/_fake/config"):
                unknown = set(body) - set(DEFAULT_CONFIG) - {"expire_tokens"}
                if unknown:
                    self._send(400, {"ok": False, "error": "bad_request", "message": f"unknown settings {sorted(unknown)}"})
                    return
                if body.pop("expire_tokens", False):
                    store.tokens.clear()
                store.config.update(body)
                if "seed" in body:
                    store.rng = random.Random(body["seed"])
                self._send(200, {"ok": True, "config": store.config})
            elif route == ("POST", "/_fake/inject"):
                if not isinstance(body.get("status"), int):
                    self._send(400, {"ok": False, "error": "bad_request", "message": "`status` (int) is required"})
                    return
                re.compile(body.get("path_regex", ".*"))
                store.faults.append({"method": body.get("method", "*").upper(), "path_regex": body.get("path_regex", ".*"),
                                     "status": body["status"], "count": int(body.get("count", 1)),
                                     "body": body.get("body"), "headers": body.get("headers") or {},
                                     "delay": body.get("delay", 0), "close": bool(body.get("close", False))})
                self._send(200, {"ok": True, "pending_faults": len(store.faults)})
            elif route == ("POST", "/_fake/seed"):
                try:
                    counts = self._seed(body)
                except PortError as exc:
                    self._send(400, exc.body())
                    return
                self._send(200, {"ok": True, **counts})
            elif route == ("POST", "/_fake/reset"):
                store.reset()
                self._send(200, {"ok": True})
            else:
                self._send(404, {"ok": False, "error": "not_found", "message": f"no control route {route}"})

    def _seed(self, body: dict) -> dict:
        validator = self.spec.body_validator("/v1/blueprints", "POST")
        pending = []
        for bp in body.get("blueprints", []):
            error = best_match(validator.iter_errors(bp))
            if error is not None:
                raise PortError(422, "invalid_request", f"seed blueprint {bp.get('identifier')}: {error_message(error)}")
            pending.append(copy.deepcopy(bp))
        for bp in pending:  # relations may point at blueprints later in the list
            self.store.blueprints[bp["identifier"]] = self.api._stamp_blueprint(bp, "seed", self.store.blueprints.get(
                bp["identifier"]))
            self.store.entities.setdefault(bp["identifier"], {})
        for bp in pending:
            self.api._check_blueprint_refs(bp)
        for item in body.get("entities", []):
            opts = {"upsert": True, "merge": False,
                    "create_missing_related_entities": item.get("create_missing_related_entities", True)}
            try:
                self.api.write_entity(item["blueprint"], item["entity"], opts, item.get("datasource", "seed"),
                                      item.get("actor", "seed"))
            except PortError as exc:
                raise PortError(exc.status, exc.error, f"seed entity {item.get('entity', {}).get('identifier')}: "
                                                       f"{exc.message}") from None
        stamp = now_iso()
        for item in body.get("integrations", []):
            ident = item.get("identifier") or item.get("installationId")
            if not isinstance(ident, str) or not ident:
                raise PortError(422, "invalid_request", "seed integration: `identifier` is required")
            self.store.integrations[ident] = {
                "identifier": ident, "installationId": ident, "config": {}, "changelogDestination": {},
                "resyncState": {"status": None, "updatedAt": stamp}, "createdAt": stamp, "createdBy": "seed",
                "updatedAt": stamp, "updatedBy": "seed", **copy.deepcopy(item)}
        return {"blueprints": len(pending), "entities": len(body.get("entities", [])),
                "integrations": len(body.get("integrations", []))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--openapi", type=Path, default=DEFAULT_OPENAPI)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = parser.parse_args(argv)

    spec = OpenApi(args.openapi.resolve())
    store = Store(args.client_id, args.client_secret)
    handler = type("BoundHandler", (Handler,), {"store": store, "spec": spec, "api": PortApi(store, spec),
                                                "quiet": args.quiet})
    server = ThreadingHTTPServer((args.host, args.port), handler)
    server.daemon_threads = True
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
