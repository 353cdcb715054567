//! The status page in a real headless Chromium (Debian's `chromium`, installed by
//! scripts/setup.sh) while `ocpp-gw demo` runs: it loads, shows every station, and a screenshot
//! is left at target/status-page.png for a person to look at.

mod admin_common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use admin_common::{request, wait_for, WAIT};

const CHARGERS: usize = 3;
/// Chromium can be slow to start on a loaded machine.
const BROWSER_LIMIT: Duration = Duration::from_secs(90);

/// `ocpp-gw demo` with its stdout collected; stopped with SIGTERM on drop.
struct Demo {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Demo {
    fn start() -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
            .args(["demo", "--chargers", &CHARGERS.to_string()])
            .args(["--duration", "300", "--admin", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&out);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Demo { child, out }
    }

    /// The status page URL the demo printed.
    fn url(&self) -> String {
        wait_for(WAIT, || {
            let out = self.out.lock().unwrap();
            out.lines()
                .find_map(|l| l.strip_prefix("status page: "))
                .map(|u| u.trim().trim_end_matches('/').to_string())
        })
        .unwrap_or_else(|| panic!("demo printed no URL:\n{}", self.out.lock().unwrap()))
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs headless Chromium with a fresh profile and the given extra arguments.
fn chromium(profile: &Path, args: &[String]) -> Output {
    let _ = std::fs::remove_dir_all(profile);
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run chromium ({e}); scripts/setup.sh installs it (apt package chromium)")
        });
    let until = Instant::now() + BROWSER_LIMIT;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromium did not finish within {BROWSER_LIMIT:?}");
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn status_page_shows_every_station_in_chromium() {
    let demo = Demo::start();
    let url = demo.url();
    // Wait until every station is connected and every charger read, so the page is complete.
    wait_for(WAIT, || {
        let page = request(&url, "GET", "/", None, None).body;
        let connected = page.matches("<span class=\"ok\">connected</span>").count();
        let online = page.matches("<td class=\"ok\">online</td>").count();
        (connected == CHARGERS && online == CHARGERS).then_some(())
    })
    .expect("the demo's stations never all came up");

    let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chromium-profile");
    let dom = chromium(&profile, &["--dump-dom".into(), format!("{url}/")]);
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success() && html.contains("<table>"),
        "chromium failed: {}\n{html}",
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(html.contains("ocpp-gw"));
    for n in 1..=CHARGERS {
        let station = format!("CP{n:03}");
        let row = html
            .split("<tr ")
            .find(|r| r.contains(&format!("data-station=\"{station}\"")))
            .unwrap_or_else(|| panic!("no row for {station}:\n{html}"));
        assert!(row.contains(&format!("charger-{n}")), "{row}");
        assert!(row.contains("modbus_tcp"), "{row}");
        assert!(row.contains("online"), "{row}");
        assert!(row.contains("connected"), "{row}");
        assert!(row.contains(" Wh</td>"), "energy shown: {row}");
    }

    let shot = target_dir().join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &profile,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,500".into(),
            "--hide-scrollbars".into(),
            format!("{url}/"),
        ],
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {} ({e}): {}",
            shot.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 10_000, "suspiciously small screenshot");
}
