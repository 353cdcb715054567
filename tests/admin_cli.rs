//! The operator's commands through the real binary: `token new` → config → `status`, and
//! `diag csms` against the simulated CSMS.

mod admin_common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use admin_common::{loopback, scratch, wait_for, write_config, Gateway, WAIT};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use rustls::pki_types::PrivateKeyDer;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"));
    cmd.args(args).env_remove("OCPPGW_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `token new` prints a token and a config entry; appended to the config, it lets `status`
/// (finding the API from the same config) read the gateway.
#[test]
fn a_new_token_works_for_status() {
    let out = run(
        &["token", "new", "--role", "viewer", "--name", "laptop"],
        &[],
    );
    assert!(out.status.success());
    let printed = text(&out.stdout);
    let token = printed
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("ogw_"))
        .unwrap()
        .to_string();
    let entry = &printed[printed.find("[[system.admin.tokens]]").unwrap()..];

    let dir = scratch("admin-cli-status");
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let sim = ModbusChargerSim::start(loopback()).unwrap();
    let port = free_port();
    let system = format!("\n[system.admin]\nbind = \"127.0.0.1:{port}\"\n");
    let config = write_config(&dir, &system, &csms.url(), &[sim.addr()]);
    let mut file = std::fs::read_to_string(&config).unwrap();
    file.push('\n');
    file.push_str(entry);
    std::fs::write(&config, file).unwrap();
    let mut gateway = Gateway::start(&config, &dir.join("stderr.log"));
    gateway.admin_url("API, status page and metrics");

    let config_arg = config.to_str().unwrap();
    let shown = wait_for(WAIT, || {
        let out = run(
            &["status", "--config", config_arg],
            &[("OCPPGW_TOKEN", &token)],
        );
        let stdout = text(&out.stdout);
        (out.status.success() && stdout.contains("1 of 1 station(s) connected")).then_some(stdout)
    })
    .expect("status never showed the station connected");
    assert!(shown.contains("charger-1"), "{shown}");
    assert!(shown.contains("CP001"), "{shown}");
    assert!(shown.contains("Accepted"), "{shown}");
    assert!(shown.lines().all(|l| l.chars().count() <= 80), "{shown}");
    assert!(!shown.contains('\u{1b}'), "no colour codes");

    // A wrong token: refused, exit 1, and the reason.
    let out = run(
        &[
            "status",
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "--token",
            "ogw_wrong",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("401: unknown token"),
        "{}",
        text(&out.stderr)
    );
    // No token at all is a usage error.
    let out = run(&["status", "--config", config_arg], &[]);
    assert_eq!(out.status.code(), Some(2));
    // Nothing listening: says it cannot reach the gateway.
    let out = run(
        &[
            "status",
            "--url",
            &format!("http://127.0.0.1:{}", free_port()),
        ],
        &[("OCPPGW_TOKEN", &token)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot reach the gateway"));
    assert!(!gateway.log_text().contains(&token));

    // SIGTERM stops the admin server with the rest, cleanly.
    assert_eq!(gateway.terminate(WAIT), Some(0), "{}", gateway.log_text());
    assert!(gateway.log_text().contains("stopped"));
    let gone = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(
        gone.is_err(),
        "admin port still open after the gateway stopped"
    );
}

fn csms_config(dir: &Path, url: &str) -> String {
    let sim_addr = ([127, 0, 0, 1], 9).into();
    write_config(dir, "", url, &[sim_addr])
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn diag_csms_checks_every_step() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let dir = scratch("admin-cli-diag-csms");
    let config = csms_config(&dir, &csms.url());
    let out = run(&["diag", "csms", "--config", &config], &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("CSMS check for station CP001"), "{stdout}");
    for step in [
        "resolve    ok",
        "tcp        ok",
        "tls        -",
        "websocket  ok",
    ] {
        assert!(stdout.contains(step), "{step} missing:\n{stdout}");
    }
    let words = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("subprotocol ocpp2.0.1 agreed"), "{stdout}");
    // No OCPP message was sent.
    assert!(csms.records().is_empty(), "{:?}", csms.records());

    let dead = scratch("admin-cli-diag-csms-dead");
    let config = csms_config(&dead, &format!("ws://127.0.0.1:{}/ocpp", free_port()));
    let out = run(
        &["diag", "csms", "--config", &config, "--station", "CP001"],
        &[],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("tcp        FAILED"), "{stdout}");
    let words = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("connection refused"), "{stdout}");
    assert!(stdout.contains("websocket  -"), "{stdout}");
    assert!(stdout.lines().all(|l| l.chars().count() <= 80), "{stdout}");
}

/// A CA and a server certificate for `host` signed by it: (CA PEM, server config).
fn tls_server(host: &str) -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![host.to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let der = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der)
        .unwrap();
    (ca_cert.pem(), Arc::new(config))
}

/// Serves TLS handshakes on loopback and then closes each connection (no WebSocket).
fn handshake_only(config: Arc<rustls::ServerConfig>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut sock in listener.incoming().map_while(Result::ok) {
            sock.set_read_timeout(Some(WAIT)).unwrap();
            let mut conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            while conn.is_handshaking() {
                if conn.complete_io(&mut sock).is_err() {
                    break;
                }
            }
        }
    });
    port
}

#[test]
fn diag_csms_checks_the_tls_chain_and_name() {
    for (host, expect) in [
        ("other.example", "not issued for this host name"),
        (
            "localhost",
            "chain of 1 certificate(s) trusted by ca_cert_path",
        ),
    ] {
        let (ca, config) = tls_server(host);
        let port = handshake_only(config);
        let dir = scratch(&format!("admin-cli-diag-tls-{host}"));
        std::fs::write(dir.join("ca.pem"), ca).unwrap();
        let config = write_config(
            &dir,
            "\n[system.security]\nca_cert_path = \"ca.pem\"\n",
            &format!("wss://localhost:{port}/ocpp"),
            &[([127, 0, 0, 1], 9).into()],
        );
        let out = run(&["diag", "csms", "--config", config.to_str().unwrap()], &[]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("tcp        ok"), "{stdout}");
        // Long reasons are wrapped at 80 columns.
        let words = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(words.contains(expect), "{host}: {stdout}");
        if host == "localhost" {
            assert!(stdout.contains("tls        ok"), "{stdout}");
            // The handshake-only server never upgrades.
            assert!(stdout.contains("websocket  FAILED"), "{stdout}");
        } else {
            assert!(stdout.contains("tls        FAILED"), "{stdout}");
        }
    }
}
