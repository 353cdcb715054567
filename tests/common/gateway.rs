//! Running the real `ocpp-gw` binary against the simulators, and reading what the CSMS saw.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ocpp_gw::sim::csms::{CsmsSim, Dir, Record};

/// Generous: the suite runs on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(20);

/// `127.0.0.1:0`.
pub fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

/// A scratch directory under cargo's per-test-binary temp dir, emptied, with the sample
/// templates copied into `templates/`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    let etc = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/templates");
    for entry in std::fs::read_dir(etc).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, dir.join("templates").join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

/// A config with one `generic_modbus_charger` per address in `chargers` (CP001, CP002, …),
/// `extra_csms` lines appended to `[csms]`.
pub fn write_config(
    dir: &Path,
    csms_url: &str,
    chargers: &[SocketAddr],
    extra_csms: &str,
) -> PathBuf {
    let mut text = format!(
        "[system]\nlog_level = \"debug\"\ndata_dir = \"{}\"\n\n[csms]\nurl = \"{csms_url}\"\n\
         reconnect_interval_sec = 1\nreconnect_random_range_sec = 1\nheartbeat_interval_sec = 300\n{extra_csms}\n",
        dir.join("data").display()
    );
    for (i, addr) in chargers.iter().enumerate() {
        text.push_str(&format!(
            "\n[[devices]]\nid = \"charger-{n}\"\ntemplate = \"generic_modbus_charger\"\n\
             protocol = \"modbus_tcp\"\nocpp_id = \"CP{n:03}\"\npoll_interval_ms = 200\n\
             [devices.connection]\nip = \"{}\"\nport = {}\nunit_id = 1\n",
            addr.ip(),
            addr.port(),
            n = i + 1
        ));
    }
    let path = dir.join("ocpp-gw.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The gateway as a child process; killed when dropped.
pub struct Gateway(pub Child);

impl Gateway {
    /// Runs `ocpp-gw run --config <config>` with stderr going to `log`.
    pub fn start(config: &Path, log: &Path) -> Gateway {
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
            .args(["run", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Gateway(child)
    }

    /// Sends `signal` to the gateway.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as libc::pid_t, signal) };
    }

    /// Sends SIGTERM and waits up to `limit` for the exit.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        self.signal(libc::SIGTERM);
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(status) = self.0.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// True for a CALL of `action` from a station.
pub fn is_call(r: &Record, action: &str) -> bool {
    r.dir == Dir::In && r.frame[0] == 2 && r.frame[2] == action
}

/// The connector status of a StatusNotification record.
pub fn status_of(r: &Record) -> Option<&str> {
    is_call(r, "StatusNotification")
        .then(|| r.frame[3]["connectorStatus"].as_str())
        .flatten()
}

/// Waits for a StatusNotification with `status` from `station` after record `after`.
pub fn wait_status(csms: &CsmsSim, station: &str, status: &str, after: u64) -> Record {
    csms.wait_for(WAIT, |r| {
        r.seq > after && r.station == station && status_of(r) == Some(status)
    })
    .unwrap_or_else(|| {
        panic!(
            "no StatusNotification {status} from {station}; CSMS saw {:#?}",
            csms.records()
        )
    })
}

/// Waits for a CALL of `action` from `station` after record `after` that satisfies `pred`.
pub fn wait_call(
    csms: &CsmsSim,
    station: &str,
    action: &str,
    after: u64,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> Record {
    csms.wait_for(WAIT, |r| {
        r.seq > after && r.station == station && is_call(r, action) && pred(&r.frame[3])
    })
    .unwrap_or_else(|| {
        panic!(
            "no matching {action} from {station}; CSMS saw {:#?}",
            csms.records()
        )
    })
}
