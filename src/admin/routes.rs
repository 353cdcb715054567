//! Routing, authorization, audit lines and the handlers of every route.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use serde_json::{json, Value};

use super::actions::{self, Command, Edit};
use super::auth::{Auth, Caller};
use super::http::Head;
use super::{page, views, Context, Surface};
use crate::chan::{self, SendError};
use crate::config;
use crate::config::Role;
use crate::hub::Query;
use crate::{logging, metrics};

/// How long a request waits for the hub before answering 503.
const HUB_TIMEOUT: Duration = Duration::from_secs(3);
/// Log lines returned when `lines` is not given.
const DEFAULT_LOG_LINES: usize = 100;
/// Most log lines one request may ask for (the ring holds this many).
const MAX_LOG_LINES: usize = 1000;
/// The OpenAPI document of the routes below.
pub(super) const OPENAPI: &str = include_str!("openapi.json");

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Page,
    Metrics,
    Health,
    OpenApi,
    Status,
    Devices,
    Device,
    Variables,
    Reload,
    Logs,
    Command(Command),
    DeviceEdit(Edit),
}

/// One route: method, path pattern (`{id}` is one path segment) and the role it needs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub role: Option<Role>,
    pub endpoint: Endpoint,
}

impl Route {
    /// Mutating calls get an audit line.
    fn mutating(&self) -> bool {
        self.method != "GET"
    }
}

/// Every route served; the OpenAPI document lists exactly the `/api/v1` ones.
pub(super) const ROUTES: &[Route] = &[
    route("GET", "/", None, Endpoint::Page),
    route("GET", "/metrics", None, Endpoint::Metrics),
    route("GET", "/api/v1/health", None, Endpoint::Health),
    route("GET", "/api/v1/openapi.json", None, Endpoint::OpenApi),
    route(
        "GET",
        "/api/v1/status",
        Some(Role::Viewer),
        Endpoint::Status,
    ),
    route(
        "GET",
        "/api/v1/devices",
        Some(Role::Viewer),
        Endpoint::Devices,
    ),
    route(
        "GET",
        "/api/v1/devices/{id}",
        Some(Role::Viewer),
        Endpoint::Device,
    ),
    route(
        "GET",
        "/api/v1/devices/{id}/variables",
        Some(Role::Viewer),
        Endpoint::Variables,
    ),
    route(
        "POST",
        "/api/v1/reload",
        Some(Role::Operator),
        Endpoint::Reload,
    ),
    route("GET", "/api/v1/logs", Some(Role::Viewer), Endpoint::Logs),
    route(
        "POST",
        "/api/v1/devices/{id}/commands/start",
        Some(Role::Operator),
        Endpoint::Command(Command::Start),
    ),
    route(
        "POST",
        "/api/v1/devices/{id}/commands/stop",
        Some(Role::Operator),
        Endpoint::Command(Command::Stop),
    ),
    route(
        "POST",
        "/api/v1/devices/{id}/commands/unlock",
        Some(Role::Operator),
        Endpoint::Command(Command::Unlock),
    ),
    route(
        "POST",
        "/api/v1/devices/{id}/commands/reset",
        Some(Role::Operator),
        Endpoint::Command(Command::Reset),
    ),
    route(
        "POST",
        "/api/v1/devices/{id}/commands/availability",
        Some(Role::Operator),
        Endpoint::Command(Command::Availability),
    ),
    route(
        "POST",
        "/api/v1/devices",
        Some(Role::Admin),
        Endpoint::DeviceEdit(Edit::Add),
    ),
    route(
        "PUT",
        "/api/v1/devices/{id}",
        Some(Role::Admin),
        Endpoint::DeviceEdit(Edit::Update),
    ),
    route(
        "DELETE",
        "/api/v1/devices/{id}",
        Some(Role::Admin),
        Endpoint::DeviceEdit(Edit::Delete),
    ),
];

const fn route(
    method: &'static str,
    pattern: &'static str,
    role: Option<Role>,
    endpoint: Endpoint,
) -> Route {
    Route {
        method,
        pattern,
        role,
        endpoint,
    }
}

