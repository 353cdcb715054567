//! GetVariables, SetVariables, station-kept values and typed getters.

use super::*;
use crate::ocpp::messages::{GetVariableStatus as G, SetVariableStatus as S};

fn comm() -> Component {
    component("OCPPCommCtrlr")
}

#[test]
fn get_reports_every_status() {
    let m = model();
    let x = NoExternal;
    let ok = get(&m, &x, comm(), variable("HeartbeatInterval"), None);
    assert_eq!(
        (ok.attribute_status, ok.attribute_value.as_deref()),
        (G::Accepted, Some("300"))
    );
    assert_eq!(ok.attribute_type, None, "attributeType is echoed as sent");
    let folded = get(
        &m,
        &x,
        component("ocppcommctrlr"),
        variable("HEARTBEATINTERVAL"),
        Some(Attribute::Actual),
    );
    assert_eq!(folded.attribute_status, G::Accepted);
    assert_eq!(folded.component.name, "ocppcommctrlr", "echoed as sent");
    let cases = [
        (
            component("NoSuchCtrlr"),
            variable("HeartbeatInterval"),
            None,
            G::UnknownComponent,
        ),
        (comm(), variable("NoSuchVariable"), None, G::UnknownVariable),
        // MessageTimeout exists only as instance Default.
        (comm(), variable("MessageTimeout"), None, G::UnknownVariable),
        (
            comm(),
            variable("HeartbeatInterval"),
            Some(Attribute::Target),
            G::NotSupportedAttributeType,
        ),
        (
            on_evse("EVSE", 3, None),
            variable("Power"),
            None,
            G::UnknownComponent,
        ),
        (
            on_evse("Connector", 1, None),
            variable("ConnectorType"),
            None,
            G::UnknownComponent,
        ),
    ];
    for (c, v, a, want) in cases {
        let r = get(&m, &x, c.clone(), v.clone(), a);
        assert_eq!(r.attribute_status, want, "{c:?} {v:?} {a:?}");
        assert_eq!(r.attribute_value, None);
    }
    let timeout = get(&m, &x, comm(), instance("MessageTimeout", "default"), None);
    assert_eq!(timeout.attribute_value.as_deref(), Some("30"));
    let max = get(
        &m,
        &x,
        on_evse("EVSE", 2, None),
        variable("Power"),
        Some(Attribute::MaxSet),
    );
    assert_eq!(max.attribute_value.as_deref(), Some("22000"));
    let connector = get(
        &m,
        &x,
        on_evse("Connector", 2, Some(1)),
        variable("ConnectorType"),
        None,
    );
    assert_eq!(connector.attribute_value.as_deref(), Some("sType2"));
}

#[test]
fn set_accepts_valid_values_and_says_what_changed() {
    let mut m = model();
    let mut x = NoExternal;
    let (r, changed) = set(
        &mut m,
        &mut x,
        comm(),
        variable("HeartbeatInterval"),
        None,
        "600",
    );
    assert_eq!(r.attribute_status, S::Accepted);
    assert_eq!(changed, vec![Changed::Setting(Setting::HeartbeatInterval)]);
    assert_eq!(m.heartbeat_interval(), Duration::from_secs(600));
    // The same value again is accepted but changes nothing.
    let (r, changed) = set(
        &mut m,
        &mut x,
        comm(),
        variable("HeartbeatInterval"),
        None,
        "600",
    );
    assert_eq!((r.attribute_status, changed), (S::Accepted, vec![]));
    let (r, changed) = set(
        &mut m,
        &mut x,
        component("AuthCtrlr"),
        variable("Enabled"),
        Some(Attribute::Actual),
        "TRUE",
    );
    assert_eq!(r.attribute_status, S::Accepted);
    assert_eq!(r.attribute_type, Some(Attribute::Actual));
    assert_eq!(changed, vec![Changed::Setting(Setting::AuthEnabled)]);
    assert!(m.auth_enabled());
    let (r, _) = set(
        &mut m,
        &mut x,
        component("TxCtrlr"),
        variable("TxStopPoint"),
        None,
        "authorized,EVConnected",
    );
    assert_eq!(r.attribute_status, S::Accepted);
    assert_eq!(
        m.tx_stop_points(),
        vec![TxPoint::Authorized, TxPoint::EVConnected]
    );
    let (r, _) = set(
        &mut m,
        &mut x,
        component("SampledDataCtrlr"),
        variable("TxUpdatedMeasurands"),
        None,
        "Voltage,Current.Import",
    );
    assert_eq!(r.attribute_status, S::Accepted);
    assert_eq!(m.tx_updated_measurands(), vec!["Voltage", "Current.Import"]);
}

