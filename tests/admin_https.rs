//! The admin API over HTTPS (`[system.admin] https = true` with the `[system.security]`
//! certificate): a standard rustls client, the real client address in audit lines, and
//! `ocpp-gw status` trusting the configured certificate.

mod admin_common;

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use admin_common::{
    connect_from, exchange, loopback, scratch, wait_for, write_config, Answer, Gateway, Tokens,
    WAIT,
};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use rustls::pki_types::{CertificateDer, ServerName};

/// A certificate for `localhost` and 127.0.0.1, written as PEM files in `dir`.
fn certificate(dir: &Path) -> CertificateDer<'static> {
    let key =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.join("admin.crt"), key.cert.pem()).unwrap();
    std::fs::write(dir.join("admin.key"), key.signing_key.serialize_pem()).unwrap();
    key.cert.der().clone()
}

/// One HTTPS request trusting only `cert`, sent from `source` when given.
fn https(
    base: &str,
    cert: &CertificateDer<'static>,
    path: &str,
    token: Option<&str>,
    source: Option<IpAddr>,
) -> Answer {
    let authority = base.strip_prefix("https://").unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = connect_from(authority.parse().unwrap(), source);
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    exchange(rustls::StreamOwned::new(conn, sock), &request)
}

#[test]
fn the_api_is_served_over_https() {
    let dir = scratch("admin-https");
    let cert = certificate(&dir);
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let sim = ModbusChargerSim::start(loopback()).unwrap();
    let tokens = Tokens::new();
    // A fixed port, so that `ocpp-gw status --config` finds it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let system = format!(
        "\n[system.security]\ntls_cert_path = \"admin.crt\"\ntls_key_path = \"admin.key\"\n\n\
         [system.admin]\nbind = \"127.0.0.1:{port}\"\nhttps = true\ntokens = {}\n",
        tokens.config
    );
    let config = write_config(&dir, &system, &csms.url(), &[sim.addr()]);
    let gateway = Gateway::start(&config, &dir.join("stderr.log"));
    let base = gateway.admin_url("API, status page and metrics");
    assert_eq!(base, format!("https://127.0.0.1:{port}"));

    let health = https(&base, &cert, "/api/v1/health", None, None);
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let status = https(&base, &cert, "/api/v1/status", Some(&tokens.viewer), None);
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.json()["devices"]["total"], 1);
    let page = https(&base, &cert, "/", None, None);
    assert!(page.body.contains("data-station=\"CP001\""));
    assert_eq!(
        https(&base, &cert, "/api/v1/devices", None, None).status,
        401
    );

    // Rate limits and logs see the client's own address, not the relay's.
    let from: IpAddr = [127, 0, 0, 9].into();
    let refused = https(&base, &cert, "/api/v1/status", Some("ogw_bad"), Some(from));
    assert_eq!(refused.status, 401);
    wait_for(WAIT, || {
        gateway
            .log_text()
            .contains("admin: unknown token from 127.0.0.9")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no log line naming 127.0.0.9:\n{}", gateway.log_text()));

    // Plain HTTP on the TLS port gets no answer.
    let plain = admin_common::connect_from(base[8..].parse().unwrap(), None);
    plain.set_read_timeout(Some(WAIT)).unwrap();
    let mut raw = Vec::new();
    let mut s = plain;
    std::io::Write::write_all(&mut s, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let _ = std::io::Read::read_to_end(&mut s, &mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("200 OK"));

    // The CLI finds the API and trusts the certificate from the same config.
    let shown = wait_for(WAIT, || {
        let out = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
            .args(["status", "--config"])
            .arg(&config)
            .env("OCPPGW_TOKEN", &tokens.viewer)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        stdout
            .contains("1 of 1 station(s) connected")
            .then_some(stdout)
    })
    .expect("ocpp-gw status over https never showed the station");
    assert!(shown.contains(&base), "{shown}");
}
