"""Validates latch's HTTP responses against docs/openapi.yaml.

harness.py calls check_response() for every response the integration suite
receives from a latch server: from `requests` (its Session.send hook, beside
the one that records secrets) and from the raw sockets of RawConnection /
raw_exchange.  A response the document does not describe raises Mismatch
(an AssertionError) in the test that received it, and is also recorded, so
that run.py fails that test even when the exception was swallowed (a request
made in a thread, a test that catches broad exceptions).

What is checked, for the operation the request's method and path select
(path templates such as /admin/users/{id}, with their parameter schemas):
  - the status is listed among the operation's responses;
  - the Content-Type is one of the listed media types (parameters compared
    too), and a response without content in the document has no body and no
    Content-Type;
  - the body validates against the media type's schema (JSON Schema 2020-12,
    $refs resolved within the document; HEAD has no body to check);
  - every header the response declares `required: true` is present;
  - every header of CONTROLLED_HEADERS that is present is declared for that
    response, and its value validates against the declared schema.

Exempt is only a 404 for a path that is not a route (no path of the
document matches).  What the HTTP layer answers by itself (its 400s, 413,
414, 431 and 505, docs/api.md) is latch's JSON error with an X-Request-Id
like every other answer, and is validated like them: for a route, against
the operation the request line names; for a target that is not a route,
against the document's x-unknown-path.

LATCH_OPENAPI_VALIDATE=0 turns the checks off, for debugging only (make test
runs with them on).
"""

import json
import os
import re
import threading
import urllib.parse

import yaml
from jsonschema import Draft202012Validator, RefResolver

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC_PATH = os.path.join(REPO_ROOT, "docs", "openapi.yaml")
ENABLED = os.environ.get("LATCH_OPENAPI_VALIDATE", "1") != "0"

# The response headers whose presence latch decides: each must be declared
# for the response it appears in.  (Content-Type is the media type;
# Content-Length, Date and Connection are the HTTP layer's framing, on every
# answer alike.)
CONTROLLED_HEADERS = (
    "cache-control", "x-content-type-options", "www-authenticate", "retry-after",
    "set-cookie", "allow", "x-auth-user-id", "x-auth-email", "x-auth-role",
    "x-auth-email-verified", "x-request-id",
    "vary", "access-control-allow-origin", "access-control-allow-credentials",
    "access-control-allow-methods", "access-control-allow-headers", "access-control-max-age",
    "strict-transport-security", "content-security-policy", "referrer-policy",
)

# The methods a path item has a field for (OpenAPI 3.1); any other method
# name (CONNECT, "get", "FOO") is looked up in the path item's x-other-methods.
OPENAPI_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")


class Mismatch(AssertionError):
    """A response docs/openapi.yaml does not describe."""


class _State:
    def __init__(self):
        self.lock = threading.Lock()
        self.doc = None
        self.paths = None            # [(regex, params, template, path item)]
        self.validators = {}         # id(schema) -> validator
        self.mismatches = []         # recorded, not yet reported by run.py
        self.counts = {"validated": 0, "unknown_path_404": 0}


_state = _State()


# -- the document ---------------------------------------------------------------

def load_document(path=SPEC_PATH):
    with open(path, "rb") as f:
        return yaml.safe_load(f)


def document():
    with _state.lock:
        if _state.doc is None:
            _set_document(load_document())
        return _state.doc


def _set_document(doc):
    """Installs doc (lock held): compiles its path templates."""
    _state.doc = doc
    _state.validators = {}
    _state.paths = []
    for template, item in doc.get("paths", {}).items():
        params = {}
        for param in item.get("parameters", []):
            param = _resolve(doc, param)
            if param.get("in") == "path":
                params[param["name"]] = param
        pattern = ""
        for literal, name in re.findall(r"([^{]*)(?:\{([^}]+)\})?", template):
            pattern += re.escape(literal)
            if name:
                pattern += "(?P<%s>[^/]+)" % name
        _state.paths.append((re.compile("^%s$" % pattern), params, template, item))


