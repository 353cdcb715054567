//! Security profiles 2 and 3 through the real binary: the gateway checks the CSMS certificate
//! (CA, validity, host name) and presents its client certificate; certificates are made here.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ocpp_gw::ocpp::link::{client_config, TlsError, TlsFiles};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir, Record, SimTls};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

const WAIT: Duration = Duration::from_secs(20);
const STATION: &str = "CP001";
const PASSWORD: &str = "profile-2-Passw0rd";

fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

/// A certificate authority made for one test.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { params, key, pem }
    }

    /// A leaf certificate for `names`, server or client, optionally long expired.
    fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose, expired: bool) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "ocpp-gw test");
        params.extended_key_usages = vec![purpose];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Leaf {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
        }
    }

    fn server_cert(&self, names: &[&str], expired: bool) -> Leaf {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, expired)
    }
}

struct Leaf {
    pem: String,
    der: Vec<u8>,
    key_pem: String,
}

/// A scratch directory under cargo's per-test-binary temp dir, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/templates/generic_modbus_charger.toml");
    std::fs::copy(template, dir.join("templates/generic_modbus_charger.toml")).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A gateway config for one charger; `csms` and `security` are extra `[csms]` and
/// `[system.security]` lines.
fn write_config(dir: &Path, url: &str, charger: SocketAddr, csms: &str, security: &str) -> PathBuf {
    let text = format!(
        r#"[system]
log_level = "debug"
data_dir = "{data}"

[system.security]
{security}

[csms]
url = "{url}"
reconnect_interval_sec = 1
reconnect_random_range_sec = 1
{csms}

[[devices]]
id = "charger-1"
template = "generic_modbus_charger"
protocol = "modbus_tcp"
ocpp_id = "{STATION}"
poll_interval_ms = 200
[devices.connection]
ip = "{ip}"
port = {port}
"#,
        data = dir.join("data").display(),
        ip = charger.ip(),
        port = charger.port()
    );
    write(dir, "ocpp-gw.toml", &text)
}

/// The `[csms]` and `[system.security]` lines of profile 2 trusting `ca_file`.
fn profile_2(ca_file: &Path) -> (String, String) {
    (
        format!("security_profile = 2\nbasic_auth_password = \"{PASSWORD}\""),
        format!("ca_cert_path = \"{}\"", ca_file.display()),
    )
}

struct Gateway {
    child: Child,
    log: PathBuf,
}

