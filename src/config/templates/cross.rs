//! Checks across the variables of one merged template: no name mapped twice, no two polled
//! variables reading overlapping registers or bytes (unless both read exactly the same value),
//! no device-model variable exposed twice.
//! Each problem is reported once, at the later variable, in the file it was written in.

use std::path::Path;

use crate::config::raw::RawVariable;
use crate::config::ConfigError;

use super::layout::{describe, location_key, Span};
use super::variable::Checked;
use super::Origin;

/// Runs every cross-variable check over `merged` (and what checking each one found).
pub(super) fn check(
    merged: &[(Origin<'_>, &RawVariable)],
    checked: &[Checked],
    errors: &mut Vec<ConfigError>,
) {
    let at = |n: usize, k: &str| {
        let (origin, _) = merged.get(n)?;
        Some((
            origin.file,
            format!("template.variables[{}].{k}", origin.index),
        ))
    };
    // How another variable is named in a message: its key, and its file if that differs.
    let other = |n: usize, from: usize, k: &str| {
        let (Some((file, key)), Some((here, _))) = (at(n, k), at(from, k)) else {
            return String::new();
        };
        if file == here {
            key
        } else {
            format!("{key} in {}", file.display())
        }
    };
    let mut push = |file: &Path, key: String, message: String| {
        errors.push(ConfigError {
            file: file.to_path_buf(),
            key,
            message,
        })
    };
    let mut duplicated = vec![false; checked.len()];
    for (n, c) in checked.iter().enumerate() {
        let Some(name) = &c.name else { continue };
        let first = checked
            .iter()
            .take(n)
            .position(|e| e.name.as_ref() == Some(name) && e.phase == c.phase);
        let (Some(first), Some((file, key))) = (first, at(n, "ocpp_name")) else {
            continue;
        };
        if let Some(slot) = duplicated.get_mut(n) {
            *slot = true;
        }
        let given = merged.get(n).map_or("", |(_, r)| r.ocpp_name.as_str());
        let first_given = merged.get(first).map_or("", |(_, r)| r.ocpp_name.as_str());
        let first_key = other(first, n, "ocpp_name");
        let message = if given == first_given {
            format!("duplicate of {first_key} {first_given:?}")
        } else {
            format!("{given:?} means the same as {first_key} {first_given:?}")
        };
        push(file, key, message);
    }
    for (n, c) in checked.iter().enumerate() {
        let Some(span) = c.span else { continue };
        let data_type = |i: usize| merged.get(i).map(|(_, r)| r.data_type.as_str());
        // Reading exactly the same value twice is deliberate (one status register giving two
        // roles through two enums); any other overlap is a wrong address or width.
        let clash = |(i, e): (usize, &Checked)| {
            e.span
                .is_some_and(|s| overlaps(s, span) && !(s == span && data_type(i) == data_type(n)))
        };
        let Some(first) = checked.iter().enumerate().take(n).position(clash) else {
            continue;
        };
        let (Some((origin, raw)), Some((_, first_raw))) = (merged.get(n), merged.get(first)) else {
            continue;
        };
        let key = |k: &str| format!("template.variables[{}].{k}", origin.index);
        let first_key = match merged.get(first) {
            Some((first_origin, first_raw)) => {
                let k = location_key(first_raw, &|k: &str| k.to_string());
                let key = format!("template.variables[{}].{k}", first_origin.index);
                if first_origin.file == origin.file {
                    key
                } else {
                    format!("{key} in {}", first_origin.file.display())
                }
            }
            None => String::new(),
        };
        push(
            origin.file,
            location_key(raw, &key),
            format!(
                "{} ({}) overlaps {first_key} {} ({})",
                describe(raw),
                raw.data_type,
                describe(first_raw),
                first_raw.data_type
            ),
        );
    }
    for (n, c) in checked.iter().enumerate() {
        let Some((component, variable, phase)) = &c.exposure else {
            continue;
        };
        if duplicated.get(n).copied().unwrap_or(false) {
            continue;
        }
        let first = checked.iter().take(n).position(|e| {
            e.exposure
                .as_ref()
                .is_some_and(|(ec, ev, ep)| ec == component && ev == variable && ep == phase)
        });
        let (Some(first), Some((file, key))) = (first, at(n, "variable")) else {
            continue;
        };
        let instance = phase.map_or(String::new(), |p| format!(" instance {}", p.as_str()));
        push(
            file,
            key,
            format!(
                "{component}/{variable}{instance} is also exposed by {}; set component or variable",
                other(first, n, "ocpp_name")
            ),
        );
    }
}

/// Whether two polled spans read a common register, bit or byte.
fn overlaps(a: Span, b: Span) -> bool {
    let bits_differ = |x: Option<u8>, y: Option<u8>| matches!((x, y), (Some(x), Some(y)) if x != y);
    match (a, b) {
        (
            Span::Modbus {
                table: ta,
                start: sa,
                count: ca,
                bit: ba,
            },
            Span::Modbus {
                table: tb,
                start: sb,
                count: cb,
                bit: bb,
            },
        ) => ta == tb && sa < sb + cb && sb < sa + ca && !bits_differ(ba, bb),
        (
            Span::Echonet {
                epc: ea,
                start: sa,
                end: xa,
                bit: ba,
            },
            Span::Echonet {
                epc: eb,
                start: sb,
                end: xb,
                bit: bb,
            },
        ) => {
            let before = |start: u16, end: Option<u16>| end.is_some_and(|e| e <= start);
            ea == eb && !before(sb, xa) && !before(sa, xb) && !bits_differ(ba, bb)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::ModbusTable;

    fn reg(start: u32, count: u32, bit: Option<u8>) -> Span {
        Span::Modbus {
            table: ModbusTable::HoldingRegister,
            start,
            count,
            bit,
        }
    }

    fn edt(epc: u8, start: u16, end: Option<u16>) -> Span {
        Span::Echonet {
            epc,
            start,
            end,
            bit: None,
        }
    }

    #[test]
    fn register_spans() {
        assert!(overlaps(reg(10, 2, None), reg(11, 1, None)));
        assert!(!overlaps(reg(10, 2, None), reg(12, 1, None)));
        assert!(overlaps(reg(10, 4, None), reg(8, 3, None)));
        assert!(!overlaps(reg(3, 1, Some(0)), reg(3, 1, Some(1))));
        assert!(overlaps(reg(3, 1, Some(2)), reg(3, 1, Some(2))));
        assert!(overlaps(reg(3, 1, Some(2)), reg(3, 1, None)));
        let input = Span::Modbus {
            table: ModbusTable::InputRegister,
            start: 10,
            count: 2,
            bit: None,
        };
        assert!(!overlaps(reg(10, 2, None), input));
    }

    #[test]
    fn edt_spans() {
        assert!(!overlaps(edt(0xC8, 0, Some(4)), edt(0xC8, 4, Some(8))));
        assert!(overlaps(edt(0xC8, 0, Some(5)), edt(0xC8, 4, Some(8))));
        assert!(overlaps(edt(0xC8, 2, None), edt(0xC8, 4, Some(8))));
        assert!(!overlaps(edt(0xC8, 0, Some(4)), edt(0xC9, 0, Some(4))));
        assert!(!overlaps(edt(0xC8, 0, Some(4)), reg(0xC8, 4, None)));
    }
}
