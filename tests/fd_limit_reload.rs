//! The open-file limit follows the configuration: devices a reload adds need descriptors too,
//! so the soft limit is raised again when the new config is loaded, not only at start.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::gateway::{loopback, scratch, wait_status, Gateway, WAIT};
use ocpp_gw::admin::{FD_RESERVE, MAX_CONNECTIONS, MAX_PER_CLIENT};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

/// The soft limit the gateway starts with: enough for one device, not for twenty.
const LOW_SOFT: u64 = 200;

/// A config of `n` generic chargers, all units behind the bridge `bridge`, with the admin
/// listener if `admin`.
fn write_config(dir: &Path, csms: &str, bridge: std::net::SocketAddr, n: u8, admin: bool) {
    let admin = if admin {
        "\n[system.admin]\nbind = \"127.0.0.1:0\"\n"
    } else {
        ""
    };
    let mut text = format!(
        "[system]\nlog_level = \"debug\"\ndata_dir = \"{}\"\n{admin}\n[csms]\nurl = \"{csms}\"\n\
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

/// The hard limit the tests give the gateway: this process's, at most 4096.
fn hard_limit() -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    limit.rlim_max.min(4096)
}

/// Starts the gateway on `dir`'s config with the soft open-file limit `soft`.
fn start(dir: &Path, soft: u64) -> Gateway {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"));
    command
        .args(["run", "--config"])
        .arg(dir.join("ocpp-gw.toml"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("gateway.log")).unwrap());
    let low = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard_limit(),
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
    Gateway(command.spawn().unwrap())
}

#[test]
fn a_reload_adding_devices_raises_the_soft_open_file_limit() {
    let wanted = ocpp_gw::fdlimit::needed(20, 0, MAX_CONNECTIONS);
    assert!(
        hard_limit() >= wanted,
        "this machine's hard limit is too low for the test"
    );
    assert!(ocpp_gw::fdlimit::needed(1, 0, MAX_CONNECTIONS) <= LOW_SOFT);

    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let bridge = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("fd_limit_reload");
    write_config(&dir, &csms.url(), bridge.addr(), 1, false);
    let gw = start(&dir, LOW_SOFT);
    let ready = wait_status(&csms, "CP001", "Available", 0);
    let pid = gw.0.id();
    assert_eq!(soft_limit_of(pid), LOW_SOFT, "one device needs no more");

    write_config(&dir, &csms.url(), bridge.addr(), 20, false);
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

/// The admin listener refuses a connection whose descriptor comes within `FD_RESERVE` of the
/// limit. Once a reload raised the limit for many new stations, it must measure against the
/// raised limit: otherwise, with the descriptors below the old ceiling taken, every admin
/// connection is refused.
#[test]
fn the_admin_listener_answers_after_a_reload_raised_the_limit() {
    const DEVICES: u8 = 250;
    let soft = ocpp_gw::fdlimit::needed(1, 1, MAX_CONNECTIONS);
    assert!(hard_limit() >= ocpp_gw::fdlimit::needed(DEVICES.into(), 1, MAX_CONNECTIONS));
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let bridge = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("fd_limit_reload_admin");
    write_config(&dir, &csms.url(), bridge.addr(), 1, true);
    let gw = start(&dir, soft);
    let ready = wait_status(&csms, "CP001", "Available", 0);
    let admin = admin_addr(&dir);
    assert!(health(admin).starts_with("HTTP/1.1 200"));

    // Each new station holds a WebSocket, well beyond the old ceiling.
    write_config(&dir, &csms.url(), bridge.addr(), DEVICES, true);
    gw.signal(libc::SIGHUP);
    let until = Instant::now() + WAIT;
    let connected = || {
        (1..=DEVICES)
            .filter(|n| csms.connected(&format!("CP{n:03}")))
            .count()
    };
    while connected() < usize::from(DEVICES) {
        assert!(Instant::now() < until, "the stations did not all connect");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_status(&csms, &format!("CP{DEVICES:03}"), "Available", ready.seq);
    // Idle admin connections take the free descriptors left below the old ceiling, so the
    // next one lands above it.
    let old_ceiling = soft - FD_RESERVE;
    let open: Vec<u64> = std::fs::read_dir(format!("/proc/{}/fd", gw.0.id()))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let holes = (0..old_ceiling).filter(|fd| !open.contains(fd)).count();
    assert!(
        holes < MAX_PER_CLIENT,
        "{holes} free descriptors below {old_ceiling}"
    );
    let idle: Vec<_> = (0..holes)
        .map(|_| std::net::TcpStream::connect(admin).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let answer = health(admin);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(idle);
}

/// The admin listener's address, from the gateway's log.
fn admin_addr(dir: &Path) -> std::net::SocketAddr {
    let marker = "admin server: API, status page and metrics on http://";
    let until = Instant::now() + WAIT;
    loop {
        let log = std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default();
        if let Some(addr) = log
            .lines()
            .find_map(|l| l.split_once(marker).map(|(_, a)| a.trim().to_string()))
        {
            return addr.parse().unwrap();
        }
        assert!(
            Instant::now() < until,
            "no admin address in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The raw answer to `GET /api/v1/health`.
fn health(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: gw\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}
