//! `check-config` loads everything `run` loads — CSMS TLS material, the admin certificate, the
//! data directory, the log file — so it never passes a config that `run` then refuses: for each
//! broken setting both exit 2 naming the key.

mod admin_common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use admin_common::{scratch, write_config};

/// A self-signed certificate and key for `name`, as PEM files `<stem>.crt` and `<stem>.key`.
fn certificate(dir: &Path, stem: &str, name: &str) {
    let key = rcgen::generate_simple_self_signed(vec![name.into()]).unwrap();
    std::fs::write(dir.join(format!("{stem}.crt")), key.cert.pem()).unwrap();
    std::fs::write(
        dir.join(format!("{stem}.key")),
        key.signing_key.serialize_pem(),
    )
    .unwrap();
}

/// Runs the binary with `args` for at most `limit`; the exit code (None: still running, then
/// killed) and stderr.
fn gateway(args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let dir = std::env::temp_dir();
    let err_path = dir.join(format!(
        "check-config-{}-{}.err",
        std::process::id(),
        args.len()
    ));
    let err = std::fs::File::create(&err_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let code = admin_common::wait_for(limit, || child.try_wait().ok().flatten());
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    (code.and_then(|s| s.code()), stderr)
}

#[test]
fn check_config_refuses_what_run_refuses() {
    let dir = scratch("check-config-like-run");
    certificate(&dir, "a", "localhost");
    certificate(&dir, "b", "localhost");
    std::fs::write(dir.join("not-pem.crt"), "not a certificate\n").unwrap();
    let file_in_the_way = dir.join("file");
    std::fs::write(&file_in_the_way, "").unwrap();
    let wss = "wss://127.0.0.1:9/ocpp";
    let cases: [(&str, String, &str, &str); 6] = [
        (
            "mismatched_csms_cert",
            "\n[system.security]\nca_cert_path = \"a.crt\"\ntls_cert_path = \"a.crt\"\n\
             tls_key_path = \"b.key\"\n"
                .into(),
            wss,
            "system.security",
        ),
        (
            "missing_ca",
            "\n[system.security]\nca_cert_path = \"nope.crt\"\n".into(),
            wss,
            "system.security",
        ),
        (
            "ca_not_pem",
            "\n[system.security]\nca_cert_path = \"not-pem.crt\"\n".into(),
            wss,
            "system.security",
        ),
        (
            "mismatched_admin_cert",
            "\n[system.security]\ntls_cert_path = \"a.crt\"\ntls_key_path = \"b.key\"\n\n\
             [system.admin]\nbind = \"127.0.0.1:0\"\nhttps = true\n"
                .into(),
            "ws://127.0.0.1:9/ocpp",
            "system.admin",
        ),
        (
            "data_dir_not_a_directory",
            String::new(),
            "ws://127.0.0.1:9/ocpp",
            "system.data_dir",
        ),
        (
            "log_file_in_a_file",
            format!("log_file = \"{}/gw.log\"\n", file_in_the_way.display()),
            "ws://127.0.0.1:9/ocpp",
            "system.log_file",
        ),
    ];
    for (name, system, url, key) in cases {
        let config = write_config(&dir, &system, url, &[]);
        let mut text = std::fs::read_to_string(&config).unwrap();
        if name == "data_dir_not_a_directory" {
            text = text.replace(
                &format!("data_dir = \"{}\"", dir.join("data").display()),
                &format!("data_dir = \"{}/data\"", file_in_the_way.display()),
            );
        }
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap();
        for args in [vec!["check-config", path], vec!["run", "--config", path]] {
            let (code, stderr) = gateway(&args, Duration::from_secs(10));
            assert_eq!(code, Some(2), "{name} {args:?}: {stderr}");
            assert!(
                stderr.starts_with(&format!("{path}: {key}: ")),
                "{name} {args:?}: {stderr}"
            );
        }
    }
    // The same files, used as they should be, pass both.
    let good = write_config(
        &dir,
        "\n[system.security]\ntls_cert_path = \"a.crt\"\ntls_key_path = \"a.key\"\n\n\
         [system.admin]\nbind = \"127.0.0.1:0\"\nhttps = true\n",
        "ws://127.0.0.1:9/ocpp",
        &[],
    );
    let (code, stderr) = gateway(
        &["check-config", good.to_str().unwrap()],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(0), "{stderr}");
}
