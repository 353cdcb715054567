//! Running the real `ocpp-gw` binary against the simulators, and reading what the CSMS saw.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir, Record};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

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

/// When the station sent `r`, from its RFC 3339 timestamp.
pub fn sent_at(r: &Record) -> std::time::SystemTime {
    ocpp_gw::util::time::parse_rfc3339(&r.ts)
        .unwrap_or_else(|| panic!("record {} has a bad timestamp {:?}", r.seq, r.ts))
}

/// The station's answer to the CSMS's CALL `id`: the whole CALLRESULT or CALLERROR frame.
pub fn answer_frame(csms: &CsmsSim, id: &str) -> serde_json::Value {
    csms.wait_for(WAIT, |r| {
        r.dir == Dir::In && (r.frame[0] == 3 || r.frame[0] == 4) && r.frame[1] == id
    })
    .map(|r| r.frame)
    .unwrap_or_else(|| panic!("no answer to {id}; CSMS saw {:#?}", csms.records()))
}

/// Waits until the simulated charger's holding register `addr` holds `value`.
pub fn wait_register(charger: &ModbusChargerSim, addr: u16, value: u16) {
    let until = Instant::now() + WAIT;
    while charger.register(addr) != value {
        assert!(
            Instant::now() < until,
            "register {addr} is {}, never became {value}",
            charger.register(addr)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that every record the CSMS holds validates against the OCPP 2.0.1 schemas.
pub fn assert_records_valid(csms: &CsmsSim) {
    let errors = super::validate_records(&csms.records());
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

/// A CSMS simulator, one simulated generic charger and the gateway (station `CP001`) between
/// them; the gateway is killed and the simulators stopped when dropped.
pub struct Rig {
    pub csms: CsmsSim,
    pub charger: ModbusChargerSim,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub gw: Gateway,
}

/// The station every [`Rig`] runs.
pub const STATION: &str = "CP001";

impl Rig {
    /// Starts everything in scratch directory `name`; `extra_csms` lines go into `[csms]`.
    /// Returns without waiting for the boot.
    pub fn start(name: &str, options: CsmsOptions, extra_csms: &str) -> Rig {
        let csms = CsmsSim::start(loopback(), options).unwrap();
        let charger = ModbusChargerSim::start(loopback()).unwrap();
        let dir = scratch(name);
        let config = write_config(&dir, &csms.url(), &[charger.addr()], extra_csms);
        let gw = Gateway::start(&config, &dir.join("gateway.log"));
        Rig {
            csms,
            charger,
            dir,
            config,
            gw,
        }
    }

    /// Starts everything with default simulators and waits until `CP001` reports Available;
    /// returns the rig and that StatusNotification's record.
    pub fn booted(name: &str) -> (Rig, Record) {
        let rig = Rig::start(name, CsmsOptions::default(), "");
        let ready = wait_status(&rig.csms, STATION, "Available", 0);
        (rig, ready)
    }

    /// Kills the gateway and starts it again with the same config and data directory; the
    /// new log goes to `gateway-<n>.log`.
    pub fn restart(&mut self, n: u32) {
        let _ = self.gw.0.kill();
        let _ = self.gw.0.wait();
        self.gw = Gateway::start(&self.config, &self.dir.join(format!("gateway-{n}.log")));
    }

    /// Sends a CALL to the station and returns its whole answer frame.
    pub fn call_frame(&self, action: &str, payload: serde_json::Value) -> serde_json::Value {
        let id = self
            .csms
            .call(STATION, action, payload)
            .unwrap_or_else(|e| panic!("cannot send {action}: {e}"));
        answer_frame(&self.csms, &id)
    }

    /// Sends a CALL to the station and returns its CALLRESULT payload; a CALLERROR fails.
    pub fn call(&self, action: &str, payload: serde_json::Value) -> serde_json::Value {
        let frame = self.call_frame(action, payload);
        assert_eq!(frame[0], 3, "{action} answered with {frame}");
        frame[2].clone()
    }

    /// SetVariables of one Actual value; returns the attributeStatus.
    pub fn set_variable(&self, component: &str, variable: &str, value: &str) -> String {
        let answer = self.call(
            "SetVariables",
            serde_json::json!({"setVariableData": [{
                "attributeValue": value,
                "component": {"name": component},
                "variable": {"name": variable},
            }]}),
        );
        answer["setVariableResult"][0]["attributeStatus"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// GetVariables of one Actual value; returns the whole result entry.
    pub fn get_variable(&self, component: &str, variable: &str) -> serde_json::Value {
        let answer = self.call(
            "GetVariables",
            serde_json::json!({"getVariableData": [{
                "component": {"name": component},
                "variable": {"name": variable},
            }]}),
        );
        answer["getVariableResult"][0].clone()
    }

    /// Waits for a CALL of `action` from the station after record `after` matching `pred`.
    pub fn wait_call(
        &self,
        action: &str,
        after: u64,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Record {
        wait_call(&self.csms, STATION, action, after, pred)
    }

    /// Waits for a StatusNotification `status` from the station after record `after`.
    pub fn wait_status(&self, status: &str, after: u64) -> Record {
        wait_status(&self.csms, STATION, status, after)
    }

    /// The CALLs of `action` the station sent after record `after`.
    pub fn calls_after(&self, action: &str, after: u64) -> Vec<Record> {
        self.csms
            .records()
            .into_iter()
            .filter(|r| r.seq > after && r.station == STATION && is_call(r, action))
            .collect()
    }
}

impl Rig {
    /// Like [`Rig::start`], but the device uses template `id`, written from `text` into the
    /// scratch templates directory beside the shipped ones.
    pub fn start_templated(
        name: &str,
        options: CsmsOptions,
        extra_csms: &str,
        (id, text): (&str, &str),
    ) -> Rig {
        let csms = CsmsSim::start(loopback(), options).unwrap();
        let charger = ModbusChargerSim::start(loopback()).unwrap();
        let dir = scratch(name);
        std::fs::write(dir.join("templates").join(format!("{id}.toml")), text).unwrap();
        let config = write_config(&dir, &csms.url(), &[charger.addr()], extra_csms);
        let config_text = std::fs::read_to_string(&config).unwrap().replace(
            "template = \"generic_modbus_charger\"",
            &format!("template = \"{id}\""),
        );
        std::fs::write(&config, config_text).unwrap();
        let gw = Gateway::start(&config, &dir.join("gateway.log"));
        Rig {
            csms,
            charger,
            dir,
            config,
            gw,
        }
    }
}
