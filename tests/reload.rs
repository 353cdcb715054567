//! Live reload through the real binary, between simulated Modbus chargers and a simulated CSMS:
//! SIGHUP with devices added, removed and re-templated; a broken config refused; and the
//! config directory watch.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir, Record};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

const WAIT: Duration = Duration::from_secs(20);

fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

/// A scratch directory with two copies of the generic template, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    let generic = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/templates/generic_modbus_charger.toml"),
    )
    .unwrap();
    for id in ["tmpl_a", "tmpl_c"] {
        let text = generic.replace("id = \"generic_modbus_charger\"", &format!("id = \"{id}\""));
        std::fs::write(dir.join(format!("templates/{id}.toml")), text).unwrap();
    }
    dir
}

/// A config for `devices` (station id, template, charger address); `extra` goes into
/// `[system]`.
fn write_config(dir: &Path, csms: &str, extra: &str, devices: &[(&str, &str, SocketAddr)]) {
    let mut text = format!(
        "[system]\nlog_level = \"debug\"\ndata_dir = \"{}\"\n{extra}\n\n[csms]\nurl = \"{csms}\"\n\
         reconnect_interval_sec = 1\nreconnect_random_range_sec = 1\n",
        dir.join("data").display()
    );
    for (id, template, addr) in devices {
        text.push_str(&format!(
            "\n[[devices]]\nid = \"{id}\"\ntemplate = \"{template}\"\nprotocol = \"modbus_tcp\"\n\
             ocpp_id = \"{id}\"\npoll_interval_ms = 200\n\
             connection = {{ ip = \"{}\", port = {} }}\n",
            addr.ip(),
            addr.port()
        ));
    }
    std::fs::write(dir.join("ocpp-gw.toml"), text).unwrap();
}

struct Gateway {
    child: Child,
    log: PathBuf,
}

