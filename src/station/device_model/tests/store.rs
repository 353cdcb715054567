//! Persistence of CSMS-set values and the store file.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::*;

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ocpp-gw-dm-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn configured(m: &mut DeviceModel) {
    let data = |c: &str, v: Variable, value: &str| SetVariableData {
        attribute_type: None,
        attribute_value: value.into(),
        component: component(c),
        variable: v,
    };
    let req = SetVariablesRequest {
        set_variable_data: vec![
            data("OCPPCommCtrlr", variable("HeartbeatInterval"), "900"),
            data(
                "SecurityCtrlr",
                variable("BasicAuthPassword"),
                "the-new-password-123",
            ),
            data(
                "TxCtrlr",
                variable("TxStartPoint"),
                "EVConnected,Authorized",
            ),
        ],
    };
    let (res, _) = m.set_variables(&req, &mut NoExternal);
    assert!(res
        .set_variable_result
        .iter()
        .all(|r| r.attribute_status == SetVariableStatus::Accepted));
}

fn stored_names(v: &Value) -> Vec<String> {
    v["values"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    format!("{}.{}", e["component"]["name"], e["variable"]["name"]).replace('"', "")
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn only_values_the_csms_changed_are_persisted() {
    let mut m = model();
    assert_eq!(stored_names(&m.persisted()), Vec::<String>::new());
    m.set_evse_availability(1, ConnectorStatus::Occupied);
    configured(&mut m);
    assert_eq!(
        stored_names(&m.persisted()),
        [
            "OCPPCommCtrlr.HeartbeatInterval",
            "TxCtrlr.TxStartPoint",
            "SecurityCtrlr.BasicAuthPassword"
        ]
    );
}

#[test]
fn persisted_values_survive_a_restart() {
    let mut before = model();
    configured(&mut before);
    let stored = before.persisted();
    let mut after = model();
    assert_eq!(after.restore(&stored).ok(), Some(3));
    assert_eq!(after.heartbeat_interval(), Duration::from_secs(900));
    assert_eq!(after.basic_auth_password(), Some("the-new-password-123"));
    assert_eq!(
        after.tx_start_points(),
        vec![TxPoint::EVConnected, TxPoint::Authorized]
    );
    // Restored values count as changed: they are kept at the next save too.
    assert_eq!(after.persisted(), stored);
}

#[test]
fn restore_skips_what_no_longer_fits() {
    let mut m = model();
    let entry = |c: &str, v: &str, value: &str| json!({"component": {"name": c}, "variable": {"name": v}, "attributeType": "Actual", "value": value});
    let stored = json!({"version": 1, "values": [
        entry("OCPPCommCtrlr", "HeartbeatInterval", "0"),
        entry("OCPPCommCtrlr", "Gone", "1"),
        entry("SecurityCtrlr", "SecurityProfile", "3"),
        entry("OCPPCommCtrlr", "OfflineThreshold", "600"),
    ]});
    assert_eq!(m.restore(&stored).ok(), Some(1));
    assert_eq!(m.heartbeat_interval(), Duration::from_secs(300));
    assert_eq!(m.security_profile(), 1);
    assert_eq!(m.offline_threshold(), Duration::from_secs(600));
    for bad in [
        json!({"version": 2, "values": []}),
        json!([1, 2]),
        json!({"values": "x"}),
    ] {
        assert!(
            matches!(m.restore(&bad), Err(StoreError::Format(_))),
            "{bad}"
        );
    }
}

#[test]
fn the_store_file_round_trips_privately() {
    let dir = TempDir::new("roundtrip");
    assert!(matches!(read_store(&dir.0), Ok(None)));
    let mut m = model();
    configured(&mut m);
    let stored = m.persisted();
    assert!(write_store(&dir.0, &stored).is_ok());
    // A second write replaces the first.
    assert!(write_store(&dir.0, &stored).is_ok());
    assert_eq!(read_store(&dir.0).ok().flatten(), Some(stored));
    let path = dir.0.join(STORE_FILE);
    let mode = fs::metadata(&path)
        .map(|m| m.permissions().mode() & 0o777)
        .ok();
    assert_eq!(mode, Some(0o600));
    let leftovers: Vec<_> = fs::read_dir(&dir.0)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(leftovers, [STORE_FILE]);
}

#[test]
fn a_corrupt_store_is_reported_not_fatal() {
    let dir = TempDir::new("corrupt");
    assert!(fs::create_dir_all(&dir.0).is_ok());
    assert!(fs::write(dir.0.join(STORE_FILE), b"{\"version\": 1, \"val").is_ok());
    let err = read_store(&dir.0).expect_err("truncated JSON");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(STORE_FILE), "{err}");
    // A store that is a directory is an I/O error, not a panic.
    let odd = TempDir::new("odd");
    assert!(fs::create_dir_all(odd.0.join(STORE_FILE)).is_ok());
    assert!(matches!(read_store(&odd.0), Err(StoreError::Io { .. })));
    assert!(matches!(
        write_store(&odd.0, &json!({})),
        Err(StoreError::Io { .. })
    ));
}
