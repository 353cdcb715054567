//! `ocpp-gw diag el discover` when no node answers. A test binary of its own: cargo runs test
//! binaries one at a time, so no simulator of another test is listening meanwhile.

use std::process::Command;

#[test]
fn discover_without_nodes_exits_1() {
    let out = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
        .args(["diag", "el", "discover", "--timeout", "0.3"])
        .args(["--interface", "127.61.5.1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no node answered within 300ms"), "{err}");
    assert!(out.stdout.is_empty());
}
