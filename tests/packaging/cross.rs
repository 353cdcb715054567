//! ARM release binaries that cross/build.sh produced run under QEMU user mode and report this
//! crate's version. Targets not built on this machine are listed and not checked: building them
//! takes minutes each, so the test suite does not (see cross/README.md).

use std::path::PathBuf;
use std::process::Command;

use super::{package_field, repo};

/// Target, QEMU binary, and the sysroot a glibc build's dynamic loader is found in.
const TARGETS: &[(&str, &str, Option<&str>)] = &[
    (
        "aarch64-unknown-linux-gnu",
        "qemu-aarch64",
        Some("/usr/aarch64-linux-gnu"),
    ),
    (
        "armv7-unknown-linux-gnueabihf",
        "qemu-arm",
        Some("/usr/arm-linux-gnueabihf"),
    ),
    ("aarch64-unknown-linux-musl", "qemu-aarch64", None),
    ("armv7-unknown-linux-musleabihf", "qemu-arm", None),
];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

#[test]
fn cross_built_binaries_run_under_qemu() {
    let want = format!("ocpp-gw {}", package_field("version"));
    let mut checked = Vec::new();
    for (target, qemu, sysroot) in TARGETS {
        let binary = target_dir().join(target).join("release/ocpp-gw");
        if !binary.is_file() {
            eprintln!("{target}: not built here (cross/build.sh {target}); not checked");
            continue;
        }
        let mut command = Command::new(qemu);
        if let Some(sysroot) = sysroot {
            command.arg("-L").arg(sysroot);
        }
        let out = command
            .arg(&binary)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| {
                panic!("{target}: cannot run {qemu} ({e}); cross/build.sh installs qemu-user")
            });
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && printed.trim() == want,
            "{target}: `{qemu} {} --version` printed {printed:?} ({}); expected {want:?}. \
             Rebuild with cross/build.sh {target}.\n{}",
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        checked.push(*target);
    }
    eprintln!("checked under QEMU: {checked:?}");
}
