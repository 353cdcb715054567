//! Names and readable values of the properties the gateway knows: the super class, the EV
//! charger (0x02A1) and EV charger/discharger (0x027E) classes, and the node profile.
//!
//! Source: ECHONET Machine Readable Appendix V1.3.1 (Appendix Release R).

use super::frame::Eoj;
use super::propmap::{decode_instance_list, decode_property_map};
use super::{CLASS_EV_CHARGER, CLASS_EV_CHARGER_DISCHARGER, CLASS_NODE_PROFILE};

/// Operation status (0x80), every device object.
pub const OPERATION_STATUS: u8 = 0x80;
/// Fault status (0x88).
pub const FAULT_STATUS: u8 = 0x88;
/// Status-change announcement property map.
pub const STATUS_CHANGE_MAP: u8 = 0x9D;
/// Set property map.
pub const SET_MAP: u8 = 0x9E;
/// Get property map.
pub const GET_MAP: u8 = 0x9F;
/// Vehicle connection and chargeable status (EV charger classes).
pub const VEHICLE_STATUS: u8 = 0xC7;
/// Measured instantaneous charging power, W.
pub const CHARGING_POWER: u8 = 0xD3;
/// Cumulative charged energy, 0.001 kWh.
pub const CHARGED_ENERGY: u8 = 0xD8;
/// Operation mode setting.
pub const OPERATION_MODE: u8 = 0xDA;
/// Remaining stored electricity of the vehicle battery, Wh.
pub const REMAINING_WH: u8 = 0xE2;
/// Remaining stored electricity of the vehicle battery, %.
pub const REMAINING_PERCENT: u8 = 0xE4;
/// Charging power setting, W.
pub const CHARGING_POWER_SETTING: u8 = 0xEB;
/// Charging current setting, 0.1 A.
pub const CHARGING_CURRENT_SETTING: u8 = 0xED;
/// Node profile: instance list notification.
pub const INSTANCE_LIST_NOTIFICATION: u8 = 0xD5;
/// Node profile: self-node instance list S.
pub const SELF_NODE_INSTANCES: u8 = 0xD6;

/// The name of `epc` in an object of `eoj`'s class, where known.
pub fn name(eoj: Eoj, epc: u8) -> Option<&'static str> {
    let class = eoj.class_code();
    let common = match epc {
        0x80 => Some("operation status"),
        0x81 => Some("installation location"),
        0x82 => Some("standard version"),
        0x83 => Some("identification number"),
        0x88 => Some("fault status"),
        0x8A => Some("manufacturer code"),
        0x9D => Some("status-change announcement map"),
        0x9E => Some("set property map"),
        0x9F => Some("get property map"),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    if class == CLASS_NODE_PROFILE {
        return match epc {
            0xD3 => Some("number of self-node instances"),
            0xD4 => Some("number of self-node classes"),
            0xD5 => Some("instance list notification"),
            0xD6 => Some("self-node instance list S"),
            0xD7 => Some("self-node class list S"),
            _ => None,
        };
    }
    if class != CLASS_EV_CHARGER && class != CLASS_EV_CHARGER_DISCHARGER {
        return None;
    }
    match epc {
        0xC5 => Some("rated charge capacity"),
        0xC7 => Some("vehicle connection status"),
        0xC8 => Some("min/max charging power"),
        0xCA => Some("min/max charging current"),
        0xCC => Some("charger type"),
        0xCD => Some("vehicle connection confirmation"),
        0xCE => Some("vehicle chargeable capacity"),
        0xCF => Some("vehicle remaining chargeable"),
        0xD0 => Some("vehicle used capacity"),
        0xD2 => Some("rated voltage"),
        0xD3 => Some("instantaneous charging power"),
        0xD4 if class == CLASS_EV_CHARGER_DISCHARGER => Some("measured current"),
        0xD5 if class == CLASS_EV_CHARGER_DISCHARGER => Some("measured voltage"),
        0xD8 => Some("cumulative charged energy"),
        0xD9 => Some("cumulative charged energy reset"),
        0xDA => Some("operation mode setting"),
        0xE2 => Some("vehicle remaining energy"),
        0xE4 => Some("vehicle remaining energy %"),
        0xE6 => Some("vehicle id"),
        0xE7 => Some("charging amount setting"),
        0xEB => Some("charging power setting"),
        0xED => Some("charging current setting"),
        _ => None,
    }
}