/// An answer before it is written out.
#[derive(Debug)]
pub(super) struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A JSON answer.
    pub(super) fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    /// `{"error": message}`.
    pub(super) fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, &json!({ "error": message }))
    }

    fn with(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    /// What an audit line adds to the status code: the error, or the outcome and why.
    fn audit_detail(&self) -> Option<String> {
        let value: Value = serde_json::from_slice(&self.body).ok()?;
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            return Some(error.to_owned());
        }
        let status = value.get("status")?.as_str()?;
        Some(match value.get("reason").and_then(Value::as_str) {
            Some(reason) => format!("{status} ({reason})"),
            None => status.to_owned(),
        })
    }
}

/// Answers one request; `body` reads its body, and is called only once the caller is
/// authorized, so an unauthenticated client cannot make the server wait for a body.
pub(super) fn handle(
    ctx: &Context,
    head: &Head,
    client: IpAddr,
    body: impl FnOnce() -> Result<Vec<u8>, Reply>,
) -> Reply {
    let method = head.method.to_ascii_uppercase();
    let (path, query) = head
        .target
        .split_once('?')
        .unwrap_or((head.target.as_str(), ""));
    let call = Call {
        method: &method,
        path,
        query,
    };
    dispatch(ctx, &call, head.header("Authorization"), client, body)
}

/// What one request asks for.
struct Call<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
}

fn dispatch(
    ctx: &Context,
    call: &Call<'_>,
    authorization: Option<&str>,
    client: IpAddr,
    read_body: impl FnOnce() -> Result<Vec<u8>, Reply>,
) -> Reply {
    let (method, path) = (call.method, call.path);
    let mut allowed = Vec::new();
    let mut found = None;
    let offered = ROUTES
        .iter()
        .filter(|r| ctx.surface == Surface::Full || r.endpoint == Endpoint::Metrics);
    for r in offered {
        if let Some(param) = matches(r.pattern, path) {
            if r.method == method {
                found = Some((r, param));
                break;
            }
            allowed.push(r.method);
        }
    }
    let Some((route, param)) = found else {
        return if allowed.is_empty() {
            Reply::error(404, "no such route")
        } else {
            Reply::error(405, "method not allowed").with("Allow", allowed.join(", "))
        };
    };
    let caller = match route.role {
        None => None,
        Some(required) => match authorize(ctx, authorization, client, required) {
            Ok(caller) => Some(caller),
            Err((caller, reply)) => {
                if route.mutating() {
                    audit(caller.as_ref(), client, method, path, &reply);
                }
                return reply;
            }
        },
    };
    let reply = match read_body() {
        Ok(body) => endpoint(
            ctx,
            route.endpoint,
            param.as_deref(),
            (call, &body),
            caller.as_ref(),
        ),
        Err(reply) => reply,
    };
    if route.mutating() {
        audit(caller.as_ref(), client, method, path, &reply);
    }
    reply
}

