//! The standard controllers and physical components every virtual station has, with the
//! variables the Core profile relies on.

use std::time::{Duration, UNIX_EPOCH};

use super::{Entry, Setting, Slot};
use crate::ocpp::messages::{
    Attribute, Component, DataType, Evse, Mutability, TxPoint, Variable, VariableCharacteristics,
};
use crate::station::Backoff;
use crate::util::time::rfc3339;

/// What the station knows from its config when it builds its device model.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceModelInit {
    /// The station identity (SecurityCtrlr.Identity).
    pub identity: String,
    /// ChargingStation.VendorName.
    pub vendor_name: String,
    /// ChargingStation.Model.
    pub model: String,
    /// SecurityCtrlr.OrganizationName.
    pub organization_name: String,
    /// EVSEs, one connector each, numbered from 1 (at least one is built).
    pub evse_count: usize,
    /// Connector.ConnectorType (`ConnectorEnumType` spelling, e.g. `cType2` for a fixed cable).
    pub connector_type: String,
    /// SupplyPhases of each EVSE and connector (0 for DC).
    pub supply_phases: u8,
    /// EVSE.Power maxLimit (and MaxSet), in W, where known.
    pub evse_max_power_w: Option<f64>,
    /// Heartbeat interval until the CSMS sets another.
    pub heartbeat_interval: Duration,
    /// How long to wait for the CSMS to answer (MessageTimeout[Default]).
    pub message_timeout: Duration,
    /// Reconnect back-off (RetryBackOff*).
    pub backoff: Backoff,
    /// WebSocket ping interval; zero turns pings off.
    pub ping_interval: Duration,
    /// SecurityCtrlr.SecurityProfile (1–3).
    pub security_profile: u8,
    /// HTTP Basic password for profiles 1 and 2.
    pub basic_auth_password: Option<String>,
    /// SecurityCtrlr.CertificateEntries: certificates installed.
    pub certificate_entries: u32,
    /// AuthCtrlr.Enabled: whether a token must be authorized before charging.
    pub auth_enabled: bool,
    /// Measurands the template maps, as OCPP spells them (valuesList of the measurand lists).
    pub measurands: Vec<String>,
    /// Transaction start/stop points the station can detect (valuesList of TxStart/StopPoint).
    pub tx_points: Vec<TxPoint>,
    /// TxCtrlr.TxStartPoint until the CSMS sets another.
    pub tx_start_point: Vec<TxPoint>,
    /// TxCtrlr.TxStopPoint until the CSMS sets another.
    pub tx_stop_point: Vec<TxPoint>,
}

/// Longest interval the station accepts, in seconds: timers stay far from `Instant` overflow.
const DAY: f64 = 86_400.0;
/// DeviceDataCtrlr.ItemsPerMessage of GetReport, GetVariables and SetVariables.
const ITEMS_PER_MESSAGE: u32 = 32;
/// DeviceDataCtrlr.BytesPerMessage of GetReport, GetVariables and SetVariables.
const BYTES_PER_MESSAGE: u32 = 65_536;
/// The energy register: what every transaction should report, where mapped.
const ENERGY: &str = "Energy.Active.Import.Register";
/// Measurands for TransactionEvent Updated, where mapped.
const UPDATED: [&str; 2] = [ENERGY, "Power.Active.Import"];
/// ClockCtrlr.TimeSource before the CSMS has given its time: the host's own clock.
pub(super) const TIME_SOURCE_HOST: &str = "RealTimeClock";
/// ClockCtrlr.TimeSource once DateTime follows the CSMS's currentTime.
pub(super) const TIME_SOURCE_CSMS: &str = "Heartbeat";
/// Values of ClockCtrlr.TimeSource.
const TIME_SOURCES: &str = "Heartbeat,RealTimeClock";
/// Values of every AvailabilityState.
const AVAILABILITY: &str = "Available,Occupied,Reserved,Unavailable,Faulted";

/// Builds one variable; writable ones persist, read-only ones start out non-persistent.
struct Def(Entry);