/// The EDT length the class table defines for `epc` in an object of `eoj`'s class, where it is
/// fixed (property maps, instance lists and text have their own structure, or none).
pub fn edt_len(eoj: Eoj, epc: u8) -> Option<usize> {
    let class = eoj.class_code();
    let common = match epc {
        0x80 | 0x88 | 0x8F | 0x93 => Some(1),
        0x97 => Some(2),
        0x8A => Some(3),
        0x82 | 0x98 => Some(4),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    if class == CLASS_NODE_PROFILE {
        return match epc {
            0xBF | 0xD4 => Some(2),
            0xD3 => Some(3),
            _ => None,
        };
    }
    let discharger = class == CLASS_EV_CHARGER_DISCHARGER;
    if class != CLASS_EV_CHARGER && !discharger {
        return None;
    }
    match epc {
        0xC7 | 0xCC | 0xCD | 0xD9 | 0xDA | 0xE4 => Some(1),
        0xD7 | 0xDB if discharger => Some(1),
        0xD2 | 0xED => Some(2),
        0xD4 | 0xD5 if discharger => Some(2),
        0xCA | 0xC5 | 0xCE | 0xCF | 0xD0 | 0xD3 | 0xD8 | 0xE2 | 0xE7 | 0xEB => Some(4),
        0xC6 | 0xCB | 0xD6 if discharger => Some(4),
        0xC8 => Some(8),
        0xC9 if discharger => Some(8),
        _ => None,
    }
}

/// The value of `epc` in an object of `eoj`'s class in words, where the class table knows it.
pub fn describe(eoj: Eoj, epc: u8, edt: &[u8]) -> Option<String> {
    let class = eoj.class_code();
    let discharger = class == CLASS_EV_CHARGER_DISCHARGER;
    let charger = class == CLASS_EV_CHARGER || discharger;
    let byte = match edt {
        [b] => Some(*b),
        _ => None,
    };
    match epc {
        0x80 => byte.and_then(|b| enum_name(b, &[(0x30, "ON"), (0x31, "OFF")])),
        0x88 => byte.and_then(|b| enum_name(b, &[(0x41, "fault"), (0x42, "no fault")])),
        0x9D..=0x9F => decode_property_map(edt).ok().map(|epcs| hex_list(&epcs)),
        0xD5 | 0xD6 if class == CLASS_NODE_PROFILE => decode_instance_list(edt)
            .ok()
            .map(|l| l.iter().map(Eoj::to_string).collect::<Vec<_>>().join(" ")),
        _ if !charger => None,
        0xC7 => byte.and_then(|b| {
            let mut states = vec![
                (0x30, "not connected"),
                (0x40, "connected, not chargeable"),
                (0x41, "connected, chargeable"),
                (0x44, "connected, unknown"),
                (0xFF, "undefined"),
            ];
            if discharger {
                states.push((0x42, "connected, dischargeable"));
                states.push((0x43, "connected, (dis)chargeable"));
            }
            enum_name(b, &states)
        }),
        0xDA => byte.and_then(|b| {
            let mut modes = vec![
                (0x40, "other"),
                (0x42, "charging"),
                (0x44, "standby"),
                (0x47, "idle"),
            ];
            if discharger {
                modes.extend([
                    (0x43, "discharging"),
                    (0x46, "charging/discharging"),
                    (0x48, "preparation"),
                    (0x49, "automatic"),
                ]);
            }
            enum_name(b, &modes)
        }),
        0xD3 if discharger => signed(edt).map(|w| format!("{w} W")),
        0xC5 | 0xD3 | 0xEB => unsigned(edt).map(|w| format!("{w} W")),
        0xD8 => unsigned(edt).map(|e| format!("{}.{:03} kWh", e / 1000, e % 1000)),
        0xCE | 0xCF | 0xD0 | 0xE2 | 0xE7 => unsigned(edt).map(|wh| format!("{wh} Wh")),
        0xE4 => byte.map(|p| format!("{p} %")),
        0xED => unsigned(edt).map(|da| format!("{}.{} A", da / 10, da % 10)),
        0xD2 => unsigned(edt).map(|v| format!("{v} V")),
        _ => None,
    }
}

fn enum_name(b: u8, table: &[(u8, &str)]) -> Option<String> {
    table
        .iter()
        .find(|(v, _)| *v == b)
        .map(|(_, n)| (*n).to_string())
}

/// A big-endian unsigned value of 1 to 4 bytes.
fn unsigned(edt: &[u8]) -> Option<u32> {
    (1..=4)
        .contains(&edt.len())
        .then(|| edt.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

/// A big-endian signed 32-bit value.
fn signed(edt: &[u8]) -> Option<i32> {
    <[u8; 4]>::try_from(edt).ok().map(i32::from_be_bytes)
}

/// Codes as `80 88 C7`.
pub fn hex_list(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eoj(code: u32) -> Eoj {
        Eoj::from_u32(code).unwrap()
    }

    #[test]
    fn charger_values_in_words() {
        let c = eoj(0x02A101);
        assert_eq!(describe(c, 0x80, &[0x30]).as_deref(), Some("ON"));
        assert_eq!(
            describe(c, 0xC7, &[0x41]).as_deref(),
            Some("connected, chargeable")
        );
        assert_eq!(describe(c, 0xC7, &[0x42]), None, "discharger-only state");
        assert_eq!(
            describe(eoj(0x027E01), 0xC7, &[0x42]).as_deref(),
            Some("connected, dischargeable")
        );
        assert_eq!(describe(c, 0xDA, &[0x42]).as_deref(), Some("charging"));
        assert_eq!(
            describe(c, 0xD8, &[0, 0, 0x30, 0x39]).as_deref(),
            Some("12.345 kWh")
        );
        assert_eq!(
            describe(eoj(0x027E01), 0xD3, &[0xFF, 0xFF, 0xFC, 0x18]).as_deref(),
            Some("-1000 W")
        );
        assert_eq!(describe(c, 0xED, &[0, 160]).as_deref(), Some("16.0 A"));
        assert_eq!(
            describe(c, 0x9F, &[3, 0x80, 0xDA, 0xC7]).as_deref(),
            Some("80 C7 DA")
        );
        assert_eq!(describe(c, 0x80, &[0x30, 0x30]), None, "wrong size");
        assert_eq!(
            describe(eoj(0x0EF001), 0xD6, &[1, 2, 0xA1, 1]).as_deref(),
            Some("0x02A101")
        );
        assert_eq!(describe(eoj(0x013001), 0xDA, &[0x42]), None, "other class");
    }

    #[test]
    fn fixed_sizes_by_class() {
        assert_eq!(edt_len(eoj(0x02A101), 0xC7), Some(1));
        assert_eq!(edt_len(eoj(0x02A101), 0xD8), Some(4));
        assert_eq!(edt_len(eoj(0x02A101), 0xED), Some(2));
        assert_eq!(edt_len(eoj(0x02A101), 0xD4), None, "discharger only");
        assert_eq!(edt_len(eoj(0x027E01), 0xD4), Some(2));
        assert_eq!(edt_len(eoj(0x0EF001), 0xD3), Some(3));
        assert_eq!(
            edt_len(eoj(0x0EF001), 0xD6),
            None,
            "a list: checked by its decoder"
        );
        assert_eq!(
            edt_len(eoj(0x02A101), 0x9F),
            None,
            "a map: checked by its decoder"
        );
        assert_eq!(edt_len(eoj(0x013001), 0xC7), None, "other class");
    }

    #[test]
    fn names_by_class() {
        assert_eq!(name(eoj(0x02A101), 0xDA), Some("operation mode setting"));
        assert_eq!(name(eoj(0x0EF001), 0xD6), Some("self-node instance list S"));
        assert_eq!(name(eoj(0x02A101), 0xD4), None);
        assert_eq!(name(eoj(0x027E01), 0xD4), Some("measured current"));
        assert_eq!(name(eoj(0x013001), 0x80), Some("operation status"));
    }
}