/// Matches `path` against `pattern`; `Some(param)` holds the decoded `{id}` segment if any.
fn matches(pattern: &str, path: &str) -> Option<Option<String>> {
    let mut param = None;
    let mut segments = path.split('/');
    for want in pattern.split('/') {
        let got = segments.next()?;
        if want == "{id}" {
            if got.is_empty() {
                return None;
            }
            param = Some(percent_decode(got)?);
        } else if want != got {
            return None;
        }
    }
    segments.next().is_none().then_some(param)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks the token and role; an error carries who asked (when known) and the refusal.
fn authorize(
    ctx: &Context,
    authorization: Option<&str>,
    client: IpAddr,
    required: Role,
) -> Result<Caller, (Option<Caller>, Reply)> {
    let now = Instant::now();
    let mut limiter = ctx
        .limiter
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(wait) = limiter.blocked(client, now) {
        metrics::ADMIN_RATE_LIMITED.inc();
        return Err((
            None,
            Reply::error(
                429,
                "too many failed authentications from this address; try again later",
            )
            .with("Retry-After", (wait.as_secs() + 1).to_string()),
        ));
    }
    match ctx.tokens.check(authorization) {
        Auth::Missing => {
            metrics::ADMIN_AUTH_FAILURES.inc();
            Err((
                None,
                Reply::error(401, "a bearer token is required")
                    .with("WWW-Authenticate", "Bearer".into()),
            ))
        }
        Auth::Unknown => {
            metrics::ADMIN_AUTH_FAILURES.inc();
            limiter.failed(client, now);
            log::warn!("admin: unknown token from {client}");
            Err((
                None,
                Reply::error(401, "unknown token")
                    .with("WWW-Authenticate", "Bearer error=\"invalid_token\"".into()),
            ))
        }
        Auth::Valid(caller) if caller.role < required => {
            let reply = Reply::error(
                403,
                &format!("role {} may not do this (needs {required})", caller.role),
            );
            Err((Some(caller), reply))
        }
        Auth::Valid(caller) => Ok(caller),
    }
}

/// One line per mutating call: who (token name), from where, what, and how it ended.
fn audit(caller: Option<&Caller>, client: IpAddr, method: &str, path: &str, reply: &Reply) {
    let who = caller.map_or_else(|| "-".to_string(), |c| format!("{} ({})", c.name, c.role));
    let detail = reply
        .audit_detail()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    log::info!(target: "audit", "{who} from {client}: {method} {path} -> {}{detail}", reply.status);
}

fn endpoint(
    ctx: &Context,
    endpoint: Endpoint,
    param: Option<&str>,
    (call, body): (&Call<'_>, &[u8]),
    caller: Option<&Caller>,
) -> Reply {
    let id = param.unwrap_or_default();
    match endpoint {
        Endpoint::Page => match ask(ctx, |reply| Query::Status { reply }) {
            Ok(snapshot) => html(200, page::render(&snapshot)),
            Err((_, message)) => html(503, page::unavailable(&message)),
        },
        Endpoint::Metrics => {
            let gauges = ask(ctx, |reply| Query::Gauges { reply }).ok();
            Reply {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: metrics::render(gauges.as_ref()).into_bytes(),
                headers: Vec::new(),
            }
        }
        Endpoint::Health => Reply::json(
            200,
            &json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }),
        ),
        Endpoint::OpenApi => Reply {
            status: 200,
            content_type: "application/json",
            body: OPENAPI.as_bytes().to_vec(),
            headers: Vec::new(),
        },
        Endpoint::Status => answer(ask(ctx, |reply| Query::Status { reply }), |s| {
            views::status(&s, &ctx.csms_url)
        }),
        Endpoint::Devices => answer(ask(ctx, |reply| Query::Status { reply }), |s| {
            views::devices(&s)
        }),
        Endpoint::Device | Endpoint::Variables => {
            let id_owned = id.to_string();
            match ask(ctx, |reply| Query::Device {
                id: id_owned,
                reply,
            }) {
                Err((status, message)) => Reply::error(status, &message),
                Ok(None) => Reply::error(404, &format!("no device {id:?}")),
                Ok(Some(detail)) if endpoint == Endpoint::Device => {
                    Reply::json(200, &views::device(&detail.summary))
                }
                Ok(Some(detail)) => Reply::json(200, &views::variables(&detail)),
            }
        }
        Endpoint::Reload => reload(ctx),
        Endpoint::Command(command) => actions::command(ctx, id, command, caller, body),
        Endpoint::DeviceEdit(edit) => actions::edit_device(ctx, edit, id, body),
        Endpoint::Logs => match log_lines(call.query) {
            Ok(n) => Reply::json(200, &json!({ "lines": logging::recent(n) })),
            Err(message) => Reply::error(400, &message),
        },
    }
}

