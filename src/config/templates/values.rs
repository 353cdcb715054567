//! Whether a variable's values suit its role: enum texts and coverage, numbers, scale,
//! offset_value, unit, min and max.

use std::collections::BTreeMap;

use super::check_len;
use crate::config::error::Problems;
use crate::config::raw::RawVariable;
use crate::mapping::{Access, DataType, OcppName, ValueRule};

/// Longest `unit` (OCPP UnitOfMeasureType.unit).
const MAX_UNIT: usize = 20;
/// Whether the role's value rule, the data type and the numeric keys agree; the enum map.
pub(super) fn check_values(
    v: &RawVariable,
    name: &OcppName,
    dt: DataType,
    has_bit: bool,
    access: Access,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> BTreeMap<i64, String> {
    let bool_like = dt == DataType::Bool || has_bit;
    let rule = name.value_rule();
    match rule {
        ValueRule::Number if bool_like || dt.is_text() || v.enum_map.is_some() => {
            let what = if v.enum_map.is_some() {
                "takes no enum"
            } else if dt.is_text() {
                "cannot be text"
            } else {
                "cannot be a single bit"
            };
            let k = if v.enum_map.is_some() {
                "enum"
            } else {
                "data_type"
            };
            p.add(key(k), format!("{name} is numeric and {what}"));
            return BTreeMap::new();
        }
        ValueRule::Text if !dt.is_text() => {
            p.add(key("data_type"), format!("{name} is text: string or bytes"));
            return BTreeMap::new();
        }
        ValueRule::Enum { texts, .. } if v.enum_map.is_none() => {
            p.add(
                key("enum"),
                format!(
                    "missing key ({name} maps device values to {})",
                    texts.join(", ")
                ),
            );
            return BTreeMap::new();
        }
        ValueRule::BoolOrEnum(texts) if v.enum_map.is_none() && !bool_like => {
            p.add(
                key("enum"),
                format!(
                    "missing key ({name} is a bool, a bit, or an enum onto {})",
                    texts.join(", ")
                ),
            );
            return BTreeMap::new();
        }
        _ => {}
    }
    let not_plain = if bool_like {
        Some("a bool or bit")
    } else if v.enum_map.is_some() {
        Some("an enum")
    } else if dt.is_text() {
        Some(dt.name())
    } else {
        None
    };
    check_numbers(v, not_plain, access, key, p);
    let Some(entries) = &v.enum_map else {
        return BTreeMap::new();
    };
    let range = if bool_like {
        Some((0, 1))
    } else if let Some(range) = dt.integer_range() {
        Some(range)
    } else {
        p.add(
            key("enum"),
            format!("an enum needs an integer data type, not {}", dt.name()),
        );
        return BTreeMap::new();
    };
    let allowed = name.enum_values();
    if entries.is_empty() {
        p.add(key("enum"), "must not be empty");
    }
    let mut map: BTreeMap<i64, String> = BTreeMap::new();
    for (device_value, text) in entries {
        let entry_key = key(&format!("enum.{device_value}"));
        let Some(n) = parse_int(device_value) else {
            p.add(entry_key, format!("{device_value:?} is not an integer"));
            continue;
        };
        if let Some((min, max)) = range {
            if !(min..=max).contains(&i128::from(n)) {
                let what = if bool_like {
                    "a bit (0 or 1)"
                } else {
                    dt.name()
                };
                p.add(&entry_key, format!("{n} is out of range for {what}"));
            }
        }
        if let Some(allowed) = allowed.filter(|a| !a.contains(&text.as_str())) {
            p.add(
                &entry_key,
                format!(
                    "{text:?} is not allowed for {name} (expected one of {})",
                    allowed.join(", ")
                ),
            );
        }
        if access.writes() {
            if let Some((other, _)) = map.iter().find(|(_, t)| *t == text) {
                p.add(
                    &entry_key,
                    format!("{text:?} is also the text of {other}; a written enum needs one device value per text"),
                );
            }
        }
        if map.insert(n, text.clone()).is_some() {
            p.add(entry_key, format!("{n} is listed twice"));
        }
    }
    let cover = match rule {
        ValueRule::Enum { texts, cover: true } | ValueRule::BoolOrEnum(texts) => texts,
        _ => &[],
    };
    let missing: Vec<_> = cover
        .iter()
        .filter(|t| !map.values().any(|v| v == *t))
        .map(|t| format!("{t:?}"))
        .collect();
    if !missing.is_empty() && !entries.is_empty() {
        p.add(
            key("enum"),
            format!("{name} needs a device value for {}", missing.join(" and ")),
        );
    }
    map
}

/// `scale`, `offset_value`, `unit`, `min` and `max` apply to plain numbers; `min`/`max` only
/// to written ones.
fn check_numbers(
    v: &RawVariable,
    not_plain: Option<&str>,
    access: Access,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) {
    let numbers = [
        ("scale", v.scale),
        ("offset_value", v.offset_value),
        ("min", v.min),
        ("max", v.max),
    ];
    for (k, value) in numbers {
        let Some(value) = value else { continue };
        if let Some(what) = not_plain {
            p.add(key(k), format!("does not apply to {what}"));
        } else if matches!(k, "min" | "max") && !access.writes() {
            p.add(
                key(k),
                "only applies to written variables (access write or read_write)",
            );
        } else if !value.is_finite() || (k == "scale" && value == 0.0) {
            let other = if k == "scale" { " other than 0" } else { "" };
            p.add(key(k), format!("must be a finite number{other}"));
        }
    }
    if let (Some(min), Some(max)) = (v.min, v.max) {
        if not_plain.is_none() && access.writes() && min > max {
            p.add(key("min"), format!("{min} is above max {max}"));
        }
    }
    if let Some(unit) = &v.unit {
        match not_plain {
            Some(what) => p.add(key("unit"), format!("does not apply to {what}")),
            None => check_len(p, &key("unit"), Some(unit), MAX_UNIT),
        }
    }
}

/// Decimal, or hex with `0x` (enum keys are strings in TOML tables).
fn parse_int(text: &str) -> Option<i64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}
