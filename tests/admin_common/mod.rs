//! Support for the admin, metrics and diag tests: a scratch config with admin tokens, the real
//! gateway binary, and a plain HTTP/1.1 client that can send from any loopback address.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Generous limit for anything to happen on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn loopback() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

/// A scratch directory under cargo's per-test-binary temp dir, emptied first, with the
/// generic template in `templates/`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/templates/generic_modbus_charger.toml");
    std::fs::copy(template, dir.join("templates/generic_modbus_charger.toml")).unwrap();
    dir
}

/// One token per role, made as `ocpp-gw token new` makes them.
pub struct Tokens {
    pub viewer: String,
    pub operator: String,
    pub admin: String,
    /// The `tokens = [...]` value for the config.
    pub config: String,
}

impl Tokens {
    pub fn new() -> Tokens {
        let mut entries = Vec::new();
        let mut make = |name: &str, role: &str| {
            let (token, hash) = ocpp_gw::admin::new_token().unwrap();
            entries.push(format!(
                "{{ name = \"{name}\", role = \"{role}\", sha256 = \"{hash}\" }}"
            ));
            token
        };
        let viewer = make("watcher", "viewer");
        let operator = make("ops", "operator");
        let admin = make("root", "admin");
        Tokens {
            viewer,
            operator,
            admin,
            config: format!("[{}]", entries.join(", ")),
        }
    }

    /// The token of `role` (`None` = no token).
    pub fn of(&self, role: Option<&str>) -> Option<&str> {
        match role {
            None => None,
            Some("viewer") => Some(&self.viewer),
            Some("operator") => Some(&self.operator),
            Some("admin") => Some(&self.admin),
            Some(other) => panic!("no role {other}"),
        }
    }
}

/// Writes `ocpp-gw.toml` in `dir`: `system` is extra text for `[system]` (sub-tables allowed
/// at its end), one Modbus TCP device `charger-N` / `CP00N` per charger address.
pub fn write_config(dir: &Path, system: &str, csms_url: &str, chargers: &[SocketAddr]) -> PathBuf {
    let mut text = format!(
        "[system]\nlog_level = \"info\"\ndata_dir = \"{}\"\n{system}\n\n\
         [csms]\nurl = \"{csms_url}\"\nreconnect_interval_sec = 1\nreconnect_random_range_sec = 1\n",
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

/// The gateway binary running `run --config`, killed on drop.
pub struct Gateway {
    child: Child,
    /// Where its log lines go (its stderr, or the configured log file).
    pub log: PathBuf,
    pub stderr: PathBuf,
}

impl Gateway {
    /// Starts the gateway; `log` is where its log lines are expected.
    pub fn start(config: &Path, log: &Path) -> Gateway {
        Gateway::spawn(config, log, Command::new(env!("CARGO_BIN_EXE_ocpp-gw")))
    }

    /// Starts the gateway with its open-file limit (soft and hard) at `nofile`, so that running
    /// out of descriptors is quick to provoke.
    pub fn start_with_nofile(config: &Path, log: &Path, nofile: u64) -> Gateway {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"));
        let limit = libc::rlimit {
            rlim_cur: nofile as libc::rlim_t,
            rlim_max: nofile as libc::rlim_t,
        };
        // SAFETY: setrlimit is async-signal-safe and only reads `limit`, a copy in the closure.
        unsafe {
            command.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Gateway::spawn(config, log, command)
    }

    fn spawn(config: &Path, log: &Path, mut command: Command) -> Gateway {
        let stderr = config.with_file_name("stderr.log");
        let file = std::fs::File::create(&stderr).unwrap();
        let child = command
            .args(["run", "--config"])
            .arg(config)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Gateway {
            child,
            log: log.to_path_buf(),
            stderr,
        }
    }

    /// Sends SIGTERM; the exit code if the gateway ends within `limit`.
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let status = wait_for(limit, || self.child.try_wait().ok().flatten())?;
        status.code()
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the log line announcing `what` ("API, status page and metrics", "metrics")
    /// and returns the URL in it.
    pub fn admin_url(&self, what: &str) -> String {
        let marker = format!("admin server: {what} on ");
        let found = wait_for(WAIT, || {
            self.log_text()
                .lines()
                .find_map(|l| l.split_once(&marker).map(|(_, url)| url.trim().to_string()))
        });
        found.unwrap_or_else(|| {
            panic!(
                "no '{marker}' line; log:\n{}\nstderr:\n{}",
                self.log_text(),
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            )
        })
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 50 ms until it gives `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let until = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request to `base` (`http://host:port`), optionally sent from `source`.
pub fn request(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    source: Option<IpAddr>,
) -> Answer {
    let authority = base.strip_prefix("http://").expect("http:// URL");
    let addr: SocketAddr = authority.parse().unwrap();
    let stream = connect_from(addr, source);
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut text =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    if let Some(token) = token {
        text.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if method != "GET" {
        text.push_str("Content-Length: 0\r\n");
    }
    text.push_str("\r\n");
    exchange(stream, &text)
}

/// Sends `text` and reads the whole answer.
pub fn exchange(mut stream: impl Read + Write, text: &str) -> Answer {
    stream.write_all(text.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_answer(&raw)
}

/// Parses a raw HTTP/1.1 answer with a Content-Length body.
pub fn parse_answer(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not HTTP: {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A TCP connection to `addr`, bound first to `source` when given (any 127.x.y.z works).
pub fn connect_from(addr: SocketAddr, source: Option<IpAddr>) -> TcpStream {
    match source {
        None => TcpStream::connect_timeout(&addr, WAIT).unwrap(),
        Some(ip) => {
            let socket =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket.bind(&SocketAddr::new(ip, 0).into()).unwrap();
            socket.connect_timeout(&addr.into(), WAIT).unwrap();
            socket.into()
        }
    }
}

/// One request with a JSON body (empty: none).
pub fn send(base: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> Answer {
    let authority = base.strip_prefix("http://").expect("http:// URL");
    let addr: SocketAddr = authority.parse().unwrap();
    let stream = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        text.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    exchange(stream, &text)
}
