//! The real `ocpp-gw run` under a fake service manager: a unix datagram socket named by
//! NOTIFY_SOCKET, as systemd passes it to a `Type=notify` service with `WatchdogSec=`.

use std::net::{SocketAddr, TcpListener};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{self, UnixDatagram};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// A scratch directory with a config whose charger and CSMS are closed loopback ports: the
/// gateway runs, retrying both, which is all the service manager sees.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        repo.join("etc/templates/generic_modbus_charger.toml"),
        dir.join("templates/generic_modbus_charger.toml"),
    )
    .unwrap();
    let closed = closed_port();
    let config = format!(
        r#"[system]
log_level = "debug"
data_dir = "{data}"

[csms]
url = "ws://{closed}/ocpp"

[[devices]]
id = "charger-1"
template = "generic_modbus_charger"
protocol = "modbus_tcp"
ocpp_id = "CP001"
[devices.connection]
ip = "{ip}"
port = {port}
"#,
        data = dir.join("data").display(),
        ip = closed.ip(),
        port = closed.port(),
    );
    std::fs::write(dir.join("ocpp-gw.toml"), config).unwrap();
    dir
}

/// A loopback port nobody listens on (bound, then released).
fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

struct Gateway(Child);

impl Gateway {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Gateway {
        let log = std::fs::File::create(dir.join("gateway.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
            .args(["run", "--config"])
            .arg(dir.join("ocpp-gw.toml"))
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Gateway(child)
    }

    fn sigterm(&self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let until = Instant::now() + WAIT;
        while Instant::now() < until {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("gateway did not exit within {WAIT:?} of SIGTERM");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next notification, or a panic naming what was awaited and the gateway's log.
fn next(socket: &UnixDatagram, dir: &Path, awaiting: &str) -> String {
    let mut buf = [0u8; 1024];
    match socket.recv(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Err(e) => panic!(
            "no notification ({e}) while waiting for {awaiting}; gateway log:\n{}",
            std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default()
        ),
    }
}

fn has(message: &str, assignment: &str) -> bool {
    message.lines().any(|line| line == assignment)
}

#[test]
fn reports_ready_pings_the_watchdog_and_reports_stopping_on_sigterm() {
    let dir = scratch("sdnotify-watchdog");
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    // 200 ms period: the gateway pings every 100 ms.
    let mut gateway = Gateway::start(
        &dir,
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );

    let first = next(&socket, &dir, "READY=1");
    assert!(
        has(&first, "READY=1"),
        "first notification is not READY=1: {first:?}"
    );
    assert!(first.lines().any(|l| l.starts_with("STATUS=")), "{first:?}");
    for n in 0..3 {
        let ping = next(&socket, &dir, "WATCHDOG=1");
        assert_eq!(ping, "WATCHDOG=1", "watchdog ping {n}");
    }

    gateway.sigterm();
    loop {
        let message = next(&socket, &dir, "STOPPING=1");
        if has(&message, "STOPPING=1") {
            break;
        }
        assert_eq!(message, "WATCHDOG=1", "unexpected notification");
    }
    let status = gateway.wait_exit();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn abstract_socket_and_a_watchdog_meant_for_another_process() {
    let dir = scratch("sdnotify-abstract");
    let name = format!("ocpp-gw-sdnotify-test-{}", std::process::id());
    let addr = net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    // WATCHDOG_PID names pid 1: the watchdog belongs to someone else, so no pings may come.
    let mut gateway = Gateway::start(
        &dir,
        &[
            ("NOTIFY_SOCKET", &format!("@{name}")),
            ("WATCHDOG_USEC", "20000"),
            ("WATCHDOG_PID", "1"),
        ],
    );

    let first = next(&socket, &dir, "READY=1");
    assert!(has(&first, "READY=1"), "{first:?}");
    // Room for a wrongly armed watchdog (10 ms interval) to show itself before the stop.
    std::thread::sleep(Duration::from_millis(300));
    gateway.sigterm();
    let second = next(&socket, &dir, "STOPPING=1");
    assert!(
        has(&second, "STOPPING=1"),
        "expected STOPPING=1 right after READY=1, got {second:?}"
    );
    let status = gateway.wait_exit();
    assert!(status.success(), "exit status {status}");
}