class use_document:
    """Context manager for the self-test: validate against another document
    (a deliberately wrong copy) for a while."""

    def __init__(self, doc):
        self.doc = doc
        self.saved = None

    def __enter__(self):
        document()
        with _state.lock:
            self.saved = _state.doc
            _set_document(self.doc)
        return self

    def __exit__(self, *exc):
        with _state.lock:
            _set_document(self.saved)
        return False


def _resolve(doc, node):
    """Follows a $ref (and $refs it leads to) within the document."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError("external $ref %r is not supported" % ref)
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
        if seen > 20:
            raise ValueError("$ref loop at %r" % ref)
    return node


def _validator(doc, schema):
    key = id(schema)
    with _state.lock:
        validator = _state.validators.get(key)
        if validator is None:
            validator = Draft202012Validator(schema, resolver=RefResolver.from_schema(doc))
            _state.validators[key] = validator
        return validator


def _schema_errors(doc, schema, value):
    errors = sorted(_validator(doc, schema).iter_errors(value), key=lambda e: list(e.path))
    return ["%s%s" % ("/".join(str(p) for p in e.absolute_path) + ": "
                      if e.absolute_path else "", e.message) for e in errors[:3]]


# -- matching a request to an operation ----------------------------------------

def request_path(target):
    """The path latch routes on: the request target without the query, with
    %XX decoded (the HTTP layer decodes the path before routing).  A path
    that decodes to a NUL is refused before routing (400 Malformed request
    target): it is no route's path."""
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    path = target.split("?", 1)[0]
    return urllib.parse.unquote_to_bytes(path).decode("latin-1")


def find_path_item(doc, path):
    """(template, path item) of the route path matches, or (None, None)."""
    document()
    for regex, params, template, item in _state.paths:
        m = regex.match(path)
        if m is None:
            continue
        ok = True
        for name, value in m.groupdict().items():
            schema = params.get(name, {}).get("schema", {"type": "string"})
            if schema.get("type") == "integer":
                # A path integer is plain decimal digits, no sign, no
                # leading zero (router.c); then the schema's bounds.
                if not re.fullmatch(r"0|[1-9][0-9]*", value) or \
                        _schema_errors(doc, schema, int(value)):
                    ok = False
            elif _schema_errors(doc, schema, value):
                ok = False
        if ok:
            return template, item
    return None, None


def _responses_for(doc, item, method):
    if method in OPENAPI_METHODS:
        op = item.get(method.lower())
        if op is None:
            return None, "%s has no %s operation" % ("path", method)
        return op.get("responses", {}), None
    other = item.get("x-other-methods")
    if other is None:
        return None, "no x-other-methods for method %r" % method
    return other, None


# -- one response --------------------------------------------------------------

def _header_map(headers):
    out = {}
    for name, value in headers:
        out.setdefault(name.strip().lower(), []).append(value.strip())
    return out


