//! What the device model says is true: read-only values the station cannot change, the clock,
//! the security profile, and template variables where a CSMS looks for them.

use super::*;
use crate::ocpp::messages::{GetVariableStatus as G, SetVariableStatus as S};

fn comm() -> Component {
    component("OCPPCommCtrlr")
}

#[test]
fn a_plain_ws_link_is_security_profile_one() {
    let m = DeviceModel::new(&DeviceModelInit {
        security_profile: 0,
        basic_auth_password: None,
        ..init()
    });
    assert_eq!(m.security_profile(), 1);
    let r = get(
        &m,
        &NoExternal,
        component("SecurityCtrlr"),
        variable("SecurityProfile"),
        None,
    );
    assert_eq!(r.attribute_value.as_deref(), Some("1"));
}

#[test]
fn date_time_is_the_csms_time_at_each_read() {
    use std::time::UNIX_EPOCH;
    let mut m = model();
    let host = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let date = |m: &DeviceModel| {
        get(
            m,
            &NoExternal,
            component("ClockCtrlr"),
            variable("DateTime"),
            None,
        )
        .attribute_value
    };
    m.set_clock(host);
    assert_eq!(
        date(&m).as_deref(),
        Some("1970-01-12T13:46:40.000Z"),
        "host time"
    );
    // The CSMS is 90 s behind the host.
    m.set_csms_time(host - Duration::from_secs(90), host);
    m.set_clock(host + Duration::from_secs(10));
    assert_eq!(date(&m).as_deref(), Some("1970-01-12T13:45:20.000Z"));
    assert_eq!(m.csms_time(host), host - Duration::from_secs(90));
}

#[test]
fn what_the_station_cannot_change_is_read_only_with_its_true_value() {
    let mut m = model();
    for (c, v, value) in [
        // One connection profile: nothing to reorder, nothing to switch to.
        (comm(), variable("NetworkConfigurationPriority"), "1"),
        (comm(), variable("NetworkProfileConnectionAttempts"), "3"),
        (comm(), variable("ResetRetries"), "0"),
        // No local list or cache: tokens always wait for the CSMS.
        (
            component("AuthCtrlr"),
            variable("LocalAuthorizeOffline"),
            "false",
        ),
        (
            component("AuthCtrlr"),
            variable("LocalPreAuthorize"),
            "false",
        ),
        (
            component("SecurityCtrlr"),
            variable("OrganizationName"),
            "Org",
        ),
    ] {
        let r = get(&m, &NoExternal, c.clone(), v.clone(), None);
        assert_eq!(r.attribute_value.as_deref(), Some(value), "{v:?}");
        let (r, changed) = set(&mut m, &mut NoExternal, c, v.clone(), None, value);
        assert_eq!(r.attribute_status, S::Rejected, "{v:?}");
        assert!(changed.is_empty());
    }
}

#[test]
fn evse_template_variables_are_addressed_like_a_csms_does() {
    let mut m = model();
    let mut dev = Device::default()
        .with(
            "EVSE",
            "CurrentLimit",
            Mutability::ReadWrite,
            DataType::decimal,
        )
        .with(
            "Connector",
            "Locked",
            Mutability::ReadOnly,
            DataType::boolean,
        )
        .with("EVSE", "Power", Mutability::ReadOnly, DataType::decimal);
    let limit = variable("CurrentLimit");
    let (r, _) = set(
        &mut m,
        &mut dev,
        on_evse("EVSE", 1, None),
        limit.clone(),
        None,
        "16",
    );
    assert_eq!(r.attribute_status, S::Accepted);
    for c in [on_evse("EVSE", 1, None), component("EVSE")] {
        let r = get(&m, &dev, c, limit.clone(), None);
        assert_eq!(r.attribute_value.as_deref(), Some("16"));
    }
    // The device is EVSE 1; EVSE 2 of the model has no such variable.
    let r = get(&m, &dev, on_evse("EVSE", 2, None), limit.clone(), None);
    assert_eq!(r.attribute_status, G::UnknownVariable);
    dev.values.insert("Connector.Locked".into(), "true".into());
    let r = get(
        &m,
        &dev,
        on_evse("Connector", 1, Some(1)),
        variable("Locked"),
        None,
    );
    assert_eq!(r.attribute_value.as_deref(), Some("true"));

    // EVSE.Power mapped from the device is the EVSE's standard Power variable: one row, the
    // device's value, the standard limits.
    dev.values.insert("EVSE.Power".into(), "7400".into());
    let r = get(&m, &dev, on_evse("EVSE", 1, None), variable("Power"), None);
    assert_eq!(r.attribute_value.as_deref(), Some("7400"));
    let full = base_report(&m, ReportBase::FullInventory, &dev);
    let rows = |name: &str| -> Vec<&crate::ocpp::messages::ReportData> {
        full.iter()
            .filter(|r| r.component.name == name.split('.').next().unwrap_or_default())
            .filter(|r| r.variable.name == name.split('.').nth(1).unwrap_or_default())
            .collect()
    };
    let power = rows("EVSE.Power");
    assert_eq!(power.len(), 2, "one per EVSE: {power:?}");
    let evse1 = power
        .iter()
        .find(|r| r.component.evse.as_ref().map(|e| e.id) == Some(1))
        .expect("EVSE 1 has Power");
    assert_eq!(evse1.variable_attribute[0].value.as_deref(), Some("7400"));
    assert_eq!(
        evse1
            .variable_characteristics
            .as_ref()
            .and_then(|c| c.max_limit),
        Some(22_000.0)
    );
    let current = rows("EVSE.CurrentLimit");
    assert_eq!(current.len(), 1);
    assert_eq!(
        current[0].component.evse,
        Some(Evse {
            id: 1,
            connector_id: None
        })
    );
    let locked = rows("Connector.Locked");
    assert_eq!(
        locked[0].component.evse,
        Some(Evse {
            id: 1,
            connector_id: Some(1)
        })
    );
}
