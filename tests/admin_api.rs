//! The admin REST API of the real binary, between a simulated charger and a simulated CSMS:
//! every documented route for every role, live values, rate limiting, audit lines, and that no
//! token ever shows up in a log line or an answer.

mod admin_common;

use std::net::IpAddr;
use std::path::PathBuf;

use admin_common::{
    loopback, request, scratch, send, wait_for, write_config, Answer, Gateway, Tokens, WAIT,
};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::{ModbusChargerSim, STATUS_OCCUPIED};
use serde_json::Value;

const ROLES: [Option<&str>; 4] = [None, Some("viewer"), Some("operator"), Some("admin")];

struct Setup {
    gateway: Gateway,
    config: PathBuf,
    url: String,
    tokens: Tokens,
    sims: Vec<ModbusChargerSim>,
    _csms: CsmsSim,
    log_file: PathBuf,
}

/// Two chargers, a CSMS, and the gateway with an admin API logging to a file.
fn setup(name: &str) -> Setup {
    let dir = scratch(name);
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let sims: Vec<_> = (0..2)
        .map(|_| ModbusChargerSim::start(loopback()).unwrap())
        .collect();
    let tokens = Tokens::new();
    let log_file = dir.join("gateway.log");
    let system = format!(
        "log_file = \"{}\"\n\n[system.admin]\nbind = \"127.0.0.1:0\"\n\
         max_failed_auth_per_minute = 3\ntokens = {}\n",
        log_file.display(),
        tokens.config
    );
    let addrs: Vec<_> = sims.iter().map(|s| s.addr()).collect();
    let config = write_config(&dir, &system, &csms.url(), &addrs);
    let gateway = Gateway::start(&config, &log_file);
    let url = gateway.admin_url("API, status page and metrics");
    Setup {
        gateway,
        config,
        url,
        tokens,
        sims,
        _csms: csms,
        log_file,
    }
}