#[test]
fn set_refuses_with_the_right_status() {
    let mut m = model();
    let mut x = NoExternal;
    let cases = [
        (
            component("Nope"),
            variable("HeartbeatInterval"),
            None,
            "1",
            S::UnknownComponent,
            None,
        ),
        (
            comm(),
            variable("Nope"),
            None,
            "1",
            S::UnknownVariable,
            None,
        ),
        (
            comm(),
            variable("HeartbeatInterval"),
            Some(Attribute::MaxSet),
            "1",
            S::NotSupportedAttributeType,
            None,
        ),
        (
            component("SecurityCtrlr"),
            variable("SecurityProfile"),
            None,
            "2",
            S::Rejected,
            Some("ReadOnly"),
        ),
        (
            component("SecurityCtrlr"),
            variable("Identity"),
            None,
            "CP-2",
            S::Rejected,
            Some("ReadOnly"),
        ),
        (
            on_evse("EVSE", 1, None),
            variable("Power"),
            Some(Attribute::MaxSet),
            "1",
            S::Rejected,
            Some("ReadOnly"),
        ),
        (
            comm(),
            variable("HeartbeatInterval"),
            None,
            "0",
            S::Rejected,
            Some("ValueTooLow"),
        ),
        (
            comm(),
            variable("HeartbeatInterval"),
            None,
            "86401",
            S::Rejected,
            Some("ValueTooHigh"),
        ),
        (
            comm(),
            variable("HeartbeatInterval"),
            None,
            "5m",
            S::Rejected,
            Some("InvalidValue"),
        ),
        (
            comm(),
            variable("WebSocketPingInterval"),
            None,
            "-1",
            S::Rejected,
            Some("ValueTooLow"),
        ),
        (
            component("AuthCtrlr"),
            variable("Enabled"),
            None,
            "yes",
            S::Rejected,
            Some("InvalidValue"),
        ),
        // DataSigned is not a point this station can detect.
        (
            component("TxCtrlr"),
            variable("TxStartPoint"),
            None,
            "DataSigned",
            S::Rejected,
            Some("InvalidValue"),
        ),
        (
            component("TxCtrlr"),
            variable("TxStartPoint"),
            None,
            "",
            S::Rejected,
            Some("ValueOutOfRange"),
        ),
        (
            component("AlignedDataCtrlr"),
            variable("Measurands"),
            None,
            "SoC",
            S::Rejected,
            Some("InvalidValue"),
        ),
        (
            comm(),
            variable("NetworkConfigurationPriority"),
            None,
            "1,2",
            S::Rejected,
            Some("ReadOnly"),
        ),
    ];
    for (c, v, a, value, want, reason) in cases {
        let (r, changed) = set(&mut m, &mut x, c.clone(), v.clone(), a, value);
        assert_eq!(r.attribute_status, want, "{c:?} {v:?} {value:?}");
        assert_eq!(
            r.attribute_status_info
                .as_ref()
                .map(|i| i.reason_code.as_str()),
            reason,
            "{v:?} {value:?}"
        );
        assert!(changed.is_empty());
    }
    assert_eq!(m.heartbeat_interval(), Duration::from_secs(300));
    assert_eq!(m.tx_start_points(), vec![TxPoint::PowerPathClosed]);
    let (r, _) = set(
        &mut m,
        &mut x,
        comm(),
        variable("HeartbeatInterval"),
        None,
        &"9".repeat(1001),
    );
    assert_eq!(r.attribute_status, S::Rejected);
}