/// Loads and checks the config file again; a config with problems changes nothing and each
/// problem is returned (and logged, as for SIGHUP).
fn reload(ctx: &Context) -> Reply {
    let Some(path) = &ctx.config_path else {
        return Reply::error(404, "this listener serves no configuration");
    };
    match config::load(path).inspect(crate::fdlimit::raise_for) {
        Err(errors) => {
            let problems: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            for p in &problems {
                log::error!("{p}");
            }
            Reply::json(
                422,
                &json!({
                    "error": format!("{} problem(s); the running configuration stays in force", problems.len()),
                    "problems": problems,
                }),
            )
        }
        Ok(config) => match ask(ctx, |reply| Query::Reload {
            config: Box::new(config),
            reply,
        }) {
            Ok(()) => Reply::json(200, &json!({ "status": "reloaded" })),
            Err((status, message)) => Reply::error(status, &message),
        },
    }
}

fn answer<T>(result: Result<T, (u16, String)>, view: impl FnOnce(T) -> Value) -> Reply {
    match result {
        Ok(value) => Reply::json(200, &view(value)),
        Err((status, message)) => Reply::error(status, &message),
    }
}

fn html(status: u16, body: String) -> Reply {
    Reply {
        status,
        content_type: "text/html; charset=utf-8",
        body: body.into_bytes(),
        // Everything is inline: no scripts, no outside requests.
        headers: vec![(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'".into(),
        )],
    }
}

/// `lines=N` from the query string.
fn log_lines(query: &str) -> Result<usize, String> {
    let value = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "lines")
        .map(|(_, v)| v);
    match value {
        None => Ok(DEFAULT_LOG_LINES),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LOG_LINES).contains(&n) => Ok(n),
            _ => Err(format!("lines must be a number from 1 to {MAX_LOG_LINES}")),
        },
    }
}

/// Asks the hub and waits for its answer; an error is the status and message to reply with.
pub(super) fn ask<T>(
    ctx: &Context,
    query: impl FnOnce(Sender<T>) -> Query,
) -> Result<T, (u16, String)> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    match chan::try_send(&ctx.hub, query(tx), "admin→hub") {
        Ok(()) => {}
        Err(SendError::Full(_)) => return Err((503, "the gateway is busy; try again".into())),
        Err(SendError::Closed(_)) => return Err((503, "the gateway is shutting down".into())),
    }
    rx.recv_timeout(HUB_TIMEOUT)
        .map_err(|_| (503, "the gateway core did not answer in time".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns() {
        assert_eq!(matches("/api/v1/devices", "/api/v1/devices"), Some(None));
        assert_eq!(matches("/api/v1/devices", "/api/v1/devices/"), None);
        assert_eq!(
            matches("/api/v1/devices/{id}", "/api/v1/devices/cp%201"),
            Some(Some("cp 1".into()))
        );
        assert_eq!(matches("/api/v1/devices/{id}", "/api/v1/devices/"), None);
        assert_eq!(matches("/api/v1/devices/{id}", "/api/v1/devices/%zz"), None);
        assert_eq!(matches("/api/v1/devices/{id}", "/api/v1/devices/a/b"), None);
        assert_eq!(matches("/", "/"), Some(None));
    }

    #[test]
    fn log_line_counts() {
        assert_eq!(log_lines(""), Ok(DEFAULT_LOG_LINES));
        assert_eq!(log_lines("x=1&lines=5"), Ok(5));
        assert!(log_lines("lines=0").is_err());
        assert!(log_lines("lines=1001").is_err());
        assert!(log_lines("lines=abc").is_err());
    }

    /// The OpenAPI document lists exactly the /api/v1 routes, with the roles they need.
    #[test]
    fn openapi_matches_the_routes() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        let Some(paths) = doc["paths"].as_object() else {
            panic!("no paths")
        };
        let mut documented = Vec::new();
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let role = op["x-required-role"].as_str().map(str::to_owned);
                documented.push((method.to_ascii_uppercase(), format!("/api/v1{path}"), role));
            }
        }
        documented.sort();
        let mut served: Vec<_> = ROUTES
            .iter()
            .filter(|r| r.pattern.starts_with("/api/v1/"))
            .map(|r| {
                (
                    r.method.to_string(),
                    r.pattern.to_string(),
                    r.role.map(|role| role.as_str().to_string()),
                )
            })
            .collect();
        served.sort();
        assert_eq!(documented, served);
    }
}
