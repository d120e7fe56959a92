//! One request: count it, apply latency and faults, authenticate (client
//! certificate, then bearer token, else `system:anonymous` — the order of
//! kube-apiserver's union authenticator), authorize by verb (and, for
//! EndpointSlices, namespace), then serve get, list or watch of nodes or
//! of EndpointSlices.

use super::selection::{Key, Kind, Selection, parse_label_selector};
use super::wire::{self, Request, Stream};
use super::{Fault, RequestRecord, Shared, Verb, status, watch};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub enum Next {
    KeepAlive,
    Close,
    Hang,
    Reset,
}

/// What the path (and `watch` parameter) asks for: the verb and what it selects.
struct Route {
    verb: Verb,
    sel: Selection,
}

pub fn handle(stream: &mut Stream, req: &Request, shared: &Shared) -> Next {
    let route = route(req);
    let verb = route.as_ref().ok().map(|r| r.verb);
    if let Some(v) = verb {
        *shared.counts.lock().unwrap().entry(v).or_default() += 1;
    }
    let knobs = shared.knobs();
    wait_latency(shared, knobs.latency);
    let mut rec = RequestRecord {
        verb,
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.raw_query.clone(),
        user: None,
        status: 0,
    };
    if let Some((fault, verbs)) = &knobs.fault
        && verbs.as_ref().is_none_or(|vs| verb.is_some_and(|v| vs.contains(&v)))
    {
        return apply_fault(stream, fault, shared, rec);
    }
    if req.method != "GET" {
        return reply(stream, shared, rec, 405, &status::method_not_allowed(&req.method));
    }
    let user = match authenticate(stream, req, shared) {
        Some(u) => u,
        None => return reply(stream, shared, rec, 401, &status::unauthorized()),
    };
    rec.user = Some(user.clone());
    let route = match route {
        Ok(r) => r,
        Err(body) => return reply(stream, shared, rec, body["code"].as_u64().unwrap_or(400) as u16, &body),
    };
    let anonymous = user == "system:anonymous";
    let sel = &route.sel;
    let namespace_allowed = sel.kind != Kind::EndpointSlice
        || knobs.slice_namespaces.as_ref().is_none_or(|nss| sel.namespace.as_ref().is_some_and(|ns| nss.contains(ns)));
    if !knobs.allowed.contains(&route.verb) || (anonymous && !knobs.allow_anonymous) || !namespace_allowed {
        let body =
            status::forbidden(&user, route.verb.as_str(), sel.kind, sel.namespace.as_deref(), sel.name.as_deref());
        return reply(stream, shared, rec, 403, &body);
    }
    match route.verb {
        Verb::Get => get(stream, shared, rec, sel),
        Verb::List => list(stream, req, shared, rec, sel),
        Verb::Watch => {
            rec.status = 200;
            shared.record(rec);
            watch::serve(stream, req, shared, sel)
        }
    }
}

/// Maps the URL to a verb like the apiserver's RequestInfoFactory, including
/// the deprecated `/api/v1/watch/…` prefix and the `metadata.name` field
/// selector turning into the request's name. Nodes live under `/api/v1`,
/// EndpointSlices under `/apis/discovery.k8s.io/v1`, namespaced
/// (`namespaces/NS/endpointslices[/NAME]`) or across all namespaces.
fn route(req: &Request) -> Result<Route, Value> {
    let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let (group, watch_prefix, rest) = match segs.as_slice() {
        ["api", "v1", "watch", rest @ ..] => ("", true, rest),
        ["api", "v1", rest @ ..] => ("", false, rest),
        ["apis", "discovery.k8s.io", "v1", "watch", rest @ ..] => ("discovery.k8s.io", true, rest),
        ["apis", "discovery.k8s.io", "v1", rest @ ..] => ("discovery.k8s.io", false, rest),
        _ => return Err(status::no_such_resource()),
    };
    let watch = watch_prefix || req.flag("watch");
    let selected = field_selector_name(req)?;
    let labels = match req.param("labelSelector") {
        Some(l) => parse_label_selector(l).map_err(|why| status::bad_request(&why))?,
        None => Vec::new(),
    };
    let (kind, namespace, name) = match (group, rest) {
        ("", ["nodes"]) => (Kind::Node, None, None),
        ("", ["nodes", name]) if !name.is_empty() => (Kind::Node, None, Some(name)),
        ("discovery.k8s.io", ["endpointslices"]) => (Kind::EndpointSlice, None, None),
        ("discovery.k8s.io", ["namespaces", ns, "endpointslices"]) if !ns.is_empty() => {
            (Kind::EndpointSlice, Some(ns), None)
        }
        ("discovery.k8s.io", ["namespaces", ns, "endpointslices", name]) if !ns.is_empty() && !name.is_empty() => {
            (Kind::EndpointSlice, Some(ns), Some(name))
        }
        _ => return Err(status::no_such_resource()),
    };
    let verb = match (watch, name) {
        (true, _) => Verb::Watch,
        (false, Some(_)) => Verb::Get,
        (false, None) => Verb::List,
    };
    let name = name.map(|n| n.to_string()).or(selected);
    Ok(Route { verb, sel: Selection { kind, namespace: namespace.map(|n| n.to_string()), name, labels } })
}

