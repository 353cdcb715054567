//! The open-file limit follows the configuration: devices a reload adds need descriptors too,
//! so the soft limit is raised again when the new config is loaded, not only at start.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::gateway::{loopback, scratch, wait_status, Gateway, WAIT};
use ocpp_gw::admin::MAX_CONNECTIONS;
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

/// The soft limit the gateway starts with: enough for one device, not for twenty.
const LOW_SOFT: u64 = 200;

/// A config of `n` generic chargers, all units behind the bridge `bridge`.
fn write_config(dir: &Path, csms: &str, bridge: std::net::SocketAddr, n: u8) {
    let mut text = format!(
        "[system]\nlog_level = \"debug\"\ndata_dir = \"{}\"\n\n[csms]\nurl = \"{csms}\"\n\
         reconnect_interval_sec = 1\nreconnect_random_range_sec = 1\n",
        dir.join("data").display()
    );
    for unit in 1..=n {
        text.push_str(&format!(
            "\n[[devices]]\nid = \"charger-{unit}\"\ntemplate = \"generic_modbus_charger\"\n\
             protocol = \"modbus_tcp\"\nocpp_id = \"CP{unit:03}\"\npoll_interval_ms = 1000\n\
             [devices.connection]\nip = \"{}\"\nport = {}\nunit_id = {unit}\n",
            bridge.ip(),
            bridge.port()
        ));
    }
    std::fs::write(dir.join("ocpp-gw.toml"), text).unwrap();
}

/// The soft open-file limit of process `pid`, from /proc.
fn soft_limit_of(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[test]
fn a_reload_adding_devices_raises_the_soft_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    let hard = limit.rlim_max.min(4096);
    let wanted = ocpp_gw::fdlimit::needed(20, 0, MAX_CONNECTIONS);
    assert!(
        hard >= wanted,
        "this machine's hard limit {hard} is too low for the test"
    );
    assert!(ocpp_gw::fdlimit::needed(1, 0, MAX_CONNECTIONS) <= LOW_SOFT);

    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let bridge = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("fd_limit_reload");
    write_config(&dir, &csms.url(), bridge.addr(), 1);
    let mut command = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"));
    command
        .args(["run", "--config"])
        .arg(dir.join("ocpp-gw.toml"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("gateway.log")).unwrap());
    let low = libc::rlimit {
        rlim_cur: LOW_SOFT as libc::rlim_t,
        rlim_max: hard,
    };
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &low) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let gw = Gateway(command.spawn().unwrap());
    let ready = wait_status(&csms, "CP001", "Available", 0);
    let pid = gw.0.id();
    assert_eq!(soft_limit_of(pid), LOW_SOFT, "one device needs no more");

    write_config(&dir, &csms.url(), bridge.addr(), 20);
    gw.signal(libc::SIGHUP);
    wait_status(&csms, "CP020", "Available", ready.seq);
    let until = Instant::now() + WAIT;
    while soft_limit_of(pid) < wanted && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        soft_limit_of(pid),
        wanted,
        "the soft limit is raised to what 20 devices need"
    );
}
