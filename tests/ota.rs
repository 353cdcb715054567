//! scripts/make-ota-bundle.sh and scripts/ota-update.sh end to end in a temporary install root.
//! The "binaries" are shell scripts that answer `--version` like ocpp-gw and `health` with the
//! health their version was given; the service restart is a command that logs which version
//! `current` points at, so the tests see every restart and every switch.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory with a signing key pair, a second (wrong) key pair, and an install root.
struct Ota {
    dir: PathBuf,
}

impl Ota {
    fn new(name: &str) -> Ota {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ota-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let ota = Ota { dir };
        for key in ["signing", "other"] {
            let private = ota.path(&format!("{key}.pem"));
            let out = run(Command::new("openssl")
                .args(["genpkey", "-algorithm", "ed25519", "-out"])
                .arg(&private));
            assert!(out.status.success(), "{}", text(&out.stderr));
            let out = run(Command::new("openssl")
                .arg("pkey")
                .arg("-in")
                .arg(&private)
                .args(["-pubout", "-out"])
                .arg(ota.path(&format!("{key}.pub"))));
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        ota
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn prefix(&self) -> PathBuf {
        self.path("root/opt/ocpp-gw")
    }

    /// Makes a bundle of a fake binary for `version`, signed with `key`; returns its path.
    fn bundle(&self, version: &str, healthy: bool, key: &str) -> PathBuf {
        let binary = self.path(&format!("bin/ocpp-gw-{version}"));
        let script = format!(
            "#!/bin/sh\ncase \"$1\" in\n--version) echo \"ocpp-gw {version}\" ;;\nhealth) exit {} ;;\nesac\n",
            if healthy { 0 } else { 1 }
        );
        std::fs::write(&binary, script).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out_dir = self.path(&format!("bundles-{key}"));
        let out = run(Command::new(repo().join("scripts/make-ota-bundle.sh"))
            .arg("--key")
            .arg(self.path(&format!("{key}.pem")))
            .arg("--binary")
            .arg(&binary)
            .args(["--version", version, "--output"])
            .arg(&out_dir));
        assert!(
            out.status.success(),
            "make-ota-bundle.sh failed: {}",
            text(&out.stderr)
        );
        let bundle = out_dir.join(format!("ocpp-gw-{version}.ota"));
        assert!(bundle.is_file(), "no bundle at {}", bundle.display());
        bundle
    }

    /// Runs ota-update.sh on `bundle` with the fake restart and, unless `extra` gives another,
    /// the fake binary's own health check; returns (exit code, stderr).
    fn update(&self, bundle: &str, extra: &[&str]) -> (i32, String) {
        let prefix = self.prefix();
        let restart = format!(
            "readlink {} >> {}",
            prefix.join("current").display(),
            self.path("restarts").display()
        );
        let health = format!("{}/current/bin/ocpp-gw health", prefix.display());
        let mut command = Command::new(repo().join("scripts/ota-update.sh"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .arg("--pubkey")
            .arg(self.path("signing.pub"))
            .arg("--prefix")
            .arg(&prefix)
            .args(["--restart-cmd", &restart, "--keep", "2"])
            .args(["--health-timeout", "2", "--health-interval", "0.2"]);
        if !extra.iter().any(|a| a.starts_with("--health-")) {
            command.args(["--health-cmd", &health]);
        }
        let out = run(command.args(extra).arg(bundle));
        (out.status.code().unwrap_or(-1), text(&out.stderr))
    }

    fn current(&self) -> Option<String> {
        std::fs::read_link(self.prefix().join("current"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }

    fn versions(&self) -> Vec<String> {
        let mut versions: Vec<String> = std::fs::read_dir(self.prefix().join("versions"))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        versions.sort();
        versions
    }

    fn restarts(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("restarts"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn install_ok(ota: &Ota, bundle: &Path) {
    let (code, stderr) = ota.update(bundle.to_str().unwrap(), &[]);
    assert_eq!(code, 0, "install failed:\n{stderr}");
}

/// Serves files of `dir` over HTTP on loopback, plus `/health` (always 200), until the test
/// process ends. Returns the base URL.
fn serve(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let body = match path {
                "/health" => Some(b"ok".to_vec()),
                _ => std::fs::read(dir.join(path.trim_start_matches('/'))).ok(),
            };
            let (status, body) = match body {
                Some(body) => ("200 OK", body),
                None => ("404 Not Found", Vec::new()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[test]
fn bad_signature_tampered_payload_and_wrong_checksum_are_refused() {
    let ota = Ota::new("refused");
    install_ok(&ota, &ota.bundle("1.0.0", true, "signing"));
    assert_eq!(ota.restarts(), ["versions/1.0.0"]);

    let foreign = ota.bundle("1.1.0", true, "other");
    let (code, stderr) = ota.update(foreign.to_str().unwrap(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("bad signature"), "{stderr}");

    // A correctly signed manifest with another payload beside it.
    let genuine = ota.bundle("1.2.0", true, "signing");
    let other = ota.bundle("1.3.0", true, "signing");
    let (a, b) = (ota.path("tamper/a"), ota.path("tamper/b"));
    for (dir, bundle) in [(&a, &genuine), (&b, &other)] {
        std::fs::create_dir_all(dir).unwrap();
        let out = run(Command::new("tar")
            .arg("-xf")
            .arg(bundle)
            .arg("-C")
            .arg(dir));
        assert!(out.status.success());
    }
    std::fs::copy(b.join("payload.tar.gz"), a.join("payload.tar.gz")).unwrap();
    let tampered = ota.path("tamper/ocpp-gw-1.2.0.ota");
    let out = run(Command::new("tar")
        .arg("-cf")
        .arg(&tampered)
        .arg("-C")
        .arg(&a)
        .args(["manifest", "manifest.sig", "payload.tar.gz"]));
    assert!(out.status.success());
    let (code, stderr) = ota.update(tampered.to_str().unwrap(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("payload SHA-256"), "{stderr}");

    let wrong_sum = "0".repeat(64);
    let (code, stderr) = ota.update(genuine.to_str().unwrap(), &["--sha256", &wrong_sum]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("bundle SHA-256"), "{stderr}");

    let (code, stderr) = ota.update(ota.path("bin/ocpp-gw-1.0.0").to_str().unwrap(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not an ocpp-gw bundle"), "{stderr}");

    // Nothing changed: same version running, no new version on disk, no restart.
    assert_eq!(ota.current().as_deref(), Some("versions/1.0.0"));
    assert_eq!(ota.versions(), ["1.0.0"]);
    assert_eq!(ota.restarts(), ["versions/1.0.0"]);
}

#[test]
fn unhealthy_version_is_rolled_back_and_removed() {
    let ota = Ota::new("rollback");
    install_ok(&ota, &ota.bundle("1.0.0", true, "signing"));

    let bad = ota.bundle("2.0.0", false, "signing");
    let (code, stderr) = ota.update(bad.to_str().unwrap(), &[]);
    assert_eq!(code, 3, "expected a rollback:\n{stderr}");
    assert!(stderr.contains("rolled back to 1.0.0"), "{stderr}");
    assert_eq!(ota.current().as_deref(), Some("versions/1.0.0"));
    assert_eq!(ota.versions(), ["1.0.0"]);
    assert_eq!(
        ota.restarts(),
        ["versions/1.0.0", "versions/2.0.0", "versions/1.0.0"]
    );

    // With nothing to return to, the unhealthy version stays and the caller is told.
    let fresh = Ota::new("rollback-first");
    let bad = fresh.bundle("2.0.0", false, "signing");
    let (code, stderr) = fresh.update(bad.to_str().unwrap(), &[]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("no previous version"), "{stderr}");
}

#[test]
fn healthy_versions_over_http_are_kept_and_old_ones_pruned() {
    let ota = Ota::new("keep");
    let mut bundles = Vec::new();
    for version in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"] {
        bundles.push(ota.bundle(version, true, "signing"));
    }
    let base = serve(ota.path("bundles-signing"));
    let health = format!("{base}/health");
    for version in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"] {
        let url = format!("{base}/ocpp-gw-{version}.ota");
        let (code, stderr) = ota.update(&url, &["--health-url", &health]);
        assert_eq!(code, 0, "update to {version} failed:\n{stderr}");
        assert_eq!(
            ota.current(),
            Some(format!("versions/{version}")),
            "{stderr}"
        );
    }
    // --keep 2: the current version and the two installed before it.
    assert_eq!(ota.versions(), ["1.1.0", "1.2.0", "1.3.0"]);
    let history = std::fs::read_to_string(ota.prefix().join("history")).unwrap();
    assert_eq!(
        history.lines().collect::<Vec<_>>(),
        ["1.1.0", "1.2.0", "1.3.0"]
    );
    let current = ota.prefix().join("current/bin/ocpp-gw");
    let out = run(Command::new(current).arg("--version"));
    assert_eq!(text(&out.stdout).trim(), "ocpp-gw 1.3.0");

    // The bundle's own checksum, as printed by make-ota-bundle.sh, is accepted.
    let sum = run(Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .arg(&bundles[3]));
    let sum = text(&sum.stdout);
    let sum = sum.split_whitespace().next().unwrap();
    let restarts = ota.restarts().len();
    let (code, stderr) = ota.update(bundles[3].to_str().unwrap(), &["--sha256", sum]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("already the current version"), "{stderr}");
    assert_eq!(ota.restarts().len(), restarts, "a no-op update restarted");
}

/// `ExecStart=` values of a unit file's [Service] section, in order.
fn exec_starts(rel: &str) -> Vec<String> {
    std::fs::read_to_string(repo().join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ExecStart="))
        .map(str::to_string)
        .collect()
}

#[test]
fn systemd_drop_in_runs_the_current_version_and_falls_back_to_the_packaged_one() {
    let unit = exec_starts("etc/systemd/ocpp-gw.service");
    let [packaged] = &unit[..] else {
        panic!("ocpp-gw.service: expected one ExecStart, got {unit:?}");
    };
    let args = packaged
        .strip_prefix("/usr/bin/ocpp-gw ")
        .expect("unit runs /usr/bin/ocpp-gw");
    let drop_in = exec_starts("etc/systemd/ocpp-gw.service.d/ota.conf");
    let [reset, wrapper] = &drop_in[..] else {
        panic!("ota.conf: expected `ExecStart=` then the new command, got {drop_in:?}");
    };
    assert!(reset.is_empty(), "ota.conf must reset ExecStart first");
    let script = std::fs::read_to_string(repo().join("scripts/ota-update.sh")).unwrap();
    let prefix = script
        .lines()
        .find_map(|l| l.strip_prefix("prefix=${OCPP_GW_OTA_PREFIX:-"))
        .and_then(|rest| rest.strip_suffix('}'))
        .expect("ota-update.sh default prefix");
    let shell = wrapper
        .strip_prefix("/bin/sh -c '")
        .and_then(|w| w.strip_suffix('\''))
        .unwrap_or_else(|| panic!("ota.conf: not a /bin/sh -c '...' wrapper: {wrapper}"));

    // Run the wrapper as systemd would (`$$` is a literal `$`), with both binaries faked under a
    // scratch root: each prints who it is and its arguments.
    let ota = Ota::new("drop-in");
    let root = ota.path("root");
    let rooted_prefix = root.join(prefix.trim_start_matches('/'));
    let fake = |path: &Path, who: &str| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("#!/bin/sh\necho {who} \"$@\"\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let current = rooted_prefix.join("versions/1.0.0/bin/ocpp-gw");
    fake(&current, "ota");
    fake(&root.join("usr/bin/ocpp-gw"), "packaged");
    let shell = shell
        .replace("$$", "$")
        .replace(prefix, &rooted_prefix.to_string_lossy())
        .replace(
            "/usr/bin/ocpp-gw",
            &root.join("usr/bin/ocpp-gw").to_string_lossy(),
        );
    let runs = || {
        let out = run(Command::new("sh").arg("-c").arg(&shell));
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    };
    assert_eq!(
        runs(),
        format!("packaged {args}"),
        "no OTA version installed yet"
    );
    std::os::unix::fs::symlink("versions/1.0.0", rooted_prefix.join("current")).unwrap();
    assert_eq!(runs(), format!("ota {args}"));
}