impl Def {
    fn new(
        component: &Component,
        name: &str,
        data_type: DataType,
        mutability: Mutability,
        value: impl Into<String>,
    ) -> Def {
        Def(Entry {
            component: component.clone(),
            variable: Variable {
                name: name.to_owned(),
                instance: None,
            },
            characteristics: VariableCharacteristics {
                unit: None,
                data_type,
                min_limit: None,
                max_limit: None,
                values_list: None,
                supports_monitoring: false,
            },
            slots: vec![Slot {
                attribute: Attribute::Actual,
                mutability,
                persistent: mutability != Mutability::ReadOnly,
                constant: false,
                value: value.into(),
                changed: false,
            }],
            setting: None,
        })
    }

    fn rw(component: &Component, name: &str, data_type: DataType, value: impl ToString) -> Def {
        Def::new(
            component,
            name,
            data_type,
            Mutability::ReadWrite,
            value.to_string(),
        )
    }

    /// A read-only value from the config: it never changes while the station runs.
    fn fixed(component: &Component, name: &str, data_type: DataType, value: impl ToString) -> Def {
        let mut d = Def::new(
            component,
            name,
            data_type,
            Mutability::ReadOnly,
            value.to_string(),
        );
        for s in &mut d.0.slots {
            s.persistent = true;
            s.constant = true;
        }
        d
    }

    /// A read-only value the station keeps up to date.
    fn live(component: &Component, name: &str, data_type: DataType, value: impl ToString) -> Def {
        Def::new(
            component,
            name,
            data_type,
            Mutability::ReadOnly,
            value.to_string(),
        )
    }

    fn instance(mut self, instance: &str) -> Def {
        self.0.variable.instance = Some(instance.to_owned());
        self
    }

    fn unit(mut self, unit: &str) -> Def {
        self.0.characteristics.unit = Some(unit.to_owned());
        self
    }

    fn seconds(self, min: f64) -> Def {
        self.unit("s").limits(Some(min), Some(DAY))
    }

    fn limits(mut self, min: Option<f64>, max: Option<f64>) -> Def {
        self.0.characteristics.min_limit = min;
        self.0.characteristics.max_limit = max;
        self
    }

    fn values(mut self, list: impl Into<String>) -> Def {
        self.0.characteristics.values_list = Some(list.into());
        self
    }

    fn setting(mut self, setting: Setting) -> Def {
        self.0.setting = Some(setting);
        self
    }

    fn max_set(mut self, value: impl ToString) -> Def {
        self.0.slots.push(Slot {
            attribute: Attribute::MaxSet,
            mutability: Mutability::ReadOnly,
            persistent: true,
            constant: true,
            value: value.to_string(),
            changed: false,
        });
        self
    }
}

fn controller(name: &str) -> Component {
    Component {
        name: name.to_owned(),
        instance: None,
        evse: None,
    }
}

fn csv<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The subset of `wanted` the template maps, in `wanted`'s order.
fn mapped(init: &DeviceModelInit, wanted: &[&str]) -> String {
    csv(wanted
        .iter()
        .filter(|w| init.measurands.iter().any(|m| m == *w)))
}

/// Every variable of the station, in report order.
pub(super) fn entries(init: &DeviceModelInit) -> Vec<Entry> {
    let mut defs = Vec::new();
    comm_ctrlr(init, &mut defs);
    tx_ctrlr(init, &mut defs);
    metering_ctrlrs(init, &mut defs);
    auth_and_data_ctrlrs(init, &mut defs);
    security_ctrlr(init, &mut defs);
    clock_ctrlr(&mut defs);
    physical(init, &mut defs);
    defs.into_iter().map(|d| d.0).collect()
}