/// The status an operation documented in OpenAPI must give `role`.
fn expected_status(op: &Value, role: Option<&str>) -> u16 {
    let rank = |r: &str| ["viewer", "operator", "admin"].iter().position(|x| *x == r);
    if let Some(required) = op["x-required-role"].as_str() {
        match role {
            None => return 401,
            Some(r) if rank(r) < rank(required) => return 403,
            Some(_) => {}
        }
    }
    let documented: Vec<u16> = op["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .filter_map(|k| k.parse().ok())
        .collect();
    documented
        .iter()
        .copied()
        .filter(|c| (200..300).contains(c) || *c == 501)
        .min()
        .unwrap_or_else(|| panic!("no success status documented in {op}"))
}

#[test]
fn every_documented_route_answers_as_documented_for_every_role() {
    let s = setup("admin-api-routes");
    // Device routes need the device to exist; values are not needed for the status codes.
    let doc = request(&s.url, "GET", "/api/v1/openapi.json", None, None).json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let base = doc["servers"][0]["url"].as_str().unwrap().to_string();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 8, "{paths:?}");
    // Deleting the device the other routes use comes last.
    let mut ops: Vec<(&String, &String, &Value)> = paths
        .iter()
        .flat_map(|(path, item)| {
            let ops = item.as_object().unwrap();
            ops.iter().map(move |(method, op)| (path, method, op))
        })
        .collect();
    ops.sort_by_key(|(_, method, _)| *method == "delete");
    let mut checked = 0;
    for (path, method, op) in &ops {
        let concrete = format!("{base}{}", path.replace("{id}", "charger-1"));
        let body = op["requestBody"]["content"]["application/json"]["example"].to_string();
        let body = if body == "null" { String::new() } else { body };
        for role in ROLES {
            let expected = expected_status(op, role);
            let answer = send(
                &s.url,
                &method.to_uppercase(),
                &concrete,
                s.tokens.of(role),
                &body,
            );
            assert_eq!(
                answer.status, expected,
                "{method} {concrete} as {role:?}: {}",
                answer.body
            );
            assert!(
                op["responses"][answer.status.to_string()].is_object(),
                "{method} {path}: {} is not documented",
                answer.status
            );
            assert!(answer
                .header("Content-Type")
                .unwrap()
                .starts_with("application/json"));
            let body = answer.json();
            if answer.status >= 400 {
                assert!(body["error"].is_string(), "{body}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * ops.len());
    // The page and the metrics need no token.
    let page = request(&s.url, "GET", "/", None, None);
    assert_eq!(page.status, 200);
    assert!(page
        .header("Content-Type")
        .unwrap()
        .starts_with("text/html"));
    let metrics = request(&s.url, "GET", "/metrics", None, None);
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("ocppgw_uptime_seconds"));
}

#[test]
fn device_routes_show_live_values_and_errors_are_json() {
    let s = setup("admin-api-devices");
    s.sims[0].set_status(STATUS_OCCUPIED);
    s.sims[0].set_energy_wh(4321);
    let viewer = Some(s.tokens.viewer.as_str());
    let vars = wait_for(WAIT, || {
        let a = request(
            &s.url,
            "GET",
            "/api/v1/devices/charger-1/variables",
            viewer,
            None,
        );
        let body = a.json();
        let status = body["variables"]
            .as_array()?
            .iter()
            .find(|v| v["ocpp_name"] == "Connector.Status")?
            .clone();
        (status["value"] == "Occupied").then_some(body)
    })
    .expect("Connector.Status never became Occupied");
    assert_eq!(vars["device"], "charger-1");
    let energy = vars["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["ocpp_name"] == "MeterValue.Energy.Active.Import.Register")
        .unwrap();
    assert_eq!(energy["value"], 4321.0);
    assert_eq!(energy["unit"], "Wh");
    assert!(energy["age_s"].as_f64().unwrap() < 10.0);

    let devices = wait_for(WAIT, || {
        let body = request(&s.url, "GET", "/api/v1/devices", viewer, None).json();
        let all_up = body["devices"]
            .as_array()?
            .iter()
            .all(|d| d["csms_connected"] == true && d["device_link"] == "online");
        all_up.then_some(body)
    })
    .expect("devices never all online and connected");
    let list = devices["devices"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], "charger-1");
    assert_eq!(list[0]["ocpp_id"], "CP001");
    assert_eq!(list[0]["protocol"], "modbus_tcp");
    assert_eq!(list[0]["connector_status"], "Occupied");
    assert_eq!(list[0]["registration"], "Accepted");
    assert_eq!(list[0]["energy"]["value"], 4321.0);

    let one = request(&s.url, "GET", "/api/v1/devices/charger-2", viewer, None).json();
    assert_eq!(one["ocpp_id"], "CP002");
    let status = request(&s.url, "GET", "/api/v1/status", viewer, None).json();
    assert_eq!(status["devices"]["total"], 2);
    assert_eq!(status["csms"]["stations"].as_array().unwrap().len(), 2);
    assert!(status["gateway"]["channel_full_total"].is_u64());
    assert!(status["queues"]["device_events"].is_u64());

    let error = |a: Answer, code: u16| {
        assert_eq!(a.status, code, "{}", a.body);
        assert!(a.json()["error"].is_string());
        a
    };
    error(
        request(&s.url, "GET", "/api/v1/devices/nope", viewer, None),
        404,
    );
    error(request(&s.url, "GET", "/api/v1/nope", viewer, None), 404);
    let wrong = error(
        request(&s.url, "DELETE", "/api/v1/devices", viewer, None),
        405,
    );
    assert_eq!(wrong.header("Allow"), Some("GET, POST"));
    error(
        request(&s.url, "GET", "/api/v1/logs?lines=0", viewer, None),
        400,
    );
    let logs = request(&s.url, "GET", "/api/v1/logs?lines=5", viewer, None).json();
    let lines = logs["lines"].as_array().unwrap();
    assert!(!lines.is_empty() && lines.len() <= 5);
}

#[test]
fn failed_authentications_are_rate_limited_per_address() {
    let s = setup("admin-api-ratelimit");
    let attacker: IpAddr = [127, 0, 0, 7].into();
    for _ in 0..3 {
        let a = request(
            &s.url,
            "GET",
            "/api/v1/status",
            Some("ogw_guess"),
            Some(attacker),
        );
        assert_eq!(a.status, 401);
    }
    let blocked = request(
        &s.url,
        "GET",
        "/api/v1/status",
        Some("ogw_guess"),
        Some(attacker),
    );
    assert_eq!(blocked.status, 429, "{}", blocked.body);
    let retry: u64 = blocked.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=61).contains(&retry));
    // Even the right token waits out the lock, so guessing cannot go on.
    let viewer = Some(s.tokens.viewer.as_str());
    let a = request(&s.url, "GET", "/api/v1/status", viewer, Some(attacker));
    assert_eq!(a.status, 429);
    // Other addresses are not affected, and routes without a token still answer.
    assert_eq!(
        request(&s.url, "GET", "/api/v1/status", viewer, None).status,
        200
    );
    let health = request(&s.url, "GET", "/api/v1/health", None, Some(attacker));
    assert_eq!(health.status, 200);
    assert!(s
        .gateway
        .log_text()
        .contains("admin: unknown token from 127.0.0.7"));
}

#[test]
fn mutating_calls_are_audited_and_tokens_never_leak() {
    let s = setup("admin-api-audit");
    let t = &s.tokens;
    let bad = "ogw_0123456789abcdef-not-a-real-token";
    let mut bodies = Vec::new();
    let mut call = |method: &str, path: &str, token: Option<&str>| {
        let a = request(&s.url, method, path, token, None);
        bodies.push(a.body.clone());
        a.status
    };
    assert_eq!(call("POST", "/api/v1/reload", Some(&t.operator)), 200);
    let good = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        good.replace("poll_interval_ms", "poll_interval_msec"),
    )
    .unwrap();
    let refused = request(&s.url, "POST", "/api/v1/reload", Some(&t.admin), None);
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("poll_interval_msec: unknown key"),
        "{}",
        refused.body
    );
    std::fs::write(&s.config, good).unwrap();
    assert_eq!(call("POST", "/api/v1/reload", Some(&t.viewer)), 403);
    assert_eq!(call("POST", "/api/v1/reload", None), 401);
    assert_eq!(call("POST", "/api/v1/reload", Some(bad)), 401);
    for path in [
        "/api/v1/status",
        "/api/v1/devices",
        "/api/v1/devices/charger-1",
        "/api/v1/devices/charger-1/variables",
        "/api/v1/logs?lines=1000",
        "/",
        "/metrics",
    ] {
        assert_eq!(call("GET", path, Some(&t.admin)), 200, "{path}");
    }
    let audit = |needle: &str| {
        wait_for(WAIT, || {
            s.gateway
                .log_text()
                .lines()
                .find(|l| l.contains(" audit]") && l.contains(needle))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no audit line with {needle:?}:\n{}", s.gateway.log_text()))
    };
    audit("ops (operator) from 127.0.0.1: POST /api/v1/reload -> 200");
    audit("root (admin) from 127.0.0.1: POST /api/v1/reload -> 422");
    audit("watcher (viewer) from 127.0.0.1: POST /api/v1/reload -> 403: role viewer may not do this (needs operator)");
    audit("- from 127.0.0.1: POST /api/v1/reload -> 401: a bearer token is required");
    audit("- from 127.0.0.1: POST /api/v1/reload -> 401: unknown token");
    // Reads are not audited.
    assert!(!s
        .gateway
        .log_text()
        .lines()
        .any(|l| l.contains(" audit]") && l.contains("GET ")));

    let log = std::fs::read_to_string(&s.log_file).unwrap();
    let stderr = std::fs::read_to_string(&s.gateway.stderr).unwrap();
    assert!(log.contains("admin server"), "file logging works");
    for secret in [&t.viewer, &t.operator, &t.admin, &bad.to_string()] {
        assert!(!log.contains(secret.as_str()), "token in the log file");
        assert!(!stderr.contains(secret.as_str()), "token on stderr");
        for body in &bodies {
            assert!(
                !body.contains(secret.as_str()),
                "token in an answer: {body}"
            );
        }
    }
}