def _media_type(value):
    """('type/subtype', {param: value}) lower-cased, from a Content-Type."""
    parts = [p.strip() for p in value.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, _, v = p.partition("=")
            params[k.strip().lower()] = v.strip().strip('"').lower()
    return parts[0].lower(), params


def _header_value(schema, text):
    """A header's text as the type its schema names (integers are headers
    such as Retry-After)."""
    if schema.get("type") == "integer" or isinstance(schema.get("const"), int):
        try:
            return int(text)
        except ValueError:
            return text
    return text


# The separate /metrics listener (LATCH_METRICS_LISTEN) serves that one path:
# every other path is an unknown path there (docs/api.md, GET /metrics).
METRICS_LISTENER_PATHS = ("/metrics",)


def check_response(method, target, status, headers, body, only_paths=None, count=False):
    """Problems (a list of strings, empty when the response is described) of
    one response: method and target as sent, status, headers as (name,
    value) pairs in order, body bytes (b"" for HEAD).  only_paths: the
    document's paths that are routes on this listener (None: all).  count:
    a response received from latch (not a self-test's), for counts()."""
    doc = document()
    unread = target is None              # UNREAD_REQUEST: no method, no path
    if unread:
        template, item = None, None
        method, target = "?", "(request line not read)"
    else:
        path = request_path(target)
        template, item = find_path_item(doc, path)
    if only_paths is not None and template not in only_paths:
        template, item = None, None
    where = "%s %s -> %s" % (method, target[:120], status)
    if item is None:
        if status == 404 and not unread:
            _count("unknown_path_404", count)
            return []
        # Not a route, but the HTTP layer looks at the request before any
        # path: its refusals can answer any target.
        responses, why = doc.get("x-unknown-path"), None
        template = "(not a route)"
        if responses is None:
            return ["%s: not a route, and the document has no x-unknown-path" % where]
    else:
        responses, why = _responses_for(doc, item, method)
        if responses is None:
            return ["%s: %s %s" % (where, template, why)]
    _count("validated", count)
    problems = []
    response = responses.get(str(status)) or responses.get("%dXX" % (status // 100)) \
        or responses.get("default")
    if response is None:
        return ["%s: status %s is not listed for %s %s (listed: %s)"
                % (where, status, method, template, ", ".join(sorted(responses)))]
    response = _resolve(doc, response)
    h = _header_map(headers)

    # Content.
    content = response.get("content")
    ctype = h.get("content-type", [None])[0]
    if not content:
        if ctype is not None:
            problems.append("Content-Type %r, but the document lists no content" % ctype)
        if body:
            problems.append("a body of %d bytes, but the document lists no content" % len(body))
    elif ctype is None:
        problems.append("no Content-Type; the document lists %s" % ", ".join(content))
    else:
        got_type, got_params = _media_type(ctype)
        media = None
        for key, value in content.items():
            want_type, want_params = _media_type(key)
            if want_type == got_type and all(got_params.get(k) == v
                                             for k, v in want_params.items()):
                media = value
                break
        if media is None:
            problems.append("Content-Type %r is not one of %s" % (ctype, ", ".join(content)))
        elif method != "HEAD" and "schema" in media:
            problems.extend(_body_problems(doc, got_type, media["schema"], body))

    # Headers.
    declared = {name.lower(): _resolve(doc, hdr)
                for name, hdr in (response.get("headers") or {}).items()}
    for name, hdr in declared.items():
        if hdr.get("required") and name not in h:
            problems.append("required header %s is missing" % name)
    for name, values in h.items():
        if name not in CONTROLLED_HEADERS:
            continue
        hdr = declared.get(name)
        if hdr is None:
            problems.append("header %s: %r is not declared for this response"
                            % (name, values[0][:100]))
            continue
        schema = hdr.get("schema")
        if schema is None:
            continue
        for value in values:
            errors = _schema_errors(doc, schema, _header_value(schema, value))
            if errors:
                problems.append("header %s: %r: %s" % (name, value[:100], errors[0]))
    return ["%s (%s): %s" % (where, template, p) for p in problems]


def _body_problems(doc, media_type, schema, body):
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            return ["body is not JSON (%s): %r" % (e, body[:200])]
    else:
        try:
            value = body.decode("utf-8")
        except UnicodeDecodeError:
            return ["body is not UTF-8 text: %r" % body[:200]]
    return ["body %s (body: %r)" % (e, body[:300]) for e in _schema_errors(doc, schema, value)]


# -- recording, for run.py -------------------------------------------------------

def _count(kind, count):
    if count:
        with _state.lock:
            _state.counts[kind] += 1


def counts():
    with _state.lock:
        out = dict(_state.counts)
    # run.py's summary line still reads a "library" count of exempt
    # answers: nothing is exempt that way any more (issue 14).
    out["library"] = 0
    return out


def validate(method, target, status, headers, body, only_paths=None):
    """check_response(); on a mismatch records it and raises Mismatch."""
    if not ENABLED:
        return
    problems = check_response(method, target, status, headers, body, only_paths, count=True)
    if problems:
        message = "response not described by docs/openapi.yaml: " + "; ".join(problems)
        with _state.lock:
            _state.mismatches.append(message)
        raise Mismatch(message)


def take_mismatches():
    """The mismatches recorded since the last call (run.py: per test)."""
    with _state.lock:
        taken = _state.mismatches
        _state.mismatches = []
        return taken


# -- raw sockets: which request a response answers ---------------------------------

_REQUEST_LINE_RE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP/\d(?:\.\d)?$")


# The request a response answers when the HTTP layer refused bytes that are
# not a request line it could read (HTTP/0.9, a TLS ClientHello, binary, a
# request line over 16 KiB): no operation, the document's x-unknown-path.
UNREAD_REQUEST = (None, None)


class RequestTracker:
    """Follows the bytes sent on one raw connection and lists the requests
    in it (method, target), in order, so that each response read can be
    matched to its request.  A request may arrive over several sends (a
    body trickled in).  A request line it cannot read is listed as
    UNREAD_REQUEST; a head answered before it was complete (a refusal) as
    what its request line says.  Framing it cannot follow (a malformed
    head) ends the list: the HTTP layer closes the connection after its
    answer, and responses past it are not validated."""

    def __init__(self):
        self.buf = b""
        self.pending = []            # (method, target) sent, not yet answered
        self.body_left = 0           # bytes of the current Content-Length body
        self.chunked = False         # the current body is chunked
        self.lost = False

    def sent(self, data):
        self.buf += bytes(data)
        while not self.lost:
            if self.body_left > 0:
                taken = min(self.body_left, len(self.buf))
                self.buf = self.buf[taken:]
                self.body_left -= taken
                if self.body_left > 0:
                    return
            elif self.chunked:
                consumed = _chunked_length(self.buf)
                if consumed is None:
                    return           # not all there yet (or not followable)
                self.buf = self.buf[consumed:]
                self.chunked = False
            elif not self._take_head():
                return

    def _take_head(self):
        # Empty lines before a request line are skipped (RFC 9112 2.2), as
        # latch does.
        self.buf = self.buf.lstrip(b"\r\n")
        end, sep = self.buf.find(b"\r\n\r\n"), 4
        lf = self.buf.find(b"\n\n")
        if lf >= 0 and (end < 0 or lf < end):
            end, sep = lf, 2         # bare LF line endings (docs/api.md: accepted)
        if end < 0:
            return False
        lines = re.split(rb"\r?\n", self.buf[:end])
        m = _REQUEST_LINE_RE.match(lines[0])
        if m is None:
            self.pending.append(UNREAD_REQUEST)   # refused (400), then closed
            self.lost = True
            return False
        self.pending.append((m.group(1).decode("latin-1"), m.group(2).decode("latin-1")))
        self.buf = self.buf[end + sep:]
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon or not name or name != name.strip():
                self.lost = True     # a malformed field: its answer closes the connection
                return False
            name = name.lower()
            if name == b"content-length":
                if not value.strip().isdigit():
                    self.lost = True
                    return False
                self.body_left = int(value.strip())
            elif name == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
        if self.chunked and self.body_left:
            self.lost = True         # both: refused, the connection closes
            return False
        return True

    def next_request(self):
        if self.pending:
            return self.pending.pop(0)
        if self.lost or self.body_left or self.chunked:
            return None
        # An answer while a head is still incomplete: the HTTP layer refused
        # it early (a malformed line, a request line or head over 16 KiB).
        data = self.buf.lstrip(b"\r\n")
        if not data:
            return None
        self.lost = True
        line, newline, _ = data.partition(b"\n")
        m = _REQUEST_LINE_RE.match(line.rstrip(b"\r")) if newline else None
        if m is None:
            return UNREAD_REQUEST
        return m.group(1).decode("latin-1"), m.group(2).decode("latin-1")


def _chunked_length(data):
    """Bytes of a complete chunked body at the start of data, or None."""
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(data[pos:eol].split(b";")[0], 16)
        except ValueError:
            return None
        pos = eol + 2
        if size == 0:
            end = data.find(b"\r\n", pos)
            while end >= 0 and end != pos:      # trailer fields
                pos = end + 2
                end = data.find(b"\r\n", pos)
            return None if end < 0 else end + 2
        pos += size + 2
        if pos > len(data):
            return None