fn comm_ctrlr(init: &DeviceModelInit, defs: &mut Vec<Def>) {
    use DataType::{boolean, integer, MemberList, SequenceList};
    let c = controller("OCPPCommCtrlr");
    let secs = |d: Duration| d.as_secs();
    // A fixed cable cannot be unlocked; a socket unlocks as the charger itself decides.
    let fixed_cable = init.connector_type.starts_with('c');
    defs.extend([
        Def::rw(
            &c,
            "HeartbeatInterval",
            integer,
            secs(init.heartbeat_interval),
        )
        .seconds(1.0)
        .setting(Setting::HeartbeatInterval),
        Def::fixed(&c, "MessageTimeout", integer, secs(init.message_timeout))
            .instance("Default")
            .unit("s")
            .setting(Setting::MessageTimeout),
        Def::rw(&c, "MessageAttempts", integer, 3)
            .instance("TransactionEvent")
            .limits(Some(1.0), Some(10.0))
            .setting(Setting::MessageAttemptsTransactionEvent),
        Def::rw(&c, "MessageAttemptInterval", integer, 60)
            .instance("TransactionEvent")
            .seconds(1.0)
            .setting(Setting::MessageAttemptIntervalTransactionEvent),
        Def::rw(&c, "OfflineThreshold", integer, 300)
            .seconds(0.0)
            .setting(Setting::OfflineThreshold),
        // A reset is one write of Control.Reset (or closing the link); it is never retried.
        Def::fixed(&c, "ResetRetries", integer, 0).setting(Setting::ResetRetries),
        Def::rw(
            &c,
            "RetryBackOffRandomRange",
            integer,
            secs(init.backoff.random_range),
        )
        .unit("s")
        .limits(Some(0.0), Some(3600.0))
        .setting(Setting::RetryBackOffRandomRange),
        Def::rw(
            &c,
            "RetryBackOffRepeatTimes",
            integer,
            init.backoff.repeat_times,
        )
        .limits(Some(0.0), Some(16.0))
        .setting(Setting::RetryBackOffRepeatTimes),
        Def::rw(
            &c,
            "RetryBackOffWaitMinimum",
            integer,
            secs(init.backoff.wait_minimum),
        )
        .unit("s")
        .limits(Some(1.0), Some(3600.0))
        .setting(Setting::RetryBackOffWaitMinimum),
        Def::rw(
            &c,
            "WebSocketPingInterval",
            integer,
            secs(init.ping_interval),
        )
        .seconds(0.0)
        .setting(Setting::WebSocketPingInterval),
        // The config holds one connection profile, in slot 1: there is no other to switch to,
        // so the order and the attempts before switching are not the CSMS's to change.
        Def::fixed(&c, "NetworkConfigurationPriority", SequenceList, "1")
            .values("1")
            .setting(Setting::NetworkConfigurationPriority),
        Def::fixed(&c, "NetworkProfileConnectionAttempts", integer, 3)
            .setting(Setting::NetworkProfileConnectionAttempts),
        Def::fixed(&c, "UnlockOnEVSideDisconnect", boolean, !fixed_cable)
            .setting(Setting::UnlockOnEVSideDisconnect),
        // No file transfers (firmware update, logs) yet.
        Def::fixed(&c, "FileTransferProtocols", MemberList, "")
            .values("FTP,FTPS,HTTP,HTTPS,SFTP")
            .setting(Setting::FileTransferProtocols),
    ]);
}

fn tx_ctrlr(init: &DeviceModelInit, defs: &mut Vec<Def>) {
    use DataType::{boolean, integer, MemberList};
    let c = controller("TxCtrlr");
    let points = csv(&init.tx_points);
    defs.extend([
        Def::rw(&c, "EVConnectionTimeOut", integer, 120)
            .seconds(0.0)
            .setting(Setting::EVConnectionTimeOut),
        Def::rw(&c, "StopTxOnEVSideDisconnect", boolean, true)
            .setting(Setting::StopTxOnEVSideDisconnect),
        Def::rw(&c, "StopTxOnInvalidId", boolean, true).setting(Setting::StopTxOnInvalidId),
        Def::rw(&c, "MaxEnergyOnInvalidId", integer, 0)
            .unit("Wh")
            .limits(Some(0.0), None)
            .setting(Setting::MaxEnergyOnInvalidId),
        Def::rw(&c, "TxStartPoint", MemberList, csv(&init.tx_start_point))
            .values(points.clone())
            .limits(Some(1.0), None)
            .setting(Setting::TxStartPoint),
        Def::rw(&c, "TxStopPoint", MemberList, csv(&init.tx_stop_point))
            .values(points)
            .limits(Some(1.0), None)
            .setting(Setting::TxStopPoint),
    ]);
}