/// `fieldSelector=metadata.name=NAME` (or `==`). Nodes also support
/// `spec.unschedulable` (and every kind `metadata.namespace`), which this
/// fake does not: it answers 400 like an unsupported label.
fn field_selector_name(req: &Request) -> Result<Option<String>, Value> {
    let Some(sel) = req.param("fieldSelector").filter(|s| !s.is_empty()) else { return Ok(None) };
    let mut name = None;
    for term in sel.split(',') {
        let (field, value) = term.split_once("==").or_else(|| term.split_once('=')).unwrap_or((term, ""));
        if field != "metadata.name" || term.contains("!=") {
            return Err(status::bad_request(&format!("field label not supported: {field}")));
        }
        name = Some(value.to_string());
    }
    Ok(name)
}

fn authenticate(stream: &Stream, req: &Request, shared: &Shared) -> Option<String> {
    if let Some(der) = stream.peer_cert()
        && let Some(user) = shared.client_certs.lock().unwrap().get(&der)
    {
        return Some(user.clone());
    }
    let Some(auth) = req.header("authorization") else { return Some("system:anonymous".into()) };
    let (scheme, token) = auth.split_once(' ').unwrap_or((auth, ""));
    let valid = std::fs::read_to_string(&shared.token_file).unwrap_or_default();
    let valid = valid.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !valid.is_empty() && token.trim() == valid)
        .then(|| shared.token_user.clone())
}

fn get(stream: &mut Stream, shared: &Shared, rec: RequestRecord, sel: &Selection) -> Next {
    let name = sel.name.clone().unwrap_or_default();
    let key = Key { kind: sel.kind, namespace: sel.namespace.clone().unwrap_or_default(), name: name.clone() };
    let object = shared.store.lock().unwrap().get(&key).cloned();
    match object {
        Some(n) => reply(stream, shared, rec, 200, &n),
        None => reply(stream, shared, rec, 404, &status::not_found(sel.kind, &name)),
    }
}

/// A NodeList or EndpointSliceList: items carry no kind/apiVersion (only
/// the list does), as the apiserver encodes lists; `metadata.resourceVersion`
/// is the store's RV.
fn list(stream: &mut Stream, req: &Request, shared: &Shared, rec: RequestRecord, sel: &Selection) -> Next {
    let (items, rv, compacted) = {
        let s = shared.store.lock().unwrap();
        (s.select(sel), s.rv, s.compacted)
    };
    // resourceVersionMatch=Exact on a compacted RV is the one list that gets an HTTP 410.
    if req.param("resourceVersionMatch") == Some("Exact")
        && let Some(asked) = req.param("resourceVersion").and_then(|v| v.parse::<u64>().ok())
        && asked < compacted
    {
        return reply(stream, shared, rec, 410, &status::for_code(410));
    }
    let items: Vec<Value> = items
        .into_iter()
        .map(|mut n| {
            if let Some(o) = n.as_object_mut() {
                o.remove("kind");
                o.remove("apiVersion");
            }
            n
        })
        .collect();
    let body = json!({"kind": format!("{}List", sel.kind.kind()), "apiVersion": sel.kind.api_version(),
        "metadata": {"resourceVersion": rv.to_string()}, "items": items});
    reply(stream, shared, rec, 200, &body)
}

fn apply_fault(stream: &mut Stream, fault: &Fault, shared: &Shared, mut rec: RequestRecord) -> Next {
    match fault {
        Fault::Status(code) => reply(stream, shared, rec, *code, &status::for_code(*code)),
        Fault::TooManyRequests { retry_after_secs } => {
            rec.status = 429;
            shared.record(rec);
            let headers = [("Retry-After", retry_after_secs.to_string()), ("X-Content-Type-Options", "nosniff".into())];
            let body = b"Too many requests, please try again later.\n";
            done(wire::write_response(stream, 429, "text/plain; charset=utf-8", &headers, body))
        }
        Fault::Hang | Fault::HangAccept => {
            shared.record(rec);
            Next::Hang
        }
        Fault::Reset => {
            shared.record(rec);
            Next::Reset
        }
        Fault::Garbage => {
            rec.status = 200;
            shared.record(rec);
            let body = b"\x1f\x8b\x08\x00<html><body>502 from a confused proxy</body></html>{\"kind\":";
            wire::write_response(stream, 200, "application/json", &[], body).ok();
            Next::Close
        }
    }
}

fn reply(stream: &mut Stream, shared: &Shared, mut rec: RequestRecord, code: u16, body: &Value) -> Next {
    rec.status = code;
    shared.record(rec);
    done(wire::write_response(stream, code, "application/json", &[], body.to_string().as_bytes()))
}

fn done(r: std::io::Result<()>) -> Next {
    if r.is_ok() { Next::KeepAlive } else { Next::Close }
}

/// Added latency, cut short when the server stops.
fn wait_latency(shared: &Shared, latency: Duration) {
    if latency.is_zero() {
        return;
    }
    let end = Instant::now() + latency;
    let mut guard = shared.store.lock().unwrap();
    while !shared.stopping.load(std::sync::atomic::Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        guard = shared.changed.wait_timeout(guard, end - now).unwrap().0;
    }
}