impl Gateway {
    fn start(dir: &Path) -> Gateway {
        let log = dir.join("gateway.log");
        let child = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
            .args(["run", "--config"])
            .arg(dir.join("ocpp-gw.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Gateway { child, log }
    }

    fn hangup(&self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGHUP) };
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has a line containing `text`.
    fn wait_log(&self, text: &str) {
        wait_until(&format!("log line {text:?}"), || self.log().contains(text));
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let until = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn boots(records: &[Record], station: &str) -> usize {
    records
        .iter()
        .filter(|r| {
            r.station == station
                && r.dir == Dir::In
                && r.frame[0] == 2
                && r.frame[2] == "BootNotification"
        })
        .count()
}

/// Waits until `station` has booted `n` times and reported Available since the last boot.
fn wait_booted(csms: &CsmsSim, station: &str, n: usize) {
    wait_until(&format!("{station} boot {n} and Available"), || {
        let records = csms.records();
        let last_boot = records.iter().rposition(|r| {
            r.station == station && r.dir == Dir::In && r.frame[2] == "BootNotification"
        });
        boots(&records, station) == n
            && last_boot.is_some_and(|b| {
                records.iter().skip(b).any(|r| {
                    r.station == station
                        && r.frame[2] == "StatusNotification"
                        && r.frame[3]["connectorStatus"] == "Available"
                })
            })
    });
}

#[test]
fn sighup_adds_removes_and_restarts_devices_and_refuses_a_broken_config() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let sims: Vec<ModbusChargerSim> = (0..4)
        .map(|_| ModbusChargerSim::start(loopback()).unwrap())
        .collect();
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| sims[i].addr());
    let dir = scratch("reload_sighup");
    let url = csms.url();
    write_config(
        &dir,
        &url,
        "",
        &[("A", "tmpl_a", a), ("B", "tmpl_a", b), ("C", "tmpl_c", c)],
    );
    let gw = Gateway::start(&dir);
    for station in ["A", "B", "C"] {
        wait_booted(&csms, station, 1);
    }
    // A vehicle plugs in at A: its transaction must outlive the reload.
    sims[0].set_status(1);
    let started = csms
        .wait_for(WAIT, |r| {
            r.station == "A"
                && r.frame[2] == "TransactionEvent"
                && r.frame[3]["eventType"] == "Started"
        })
        .expect("A starts a transaction");
    let tx = started.frame[3]["transactionInfo"]["transactionId"].clone();

    // B removed, D added, C's template changed, A untouched.
    let template_c = dir.join("templates/tmpl_c.toml");
    let text = std::fs::read_to_string(&template_c).unwrap();
    std::fs::write(&template_c, text.replace("MB-AC22", "MB-AC22-v2")).unwrap();
    write_config(
        &dir,
        &url,
        "",
        &[("A", "tmpl_a", a), ("C", "tmpl_c", c), ("D", "tmpl_a", d)],
    );
    gw.hangup();
    wait_booted(&csms, "D", 1);
    wait_booted(&csms, "C", 2);
    wait_until("B disconnected", || !csms.connected("B"));
    let records = csms.records();
    let model_of_last_c_boot = records
        .iter()
        .rev()
        .find(|r| r.station == "C" && r.frame[2] == "BootNotification")
        .map(|r| r.frame[3]["chargingStation"]["model"].clone());
    assert_eq!(model_of_last_c_boot, Some(serde_json::json!("MB-AC22-v2")));
    assert_eq!(csms.connection_count("C"), 2);
    assert_eq!(boots(&records, "A"), 1, "A must not boot again");
    assert_eq!(csms.connection_count("A"), 1, "A keeps its WebSocket");
    assert!(csms.connected("A"));
    gw.wait_log("reload: 1 added, 1 removed, 1 changed, 1 unchanged");
    // The same transaction goes on at A and ends when the vehicle leaves, seqNo unbroken.
    sims[0].set_status(0);
    let ended = csms
        .wait_for(WAIT, |r| {
            r.station == "A"
                && r.frame[2] == "TransactionEvent"
                && r.frame[3]["eventType"] == "Ended"
        })
        .expect("A's transaction ends after the reload");
    assert_eq!(ended.frame[3]["transactionInfo"]["transactionId"], tx);
    let seqs: Vec<i64> = csms
        .records()
        .iter()
        .filter(|r| r.station == "A" && r.frame[0] == 2 && r.frame[2] == "TransactionEvent")
        .map(|r| r.frame[3]["seqNo"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(seqs, (0..seqs.len() as i64).collect::<Vec<_>>());

    // A broken config and a broken template: refused, every error logged, nothing changes.
    std::fs::write(
        dir.join("templates/tmpl_a.toml"),
        "[template]\nid = \"tmpl_a\"\nvendor = \"x\"\n",
    )
    .unwrap();
    let broken = std::fs::read_to_string(dir.join("ocpp-gw.toml"))
        .unwrap()
        .replace("[csms]\n", "[csms]\nbogus = 1\n");
    std::fs::write(dir.join("ocpp-gw.toml"), broken).unwrap();
    let before = csms.records().len();
    gw.hangup();
    gw.wait_log("reload refused: 2 problem(s)");
    let log = gw.log();
    let config_file = dir.join("ocpp-gw.toml").display().to_string();
    let template_file = dir.join("templates/tmpl_a.toml").display().to_string();
    assert!(
        log.contains(&format!("{config_file}: csms.bogus: unknown key")),
        "{log}"
    );
    assert!(
        log.contains(&format!("{template_file}: template.vendor: unknown key")),
        "{log}"
    );
    let records = csms.records();
    assert!(
        !records
            .iter()
            .skip(before)
            .any(|r| r.frame[2] == "BootNotification"),
        "no station booted after the refused reload"
    );
    for station in ["A", "C", "D"] {
        assert!(csms.connected(station), "{station} still connected");
    }
    assert_eq!(csms.connection_count("A"), 1);
    assert_eq!(csms.connection_count("C"), 2);
    assert_eq!(csms.connection_count("D"), 1);
    let errors = common::validate_records(&records);
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

#[test]
fn a_watched_config_reloads_when_edited() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let one = ModbusChargerSim::start(loopback()).unwrap();
    let two = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("reload_watch");
    let url = csms.url();
    let watch = "watch_config = true";
    write_config(&dir, &url, watch, &[("W1", "tmpl_a", one.addr())]);
    let gw = Gateway::start(&dir);
    wait_booted(&csms, "W1", 1);
    write_config(
        &dir,
        &url,
        watch,
        &[("W1", "tmpl_a", one.addr()), ("W2", "tmpl_c", two.addr())],
    );
    wait_booted(&csms, "W2", 1);
    assert_eq!(csms.connection_count("W1"), 1);
    assert_eq!(boots(&csms.records(), "W1"), 1);
    gw.wait_log("reload: 1 added, 0 removed, 0 changed, 1 unchanged");
}