fn metering_ctrlrs(init: &DeviceModelInit, defs: &mut Vec<Def>) {
    use DataType::{boolean, integer, MemberList};
    let supported = csv(&init.measurands);
    let energy = mapped(init, &[ENERGY]);
    let s = controller("SampledDataCtrlr");
    let a = controller("AlignedDataCtrlr");
    let list = |c: &Component, name: &str, value: &str, setting: Setting| {
        Def::rw(c, name, MemberList, value)
            .values(supported.clone())
            .setting(setting)
    };
    defs.extend([
        Def::rw(&s, "Enabled", boolean, true).setting(Setting::SampledDataEnabled),
        list(
            &s,
            "TxStartedMeasurands",
            &energy,
            Setting::SampledTxStartedMeasurands,
        ),
        list(
            &s,
            "TxUpdatedMeasurands",
            &mapped(init, &UPDATED),
            Setting::SampledTxUpdatedMeasurands,
        ),
        Def::rw(&s, "TxUpdatedInterval", integer, 60)
            .seconds(0.0)
            .setting(Setting::SampledTxUpdatedInterval),
        list(
            &s,
            "TxEndedMeasurands",
            &energy,
            Setting::SampledTxEndedMeasurands,
        ),
        Def::rw(&s, "TxEndedInterval", integer, 0)
            .seconds(0.0)
            .setting(Setting::SampledTxEndedInterval),
        Def::rw(&a, "Enabled", boolean, true).setting(Setting::AlignedDataEnabled),
        Def::rw(&a, "Interval", integer, 900)
            .seconds(0.0)
            .setting(Setting::AlignedDataInterval),
        list(&a, "Measurands", &energy, Setting::AlignedDataMeasurands),
        Def::rw(&a, "TxEndedInterval", integer, 0)
            .seconds(0.0)
            .setting(Setting::AlignedDataTxEndedInterval),
        list(
            &a,
            "TxEndedMeasurands",
            "",
            Setting::AlignedDataTxEndedMeasurands,
        ),
    ]);
}

fn auth_and_data_ctrlrs(init: &DeviceModelInit, defs: &mut Vec<Def>) {
    use DataType::{boolean, integer};
    let a = controller("AuthCtrlr");
    let d = controller("DeviceDataCtrlr");
    defs.extend([
        Def::rw(&a, "Enabled", boolean, init.auth_enabled).setting(Setting::AuthEnabled),
        Def::rw(&a, "AuthorizeRemoteStart", boolean, false).setting(Setting::AuthorizeRemoteStart),
        // No local authorization list or cache: a token always waits for the CSMS's answer.
        Def::fixed(&a, "LocalAuthorizeOffline", boolean, false)
            .setting(Setting::LocalAuthorizeOffline),
        Def::fixed(&a, "LocalPreAuthorize", boolean, false).setting(Setting::LocalPreAuthorize),
    ]);
    for (instance, items, bytes) in [
        (
            "GetReport",
            Setting::ItemsPerMessageGetReport,
            Setting::BytesPerMessageGetReport,
        ),
        (
            "GetVariables",
            Setting::ItemsPerMessageGetVariables,
            Setting::BytesPerMessageGetVariables,
        ),
        (
            "SetVariables",
            Setting::ItemsPerMessageSetVariables,
            Setting::BytesPerMessageSetVariables,
        ),
    ] {
        defs.push(
            Def::fixed(&d, "ItemsPerMessage", integer, ITEMS_PER_MESSAGE)
                .instance(instance)
                .setting(items),
        );
        defs.push(
            Def::fixed(&d, "BytesPerMessage", integer, BYTES_PER_MESSAGE)
                .instance(instance)
                .setting(bytes),
        );
    }
}