impl Gateway {
    fn start(config: &Path, log: PathBuf) -> Gateway {
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
            .args(["run", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Gateway { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has a line containing every one of `words`; returns that line.
    fn wait_log(&self, words: &[&str]) -> String {
        let until = Instant::now() + WAIT;
        loop {
            let text = self.log_text();
            if let Some(line) = text.lines().find(|l| words.iter().all(|w| l.contains(w))) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < until,
                "no log line with {words:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `WAIT` for the process to end by itself.
    fn wait_exit(&mut self) -> ExitStatus {
        let until = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "gateway did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_call(r: &Record, action: &str) -> bool {
    r.dir == Dir::In && r.frame[0] == 2 && r.frame[2] == action
}

fn tls_csms(server: &Leaf, client_ca: Option<&Ca>, password: bool) -> CsmsSim {
    let options = CsmsOptions {
        tls: Some(SimTls {
            cert_pem: server.pem.clone(),
            key_pem: server.key_pem.clone(),
            client_ca_pem: client_ca.map(|ca| ca.pem.clone()),
        }),
        basic_auth: password.then(|| [(STATION.to_owned(), PASSWORD.to_owned())].into()),
        ..CsmsOptions::default()
    };
    CsmsSim::start(loopback(), options).unwrap()
}

fn assert_boots(csms: &CsmsSim, gw: &Gateway) {
    let boot = csms.wait_for(WAIT, |r| is_call(r, "BootNotification"));
    assert!(
        boot.is_some(),
        "no BootNotification; refusals {:?}; gateway log:\n{}",
        csms.refusals(),
        gw.log_text()
    );
    csms.wait_for(WAIT, |r| is_call(r, "StatusNotification"))
        .expect("StatusNotification after boot");
    let errors = common::validate_records(&csms.records());
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

/// The gateway gave up on the handshake: the log says why, the CSMS saw no upgrade.
fn assert_refused_for(csms: &CsmsSim, gw: &Gateway, why: &str) {
    let line = gw.wait_log(&[STATION, "cannot connect to the CSMS", why]);
    assert!(line.contains("TLS: the CSMS certificate"), "{line}");
    let until = Instant::now() + WAIT;
    while csms.refusals().is_empty() {
        assert!(
            Instant::now() < until,
            "the CSMS recorded no refused handshake"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let refusals = csms.refusals();
    assert!(
        refusals
            .iter()
            .all(|r| r.reason.starts_with("TLS handshake failed")),
        "{refusals:?}"
    );
    assert_eq!(csms.connection_count(STATION), 0);
    assert!(csms.records().is_empty(), "{:#?}", csms.records());
}

#[test]
fn profile_2_boots_with_a_good_csms_certificate() {
    let ca = Ca::new("CSO root");
    let csms = tls_csms(&ca.server_cert(&["127.0.0.1"], false), None, true);
    assert!(csms.url().starts_with("wss://127.0.0.1:"), "{}", csms.url());
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("profile_2_good");
    let (csms_keys, security) = profile_2(&write(&dir, "ca.pem", &ca.pem));
    let config = write_config(&dir, &csms.url(), charger.addr(), &csms_keys, &security);
    let gw = Gateway::start(&config, dir.join("gateway.log"));

    assert_boots(&csms, &gw);
    assert!(csms.refusals().is_empty(), "{:?}", csms.refusals());
    assert_eq!(csms.client_certificate(STATION), None);
    assert!(
        !gw.log_text().contains(PASSWORD),
        "the password reached the log"
    );
}

#[test]
fn profile_2_refuses_a_certificate_from_another_ca() {
    let trusted = Ca::new("CSO root");
    let other = Ca::new("Somebody else");
    let csms = tls_csms(&other.server_cert(&["127.0.0.1"], false), None, true);
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("profile_2_other_ca");
    let (csms_keys, security) = profile_2(&write(&dir, "ca.pem", &trusted.pem));
    let config = write_config(&dir, &csms.url(), charger.addr(), &csms_keys, &security);
    let gw = Gateway::start(&config, dir.join("gateway.log"));

    assert_refused_for(&csms, &gw, "not signed by a trusted CA");
}

#[test]
fn profile_2_refuses_an_expired_certificate() {
    let ca = Ca::new("CSO root");
    let csms = tls_csms(&ca.server_cert(&["127.0.0.1"], true), None, true);
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("profile_2_expired");
    let (csms_keys, security) = profile_2(&write(&dir, "ca.pem", &ca.pem));
    let config = write_config(&dir, &csms.url(), charger.addr(), &csms_keys, &security);
    let gw = Gateway::start(&config, dir.join("gateway.log"));

    assert_refused_for(&csms, &gw, "has expired");
}

#[test]
fn profile_2_refuses_a_certificate_for_another_host_name() {
    let ca = Ca::new("CSO root");
    let csms = tls_csms(&ca.server_cert(&["csms.example.com"], false), None, true);
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("profile_2_wrong_host");
    let (csms_keys, security) = profile_2(&write(&dir, "ca.pem", &ca.pem));
    let config = write_config(&dir, &csms.url(), charger.addr(), &csms_keys, &security);
    let gw = Gateway::start(&config, dir.join("gateway.log"));

    assert_refused_for(&csms, &gw, "not valid for the host name");
}

#[test]
fn profile_3_presents_the_client_certificate_and_boots() {
    let cso = Ca::new("CSO root");
    let stations = Ca::new("Station CA");
    let csms = tls_csms(
        &cso.server_cert(&["127.0.0.1"], false),
        Some(&stations),
        false,
    );
    let client = stations.issue(&[STATION], ExtendedKeyUsagePurpose::ClientAuth, false);
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("profile_3_good");
    let security = format!(
        "ca_cert_path = \"{}\"\ntls_cert_path = \"{}\"\ntls_key_path = \"{}\"",
        write(&dir, "ca.pem", &cso.pem).display(),
        write(&dir, "station.pem", &client.pem).display(),
        write(&dir, "station.key", &client.key_pem).display(),
    );
    let config = write_config(
        &dir,
        &csms.url(),
        charger.addr(),
        "security_profile = 3",
        &security,
    );
    let gw = Gateway::start(&config, dir.join("gateway.log"));

    assert_boots(&csms, &gw);
    assert_eq!(csms.client_certificate(STATION), Some(client.der));
}

#[test]
fn profile_3_a_client_certificate_from_an_unknown_ca_is_refused() {
    let cso = Ca::new("CSO root");
    let stations = Ca::new("Station CA");
    let stranger = Ca::new("Unknown station CA");
    let csms = tls_csms(
        &cso.server_cert(&["127.0.0.1"], false),
        Some(&stations),
        false,
    );
    let client = stranger.issue(&[STATION], ExtendedKeyUsagePurpose::ClientAuth, false);
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("profile_3_unknown_client_ca");
    let security = format!(
        "ca_cert_path = \"{}\"\ntls_cert_path = \"{}\"\ntls_key_path = \"{}\"",
        write(&dir, "ca.pem", &cso.pem).display(),
        write(&dir, "station.pem", &client.pem).display(),
        write(&dir, "station.key", &client.key_pem).display(),
    );
    let config = write_config(
        &dir,
        &csms.url(),
        charger.addr(),
        "security_profile = 3",
        &security,
    );
    let gw = Gateway::start(&config, dir.join("gateway.log"));

    gw.wait_log(&[STATION, "the CSMS refused the client certificate"]);
    assert_eq!(csms.connection_count(STATION), 0);
    assert!(csms.records().is_empty(), "{:#?}", csms.records());
}

#[test]
fn a_csms_demanding_a_client_certificate_refuses_a_station_without_one() {
    let cso = Ca::new("CSO root");
    let stations = Ca::new("Station CA");
    let csms = tls_csms(
        &cso.server_cert(&["127.0.0.1"], false),
        Some(&stations),
        true,
    );
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("profile_3_no_client_cert");
    let (csms_keys, security) = profile_2(&write(&dir, "ca.pem", &cso.pem));
    let config = write_config(&dir, &csms.url(), charger.addr(), &csms_keys, &security);
    let gw = Gateway::start(&config, dir.join("gateway.log"));

    gw.wait_log(&[STATION, "requires a client certificate"]);
    let refusals = csms.refusals();
    assert!(
        refusals
            .iter()
            .any(|r| r.reason.contains("no certificates")),
        "{refusals:?}"
    );
    assert_eq!(csms.connection_count(STATION), 0);
    assert!(csms.records().is_empty(), "{:#?}", csms.records());
}

#[test]
fn an_unusable_key_file_stops_the_gateway_naming_the_file() {
    let ca = Ca::new("CSO root");
    let client = ca.issue(&[STATION], ExtendedKeyUsagePurpose::ClientAuth, false);
    let dir = scratch("profile_3_bad_key");
    // The key file holds the certificate again, not a key.
    let key_file = write(&dir, "station.key", &client.pem);
    let security = format!(
        "ca_cert_path = \"{}\"\ntls_cert_path = \"{}\"\ntls_key_path = \"{}\"",
        write(&dir, "ca.pem", &ca.pem).display(),
        write(&dir, "station.pem", &client.pem).display(),
        key_file.display(),
    );
    let config = write_config(
        &dir,
        "wss://127.0.0.1:9/ocpp",
        "127.0.0.1:502".parse().unwrap(),
        "security_profile = 3",
        &security,
    );
    let mut gw = Gateway::start(&config, dir.join("gateway.log"));

    // A configuration problem, found before anything starts: exit 2, as check-config.
    let status = gw.wait_exit();
    assert_eq!(status.code(), Some(2), "{}", gw.log_text());
    gw.wait_log(&[&key_file.display().to_string(), "no private key"]);
}

#[test]
fn client_config_names_the_file_at_fault() {
    let ca = Ca::new("CSO root");
    let client = ca.issue(&[STATION], ExtendedKeyUsagePurpose::ClientAuth, false);
    let other = ca.issue(&[STATION], ExtendedKeyUsagePurpose::ClientAuth, false);
    let dir = scratch("client_config_errors");
    let ca_file = write(&dir, "ca.pem", &ca.pem);
    let cert_file = write(&dir, "station.pem", &client.pem);
    let key_file = write(&dir, "station.key", &client.key_pem);
    let other_key = write(&dir, "other.key", &other.key_pem);
    let empty = write(&dir, "empty.pem", "");
    let missing = dir.join("missing.pem");
    let config = |ca: &Path, cert: &Path, key: &Path| {
        client_config(&TlsFiles {
            ca_certs: Some(ca),
            client_cert: Some((cert, key)),
        })
    };

    assert!(matches!(
        config(&ca_file, &cert_file, &key_file),
        Ok(Some(_))
    ));
    let cases: [(Result<_, TlsError>, &Path, &str); 4] = [
        (
            config(&missing, &cert_file, &key_file),
            &missing,
            "cannot read",
        ),
        (
            config(&empty, &cert_file, &key_file),
            &empty,
            "no usable CA",
        ),
        (
            config(&ca_file, &empty, &key_file),
            &empty,
            "no certificate",
        ),
        (
            config(&ca_file, &cert_file, &other_key),
            &other_key,
            "unusable client certificate",
        ),
    ];
    for (result, file, words) in cases {
        match result {
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains(&file.display().to_string()), "{text}");
                assert!(text.contains(words), "{text}");
            }
            Ok(_) => panic!("{} was accepted", file.display()),
        }
    }
}
