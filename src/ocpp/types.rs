//! OCPP 2.0.1 enumerations and datatypes shared by several messages.

use serde::{Deserialize, Serialize};
use thiserror::Error;

wire_enum! {
    /// Why a charging station (re)booted (`BootReasonEnumType`).
    pub enum BootReason {
        /// The station's application restarted itself.
        ApplicationReset,
        /// Rebooted to activate new firmware.
        FirmwareUpdate,
        /// Reset by a local operator.
        LocalReset,
        /// Powered up after having no power.
        PowerUp,
        /// Reset at the CSMS's request.
        RemoteReset,
        /// A reset the station had scheduled.
        ScheduledReset,
        /// The CSMS asked for a BootNotification (TriggerMessage).
        Triggered,
        /// The reason is not known.
        Unknown,
        /// A watchdog restarted the station.
        Watchdog,
    }
}

wire_enum! {
    /// The CSMS's verdict on a BootNotification (`RegistrationStatusEnumType`).
    pub enum RegistrationStatus {
        /// Registered; the station may operate.
        Accepted,
        /// Not yet registered; the CSMS may still configure the station.
        Pending,
        /// Refused; the station must retry after the given interval.
        Rejected,
    }
}

wire_enum! {
    /// The state of one connector (`ConnectorStatusEnumType`).
    pub enum ConnectorStatus {
        /// Free for a new EV.
        Available,
        /// In use (EV plugged in or a session in progress).
        Occupied,
        /// Reserved for a specific user.
        Reserved,
        /// Out of service (administratively or technically).
        Unavailable,
        /// In an error state.
        Faulted,
    }
}

/// A field longer than its OCPP schema allows.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field} is {len} characters long, OCPP allows at most {max}")]
pub struct TooLong {
    /// The field's JSON name.
    pub field: &'static str,
    /// Its length in characters.
    pub len: usize,
    /// The schema's `maxLength`.
    pub max: usize,
}

/// Checks a string against a schema `maxLength`, which counts characters, not bytes.
pub fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), TooLong> {
    let len = value.chars().count();
    if len > max {
        Err(TooLong { field, len, max })
    } else {
        Ok(())
    }
}

/// More information about a status (`StatusInfoType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusInfo {
    /// A predefined, case-insensitive reason code (at most 20 characters).
    pub reason_code: String,
    /// Free text (at most 512 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<String>,
}

/// The physical charging station as it describes itself (`ChargingStationType`, without modem).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingStation {
    /// Model name (at most [`ChargingStation::MODEL_MAX`] characters).
    pub model: String,
    /// Vendor name (at most [`ChargingStation::VENDOR_NAME_MAX`] characters).
    pub vendor_name: String,
    /// Vendor-specific serial number (at most [`ChargingStation::SERIAL_NUMBER_MAX`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Firmware version (at most [`ChargingStation::FIRMWARE_VERSION_MAX`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
}

impl ChargingStation {
    /// Schema `maxLength` of `model`.
    pub const MODEL_MAX: usize = 20;
    /// Schema `maxLength` of `vendorName`.
    pub const VENDOR_NAME_MAX: usize = 50;
    /// Schema `maxLength` of `serialNumber`.
    pub const SERIAL_NUMBER_MAX: usize = 25;
    /// Schema `maxLength` of `firmwareVersion`.
    pub const FIRMWARE_VERSION_MAX: usize = 50;

    /// Checks every field against its schema length limit, so a CSMS never sees a
    /// BootNotification it must reject.
    pub fn validate(&self) -> Result<(), TooLong> {
        check_len("model", &self.model, Self::MODEL_MAX)?;
        check_len("vendorName", &self.vendor_name, Self::VENDOR_NAME_MAX)?;
        if let Some(serial) = &self.serial_number {
            check_len("serialNumber", serial, Self::SERIAL_NUMBER_MAX)?;
        }
        if let Some(firmware) = &self.firmware_version {
            check_len("firmwareVersion", firmware, Self::FIRMWARE_VERSION_MAX)?;
        }
        Ok(())
    }
}

wire_enum! {
    /// Which attribute of a variable (`AttributeEnumType`); absent on the wire means `Actual`.
    pub enum Attribute {
        /// The value in effect now.
        Actual,
        /// The value being moved towards.
        Target,
        /// The lowest value that may be set.
        MinSet,
        /// The highest value that may be set.
        MaxSet,
    }
}

wire_enum! {
    /// The outcome of reading one variable (`GetVariableStatusEnumType`).
    pub enum GetVariableStatus {
        /// Read; the value is in the result.
        Accepted,
        /// Not read, e.g. the variable is write-only.
        Rejected,
        /// No such component.
        UnknownComponent,
        /// The component has no such variable.
        UnknownVariable,
        /// The variable has no such attribute.
        NotSupportedAttributeType,
    }
}