#[test]
fn one_refused_entry_does_not_undo_the_others() {
    let mut m = model();
    let data = |name: &str, value: &str| SetVariableData {
        attribute_type: None,
        attribute_value: value.into(),
        component: comm(),
        variable: variable(name),
    };
    let req = SetVariablesRequest {
        set_variable_data: vec![
            data("HeartbeatInterval", "120"),
            data("OfflineThreshold", "x"),
            data("WebSocketPingInterval", "0"),
        ],
    };
    let (res, changed) = m.set_variables(&req, &mut NoExternal);
    let statuses: Vec<S> = res
        .set_variable_result
        .iter()
        .map(|r| r.attribute_status)
        .collect();
    assert_eq!(statuses, [S::Accepted, S::Rejected, S::Accepted]);
    assert_eq!(
        changed,
        [
            Changed::Setting(Setting::HeartbeatInterval),
            Changed::Setting(Setting::WebSocketPingInterval)
        ]
    );
    assert_eq!(m.websocket_ping_interval(), Duration::ZERO);
}

#[test]
fn the_password_is_write_only() {
    let mut m = model();
    let sec = component("SecurityCtrlr");
    let r = get(
        &m,
        &NoExternal,
        sec.clone(),
        variable("BasicAuthPassword"),
        None,
    );
    assert_eq!(r.attribute_status, G::Rejected);
    assert_eq!(r.attribute_value, None);
    let (r, _) = set(
        &mut m,
        &mut NoExternal,
        sec.clone(),
        variable("BasicAuthPassword"),
        None,
        "short-secret",
    );
    assert_eq!(r.attribute_status, S::Rejected);
    let info = serde_json::to_string(&r).unwrap_or_default();
    assert!(!info.contains("short-secret"), "{info}");
    let new = "A-new-password-of-30-characters";
    let (r, changed) = set(
        &mut m,
        &mut NoExternal,
        sec,
        variable("BasicAuthPassword"),
        None,
        new,
    );
    assert_eq!(r.attribute_status, S::Accepted);
    assert_eq!(changed, vec![Changed::Setting(Setting::BasicAuthPassword)]);
    assert_eq!(m.basic_auth_password(), Some(new));
    for base in ReportBase::ALL {
        let text = serde_json::to_string(&base_report(&m, *base, &NoExternal)).unwrap_or_default();
        assert!(!text.contains(new) && !text.contains(PASSWORD), "{base}");
    }
    let debug = format!("{m:?}");
    assert!(!debug.contains(new) && !debug.contains(PASSWORD));
}

#[test]
fn station_kept_values_show_in_get_variables() {
    let mut m = model();
    let x = NoExternal;
    let state = |m: &DeviceModel, c: Component| {
        get(m, &x, c, variable("AvailabilityState"), None)
            .attribute_value
            .unwrap_or_default()
    };
    m.set_evse_availability(2, ConnectorStatus::Occupied);
    m.set_station_availability(ConnectorStatus::Available);
    m.set_evse_availability(9, ConnectorStatus::Faulted);
    assert_eq!(state(&m, on_evse("EVSE", 2, None)), "Occupied");
    assert_eq!(state(&m, on_evse("Connector", 2, Some(1))), "Occupied");
    assert_eq!(state(&m, on_evse("EVSE", 1, None)), "Unavailable");
    assert_eq!(state(&m, component("ChargingStation")), "Available");
}

