//! Security profile 1 through the real binary: HTTP Basic authentication with the station
//! identity as user name, and a shared, derived or per-device password.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ocpp_gw::config::derive_password;
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir, Record};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

const WAIT: Duration = Duration::from_secs(20);
const PASSWORD: &str = "the-Right-passw0rd";
const SECRET: &str = "gateway-wide secret for CP passwords";

fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
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

/// A gateway config; `csms` are extra `[csms]` lines, each device is (ocpp_id, charger, extra
/// device lines).
fn write_config(
    dir: &Path,
    url: &str,
    csms: &str,
    devices: &[(&str, SocketAddr, &str)],
) -> PathBuf {
    let mut text = format!(
        r#"[system]
log_level = "debug"
data_dir = "{data}"

[csms]
url = "{url}"
reconnect_interval_sec = 1
reconnect_random_range_sec = 1
{csms}
"#,
        data = dir.join("data").display(),
    );
    for (ocpp_id, charger, extra) in devices {
        text.push_str(&format!(
            r#"
[[devices]]
id = "{ocpp_id}"
template = "generic_modbus_charger"
protocol = "modbus_tcp"
ocpp_id = "{ocpp_id}"
poll_interval_ms = 200
connection = {{ ip = "{ip}", port = {port} }}
{extra}
"#,
            ip = charger.ip(),
            port = charger.port()
        ));
    }
    let path = dir.join("ocpp-gw.toml");
    std::fs::write(&path, text).unwrap();
    path
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

    /// Waits until the log has a line containing every one of `words`.
    fn wait_log(&self, words: &[&str]) {
        let until = Instant::now() + WAIT;
        loop {
            let text = self.log_text();
            if text.lines().any(|l| words.iter().all(|w| l.contains(w))) {
                return;
            }
            assert!(
                Instant::now() < until,
                "no log line with {words:?}:\n{text}"
            );
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

fn csms_with(passwords: &[(&str, &str)]) -> CsmsSim {
    let passwords: HashMap<String, String> = passwords
        .iter()
        .map(|(station, password)| (station.to_string(), password.to_string()))
        .collect();
    let options = CsmsOptions {
        basic_auth: Some(passwords),
        ..CsmsOptions::default()
    };
    CsmsSim::start(loopback(), options).unwrap()
}

fn assert_boots(csms: &CsmsSim, gw: &Gateway, station: &str) {
    let boot = csms.wait_for(WAIT, |r| {
        r.station == station && is_call(r, "BootNotification")
    });
    assert!(
        boot.is_some(),
        "{station} did not boot; refusals {:?}; gateway log:\n{}",
        csms.refusals(),
        gw.log_text()
    );
}

#[test]
fn profile_1_boots_with_the_right_password() {
    let csms = csms_with(&[("CP001", PASSWORD)]);
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("profile_1_right");
    let csms_keys = format!("security_profile = 1\nbasic_auth_password = \"{PASSWORD}\"");
    let config = write_config(
        &dir,
        &csms.url(),
        &csms_keys,
        &[("CP001", charger.addr(), "")],
    );
    let gw = Gateway::start(&config, dir.join("gateway.log"));

    assert_boots(&csms, &gw, "CP001");
    csms.wait_for(WAIT, |r| is_call(r, "StatusNotification"))
        .expect("StatusNotification after boot");
    assert!(csms.refusals().is_empty(), "{:?}", csms.refusals());
    let errors = common::validate_records(&csms.records());
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
    assert!(
        !gw.log_text().contains(PASSWORD),
        "the password reached the log"
    );
}

#[test]
fn profile_1_refuses_a_wrong_password() {
    let csms = csms_with(&[("CP001", PASSWORD)]);
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("profile_1_wrong");
    let wrong = "the-Wrong-passw0rd";
    let csms_keys = format!("security_profile = 1\nbasic_auth_password = \"{wrong}\"");
    let config = write_config(
        &dir,
        &csms.url(),
        &csms_keys,
        &[("CP001", charger.addr(), "")],
    );
    let gw = Gateway::start(&config, dir.join("gateway.log"));

    gw.wait_log(&["CP001", "refused the credentials (HTTP 401)"]);
    let refusals = csms.refusals();
    assert!(
        refusals
            .iter()
            .any(|r| r.path == "/ocpp/CP001" && r.reason == "wrong password for CP001"),
        "{refusals:?}"
    );
    assert_eq!(csms.connection_count("CP001"), 0);
    assert!(
        !csms
            .records()
            .iter()
            .any(|r| is_call(r, "BootNotification")),
        "{:#?}",
        csms.records()
    );
    assert!(
        !gw.log_text().contains(wrong),
        "the password reached the log"
    );
}

#[test]
fn derived_and_per_device_passwords_are_presented() {
    let own = "CP002-own-passw0rd";
    let derived = derive_password(SECRET.as_bytes(), "CP001");
    let csms = csms_with(&[("CP001", derived.expose()), ("CP002", own)]);
    let first = ModbusChargerSim::start(loopback()).unwrap();
    let second = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("profile_1_derived");
    let csms_keys = format!("security_profile = 1\nbasic_auth_secret = \"{SECRET}\"");
    let own_key = format!("security = {{ basic_auth_password = \"{own}\" }}");
    let config = write_config(
        &dir,
        &csms.url(),
        &csms_keys,
        &[
            ("CP001", first.addr(), ""),
            ("CP002", second.addr(), &own_key),
        ],
    );
    let gw = Gateway::start(&config, dir.join("gateway.log"));

    assert_boots(&csms, &gw, "CP001");
    assert_boots(&csms, &gw, "CP002");
    assert!(csms.refusals().is_empty(), "{:?}", csms.refusals());
    let log = gw.log_text();
    assert!(!log.contains(own) && !log.contains(derived.expose()) && !log.contains(SECRET));
}

#[test]
fn check_config_reports_a_bad_password_without_showing_it() {
    let dir = scratch("profile_1_bad_password");
    let bad = "bad/password/with/slashes";
    let csms_keys = format!("security_profile = 1\nbasic_auth_password = \"{bad}\"");
    let config = write_config(
        &dir,
        "ws://127.0.0.1:9/ocpp",
        &csms_keys,
        &[("CP001", "127.0.0.1:502".parse().unwrap(), "")],
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
        .arg("check-config")
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!("{}: csms.basic_auth_password: ", config.display())),
        "{stderr}"
    );
    assert!(!stderr.contains(bad), "{stderr}");
}