wire_enum! {
    /// The outcome of writing one variable (`SetVariableStatusEnumType`).
    pub enum SetVariableStatus {
        /// Written and in effect.
        Accepted,
        /// Not written: read-only, out of range or not a valid value.
        Rejected,
        /// No such component.
        UnknownComponent,
        /// The component has no such variable.
        UnknownVariable,
        /// The variable has no such attribute.
        NotSupportedAttributeType,
        /// Written; takes effect after the next reboot.
        RebootRequired,
    }
}

wire_enum! {
    /// Who may read and write an attribute (`MutabilityEnumType`).
    pub enum Mutability {
        /// The CSMS may only read it.
        ReadOnly,
        /// The CSMS may only write it (secrets).
        WriteOnly,
        /// The CSMS may read and write it.
        ReadWrite,
    }
}

wire_enum! {
    /// How a variable's value is spelled (`DataEnumType`); the spec spells some variants in
    /// lower case, and the wire name is the variant name.
    #[allow(non_camel_case_types)]
    pub enum DataType {
        /// Free text.
        string,
        /// A decimal number.
        decimal,
        /// A whole number.
        integer,
        /// An RFC 3339 timestamp.
        dateTime,
        /// `true` or `false`.
        boolean,
        /// Exactly one entry of `valuesList`.
        OptionList,
        /// An ordered comma-separated subset of `valuesList`.
        SequenceList,
        /// An unordered comma-separated subset of `valuesList`.
        MemberList,
    }
}

wire_enum! {
    /// Which predefined report GetBaseReport asks for (`ReportBaseEnumType`).
    pub enum ReportBase {
        /// Every variable the CSMS may write.
        ConfigurationInventory,
        /// Every variable.
        FullInventory,
        /// Availability and problems of every component.
        SummaryInventory,
    }
}

wire_enum! {
    /// A component filter of GetReport (`ComponentCriterionEnumType`).
    pub enum ComponentCriterion {
        /// Components whose `Active` variable is true.
        Active,
        /// Components whose `Available` variable is true.
        Available,
        /// Components whose `Enabled` variable is true.
        Enabled,
        /// Components whose `Problem` variable is true.
        Problem,
    }
}

wire_enum! {
    /// The answer to GetBaseReport and GetReport (`GenericDeviceModelStatusEnumType`).
    pub enum GenericDeviceModelStatus {
        /// The report follows in NotifyReport messages.
        Accepted,
        /// The station will not send the report.
        Rejected,
        /// The station does not support this kind of report.
        NotSupported,
        /// Nothing matched the request.
        EmptyResultSet,
    }
}

wire_enum! {
    /// An event that starts or stops a transaction (values of `TxCtrlr.TxStartPoint` and
    /// `TxCtrlr.TxStopPoint`).
    pub enum TxPoint {
        /// A vehicle occupies the parking bay.
        ParkingBayOccupancy,
        /// The EV is connected.
        EVConnected,
        /// The driver is authorized.
        Authorized,
        /// Signed meter data was received.
        DataSigned,
        /// The power relay closed.
        PowerPathClosed,
        /// Energy is flowing.
        EnergyTransfer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enums_use_their_spec_spelling() {
        assert_eq!(BootReason::ALL.len(), 9);
        assert_eq!(RegistrationStatus::ALL.len(), 3);
        assert_eq!(ConnectorStatus::ALL.len(), 5);
        let spelled: Vec<(String, serde_json::Value)> = BootReason::ALL
            .iter()
            .map(|r| (r.as_str().to_owned(), json!(r)))
            .chain(
                RegistrationStatus::ALL
                    .iter()
                    .map(|r| (r.to_string(), json!(r))),
            )
            .chain(
                ConnectorStatus::ALL
                    .iter()
                    .map(|r| (r.to_string(), json!(r))),
            )
            .collect();
        for (s, v) in spelled {
            assert_eq!(v, json!(s));
        }
        assert_eq!(
            ConnectorStatus::parse("Occupied"),
            Some(ConnectorStatus::Occupied)
        );
        assert_eq!(ConnectorStatus::parse("occupied"), None);
        assert_eq!(
            serde_json::from_value::<RegistrationStatus>(json!("Pending")).ok(),
            Some(RegistrationStatus::Pending)
        );
    }

    #[test]
    fn charging_station_lengths_are_checked_in_characters() {
        let mut cs = ChargingStation {
            model: "ü".repeat(20),
            vendor_name: "v".repeat(50),
            serial_number: Some("s".repeat(25)),
            firmware_version: None,
        };
        assert_eq!(cs.validate(), Ok(()));
        cs.model.push('x');
        assert_eq!(
            cs.validate(),
            Err(TooLong {
                field: "model",
                len: 21,
                max: 20
            })
        );
        cs.model.pop();
        cs.serial_number = Some("s".repeat(26));
        assert_eq!(cs.validate().map_err(|e| e.field), Err("serialNumber"));
    }
}