fn security_ctrlr(init: &DeviceModelInit, defs: &mut Vec<Def>) {
    use DataType::{integer, string};
    let c = controller("SecurityCtrlr");
    defs.extend([
        // OCPP 2.0.1 has profiles 1–3. A plain ws:// link without Basic auth is reported as 1,
        // the one profile without TLS; docs/ocpp-conformance.md (A) says what it lacks.
        Def::fixed(&c, "SecurityProfile", integer, init.security_profile.max(1))
            .limits(Some(1.0), Some(3.0))
            .setting(Setting::SecurityProfile),
        // The identity names the station in the config and in its CSMS URL.
        Def::fixed(&c, "Identity", string, &init.identity)
            .limits(None, Some(48.0))
            .setting(Setting::Identity),
        // A HTTP Basic password is 16 to 40 characters (OCPP 2.0.1 Part 2, A00).
        Def::new(
            &c,
            "BasicAuthPassword",
            string,
            Mutability::WriteOnly,
            init.basic_auth_password.clone().unwrap_or_default(),
        )
        .limits(Some(16.0), Some(40.0))
        .setting(Setting::BasicAuthPassword),
        // Only certificates (not handled here) would use it.
        Def::fixed(&c, "OrganizationName", string, &init.organization_name)
            .setting(Setting::OrganizationName),
        Def::fixed(&c, "CertificateEntries", integer, init.certificate_entries)
            .setting(Setting::CertificateEntries),
    ]);
}

fn clock_ctrlr(defs: &mut Vec<Def>) {
    use DataType::{dateTime, OptionList};
    let c = controller("ClockCtrlr");
    defs.extend([
        // Kept current by the station (`DeviceModel::set_clock`) before every read.
        Def::live(&c, "DateTime", dateTime, rfc3339(UNIX_EPOCH)),
        // The host clock until the CSMS's currentTime (BootNotification, Heartbeat) corrects it;
        // the system clock itself is never set.
        Def::live(&c, "TimeSource", OptionList, TIME_SOURCE_HOST).values(TIME_SOURCES),
    ]);
}

fn physical(init: &DeviceModelInit, defs: &mut Vec<Def>) {
    use DataType::{boolean, decimal, integer, string, OptionList};
    let cs = controller("ChargingStation");
    let availability = |c: &Component| {
        [
            Def::live(c, "AvailabilityState", OptionList, "Unavailable").values(AVAILABILITY),
            Def::fixed(c, "Available", boolean, true),
            Def::live(c, "Problem", boolean, false),
        ]
    };
    defs.extend(availability(&cs));
    defs.extend([
        Def::fixed(&cs, "Model", string, &init.model),
        Def::fixed(&cs, "VendorName", string, &init.vendor_name),
        Def::fixed(&cs, "SupplyPhases", integer, init.supply_phases),
    ]);
    // The gateway presenting the charger: its own version, apart from the charger's firmware.
    defs.push(Def::fixed(
        &controller("OcppGateway"),
        "Version",
        string,
        concat!("ocpp-gw ", env!("CARGO_PKG_VERSION")),
    ));
    for id in 1..=init.evse_count.max(1) {
        let id = i32::try_from(id).unwrap_or(i32::MAX);
        let evse = Component {
            name: "EVSE".into(),
            instance: None,
            evse: Some(Evse {
                id,
                connector_id: None,
            }),
        };
        defs.extend(availability(&evse));
        let mut power = Def::live(&evse, "Power", decimal, 0).unit("W");
        if let Some(max) = init.evse_max_power_w.filter(|w| w.is_finite()) {
            power = power.limits(None, Some(max)).max_set(max);
        }
        defs.push(power);
        defs.push(Def::fixed(
            &evse,
            "SupplyPhases",
            integer,
            init.supply_phases,
        ));
        let connector = Component {
            name: "Connector".into(),
            instance: None,
            evse: Some(Evse {
                id,
                connector_id: Some(1),
            }),
        };
        defs.extend(availability(&connector));
        defs.push(Def::fixed(
            &connector,
            "ConnectorType",
            string,
            &init.connector_type,
        ));
        defs.push(Def::fixed(
            &connector,
            "SupplyPhases",
            integer,
            init.supply_phases,
        ));
    }
}