#[test]
fn template_variables_behave_like_built_in_ones() {
    let mut m = model();
    let mut dev = Device::default()
        .with(
            "ChargingStation",
            "LedColor",
            Mutability::ReadWrite,
            DataType::string,
        )
        .with("Meter", "Constant", Mutability::ReadOnly, DataType::decimal)
        .with(
            "Meter",
            "Calibrated",
            Mutability::ReadWrite,
            DataType::dateTime,
        )
        .with("Meter", "Pin", Mutability::WriteOnly, DataType::integer);
    let led = |m: &DeviceModel, dev: &Device| {
        get(
            m,
            dev,
            component("ChargingStation"),
            variable("LedColor"),
            None,
        )
    };
    assert_eq!(led(&m, &dev).attribute_status, G::Rejected, "no value yet");
    let (r, changed) = set(
        &mut m,
        &mut dev,
        component("chargingstation"),
        variable("ledcolor"),
        None,
        "green",
    );
    assert_eq!(r.attribute_status, S::Accepted);
    assert_eq!(
        changed,
        vec![Changed::External {
            component: "ChargingStation".into(),
            variable: "LedColor".into()
        }]
    );
    assert_eq!(led(&m, &dev).attribute_value.as_deref(), Some("green"));
    let meter = component("Meter");
    let cases = [
        (variable("Constant"), "1.5", S::Rejected),
        (variable("Calibrated"), "not a date", S::Rejected),
        (
            variable("Calibrated"),
            "2024-05-01T10:00:00+02:00",
            S::Accepted,
        ),
        (variable("Pin"), "1234", S::Accepted),
        (variable("Nope"), "1", S::UnknownVariable),
    ];
    for (v, value, want) in cases {
        let (r, _) = set(&mut m, &mut dev, meter.clone(), v.clone(), None, value);
        assert_eq!(r.attribute_status, want, "{v:?} {value}");
    }
    let pin = get(&m, &dev, meter.clone(), variable("Pin"), None);
    assert_eq!(
        (pin.attribute_status, pin.attribute_value),
        (G::Rejected, None)
    );
    let target = get(
        &m,
        &dev,
        meter.clone(),
        variable("Calibrated"),
        Some(Attribute::Target),
    );
    assert_eq!(target.attribute_status, G::NotSupportedAttributeType);
    let on_evse_1 = get(
        &m,
        &dev,
        on_evse("Meter", 1, None),
        variable("Calibrated"),
        None,
    );
    assert_eq!(on_evse_1.attribute_status, G::UnknownComponent);
    dev.refuse = true;
    let (r, _) = set(
        &mut m,
        &mut dev,
        meter,
        variable("Calibrated"),
        None,
        "2024-05-01T10:00:00Z",
    );
    assert_eq!(r.attribute_status, S::Rejected);
    assert_eq!(
        r.attribute_status_info
            .and_then(|i| i.additional_info)
            .as_deref(),
        Some("device busy")
    );
}

#[test]
fn getters_start_from_the_config() {
    let m = model();
    assert_eq!(m.heartbeat_interval(), Duration::from_secs(300));
    assert_eq!(m.message_timeout(), Duration::from_secs(30));
    assert_eq!(m.websocket_ping_interval(), Duration::from_secs(60));
    assert_eq!(m.backoff(), init().backoff);
    assert_eq!(m.message_attempts_transaction_event(), 3);
    assert_eq!(
        m.message_attempt_interval_transaction_event(),
        Duration::from_secs(60)
    );
    assert_eq!(m.offline_threshold(), Duration::from_secs(300));
    assert_eq!(m.reset_retries(), 0, "a reset is never retried");
    assert_eq!(m.tx_start_points(), vec![TxPoint::PowerPathClosed]);
    assert_eq!(m.tx_stop_points(), vec![TxPoint::EVConnected]);
    assert_eq!(m.ev_connection_timeout(), Duration::from_secs(120));
    assert!(m.stop_tx_on_ev_side_disconnect() && m.stop_tx_on_invalid_id());
    assert_eq!(m.max_energy_on_invalid_id(), 0);
    let energy = vec!["Energy.Active.Import.Register".to_owned()];
    assert!(m.sampled_data_enabled() && m.aligned_data_enabled());
    assert_eq!(m.tx_started_measurands(), energy);
    // Power.Active.Import is not mapped by this template, so it is left out.
    assert_eq!(m.tx_updated_measurands(), energy);
    assert_eq!(m.tx_ended_measurands(), energy);
    assert_eq!(m.tx_updated_interval(), Duration::from_secs(60));
    assert_eq!(m.tx_ended_interval(), Duration::ZERO);
    assert_eq!(m.aligned_measurands(), energy);
    assert_eq!(m.aligned_interval(), Duration::from_secs(900));
    assert!(m.aligned_tx_ended_measurands().is_empty());
    assert_eq!(m.aligned_tx_ended_interval(), Duration::ZERO);
    assert!(!m.auth_enabled() && !m.authorize_remote_start());
    assert!(!m.local_authorize_offline() && !m.local_pre_authorize());
    assert_eq!(m.items_per_message(Limited::GetVariables), 32);
    assert_eq!(m.bytes_per_message(Limited::SetVariables), 65_536);
    assert_eq!(m.security_profile(), 1);
    assert_eq!(m.identity(), "CP-1");
    assert_eq!(m.basic_auth_password(), Some(PASSWORD));
    let no_password = DeviceModel::new(&DeviceModelInit {
        basic_auth_password: None,
        ..init()
    });
    assert_eq!(no_password.basic_auth_password(), None);
}
