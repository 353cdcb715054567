//! The Debian package: `cargo deb` (cargo-deb, installed by scripts/setup.sh) packs the binary
//! this test run built, and `dpkg-deb` inspects the result. `--no-build` with the test binary
//! keeps a release build (minutes of LTO) out of the test suite; what is checked here is the
//! packaging metadata, which is the same for any binary.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{read, repo, unit_value};

fn run(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(command: &mut Command) -> String {
    String::from_utf8_lossy(&run(command).stdout).into_owned()
}

/// Builds the package into a scratch directory and returns its path.
fn build_deb() -> PathBuf {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deb");
    let _ = fs::remove_dir_all(&scratch);
    // cargo-deb looks for the binary under <target dir>/release; this scratch target dir holds
    // the binary the tests were built with.
    fs::create_dir_all(scratch.join("release")).expect("scratch dir");
    fs::copy(
        env!("CARGO_BIN_EXE_ocpp-gw"),
        scratch.join("release/ocpp-gw"),
    )
    .expect("copy the test binary");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let has_cargo_deb = Command::new(&cargo)
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_cargo_deb,
        "cargo-deb is not installed: run scripts/setup.sh (or `cargo install cargo-deb --locked`)"
    );
    run(Command::new(&cargo)
        .current_dir(repo())
        .env("CARGO_TARGET_DIR", &scratch)
        .args(["deb", "--no-build", "--fast", "--output"])
        .arg(scratch.join("out")));
    let debs: Vec<PathBuf> = fs::read_dir(scratch.join("out"))
        .expect("cargo deb output dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "expected one .deb, found {debs:?}");
    debs.into_iter().next().expect("one .deb")
}

/// `dpkg-deb -c`: path -> (mode string, owner/group).
fn contents(deb: &Path) -> BTreeMap<String, (String, String)> {
    stdout(Command::new("dpkg-deb").arg("-c").arg(deb))
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [mode, owner, _size, _date, _time, path, ..] = fields[..] else {
                return None;
            };
            let path = path.strip_prefix('.').unwrap_or(path);
            Some((path.to_string(), (mode.to_string(), owner.to_string())))
        })
        .collect()
}

#[test]
fn cargo_deb_packs_binary_unit_conffiles_and_user_creation() {
    let deb = build_deb();

    let files = contents(&deb);
    let mode = |path: &str| {
        files
            .get(path)
            .unwrap_or_else(|| panic!("package lacks {path}; it has {:?}", files.keys()))
            .clone()
    };
    let exec_start = unit_value("ExecStart");
    let binary = exec_start.split_whitespace().next().expect("ExecStart");
    let config = exec_start
        .split_whitespace()
        .skip_while(|w| *w != "--config")
        .nth(1)
        .expect("ExecStart names --config");
    assert_eq!(mode(binary), ("-rwxr-xr-x".into(), "0/0".into()));
    assert_eq!(
        mode(config),
        ("-rw-r-----".into(), "0/0".into()),
        "the configuration may hold credentials: not world-readable"
    );
    assert_eq!(
        mode("/usr/lib/systemd/system/ocpp-gw.service").0,
        "-rw-r--r--"
    );
    let templates: Vec<String> = fs::read_dir(repo().join("etc/templates"))
        .expect("etc/templates")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    assert!(!templates.is_empty());
    for template in &templates {
        mode(&format!("/etc/ocpp-gw/templates/{template}"));
    }

    let field = |name: &str| {
        stdout(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name))
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "ocpp-gw");
    assert!(
        field("Depends").split(", ").any(|d| d == "adduser"),
        "postinst uses adduser: {}",
        field("Depends")
    );

    // Everything under /etc is a conffile, so local edits survive upgrades.
    let conffiles = stdout(
        Command::new("dpkg-deb")
            .arg("-I")
            .arg(&deb)
            .arg("conffiles"),
    );
    let conffiles: Vec<&str> = conffiles.lines().map(str::trim).collect();
    assert!(conffiles.contains(&config), "{config} is not a conffile");
    for template in &templates {
        let path = format!("/etc/ocpp-gw/templates/{template}");
        assert!(
            conffiles.contains(&path.as_str()),
            "{path} is not a conffile"
        );
    }

    // The unit in the package is the repository's; maintainer scripts are shell that parses.
    let root = deb.with_extension("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    assert_eq!(
        fs::read_to_string(root.join("usr/lib/systemd/system/ocpp-gw.service")).expect("unit"),
        read(super::UNIT)
    );
    let control = deb.with_extension("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    for script in ["postinst", "postrm", "prerm"] {
        run(Command::new("sh").arg("-n").arg(control.join(script)));
    }
    let postinst = fs::read_to_string(control.join("postinst")).expect("postinst");
    let user = unit_value("User");
    assert!(!postinst.contains("#DEBHELPER#"), "unexpanded #DEBHELPER#");
    for wanted in [
        "adduser --quiet --system --group --home /var/lib/ocpp-gw".to_string(),
        format!("adduser --quiet {user} dialout"),
        format!("install -d -m 0750 -o {user} -g {user} /var/lib/ocpp-gw"),
        "deb-systemd-helper enable ocpp-gw.service".to_string(),
    ] {
        assert!(postinst.contains(&wanted), "postinst lacks `{wanted}`");
    }
    // The user exists before systemd's part of the script can start anything.
    let user_at = postinst.find("adduser").expect("adduser");
    let systemd_at = postinst.find("deb-systemd-helper").expect("systemd part");
    assert!(
        user_at < systemd_at,
        "postinst enables the unit before creating its user"
    );
    let postrm = fs::read_to_string(control.join("postrm")).expect("postrm");
    assert!(
        postrm.contains("rm -rf /var/lib/ocpp-gw"),
        "purge keeps the state directory"
    );
}
