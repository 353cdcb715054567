//! Plain-text layout of `diag el` results, at most 80 columns: values in hex, and in words
//! where the EV charger class table knows the property.

use crate::echonet::discovery::{NodeInfo, ObjectInfo};
use crate::echonet::epc::{describe, hex_list, name};
use crate::echonet::{Eoj, Property, CLASS_EV_CHARGER, CLASS_EV_CHARGER_DISCHARGER};

/// Width of the output.
const WIDTH: usize = 80;
/// Width of the property-name column.
const NAME_WIDTH: usize = 28;
/// Where values start: `0xNN  ` + name + two spaces.
const VALUE_COLUMN: usize = 6 + NAME_WIDTH + 2;
/// Bytes of hex per line (3 columns each).
const HEX_PER_LINE: usize = (WIDTH - VALUE_COLUMN) / 3;
/// Where property-map codes start in discover output.
const MAP_COLUMN: usize = 17;

/// `0x02A101 (EV charger)`.
pub(super) fn object_title(eoj: Eoj) -> String {
    match class_name(eoj) {
        Some(n) => format!("{eoj} ({n})"),
        None => eoj.to_string(),
    }
}

fn class_name(eoj: Eoj) -> Option<&'static str> {
    match eoj.class_code() {
        0x0EF0 => Some("node profile"),
        0x05FF => Some("controller"),
        CLASS_EV_CHARGER => Some("EV charger"),
        CLASS_EV_CHARGER_DISCHARGER => Some("EV charger/discharger"),
        _ => None,
    }
}

/// The lines of one property: code, name, value in hex (wrapped), and its meaning.
pub(super) fn property_lines(eoj: Eoj, p: &Property, refused: bool) -> Vec<String> {
    let label: String = name(eoj, p.epc)
        .unwrap_or("")
        .chars()
        .take(NAME_WIDTH)
        .collect();
    let head = format!("0x{:02X}  {label:<NAME_WIDTH$}  ", p.epc);
    if refused {
        return vec![format!("{head}refused")];
    }
    if p.edt.is_empty() {
        return vec![format!("{head}(no value)")];
    }
    let pad = " ".repeat(VALUE_COLUMN);
    let mut lines: Vec<String> = p
        .edt
        .chunks(HEX_PER_LINE)
        .enumerate()
        .map(|(i, chunk)| {
            let lead = if i == 0 { &head } else { &pad };
            format!("{lead}{}", hex_list(chunk))
        })
        .collect();
    if let Some(meaning) = describe(eoj, p.epc, &p.edt) {
        let fits_after =
            lines.len() == 1 && lines.first().map_or(0, String::len) + 2 + meaning.len() <= WIDTH;
        match lines.last_mut() {
            Some(last) if fits_after => {
                last.push_str("  ");
                last.push_str(&meaning);
            }
            _ => lines.extend(wrap(&format!("= {meaning}"), VALUE_COLUMN)),
        }
    }
    lines
}

/// The lines of one discovered node.
pub(super) fn node_lines(node: &NodeInfo) -> Vec<String> {
    let mut lines = vec![format!("node {}", node.ip)];
    for object in &node.objects {
        lines.extend(object_lines(object));
    }
    lines
}

fn object_lines(object: &ObjectInfo) -> Vec<String> {
    let mut lines = vec![format!("  {}", object_title(object.eoj))];
    match &object.maps {
        Err(e) => lines.extend(wrap(&format!("property maps: {e}"), 4)),
        Ok(maps) => {
            let rows = [
                ("announces", &maps.status_change),
                ("set", &maps.set),
                ("get", &maps.get),
            ];
            for (label, map) in rows {
                let codes = match map {
                    Some(epcs) if epcs.is_empty() => "(none)".to_string(),
                    Some(epcs) => hex_list(epcs),
                    None => "(not given)".to_string(),
                };
                let mut row = wrap(&codes, MAP_COLUMN);
                if let Some(first) = row.first_mut() {
                    let head = format!("    {label:<width$}", width = MAP_COLUMN - 4);
                    first.replace_range(..MAP_COLUMN, &head);
                }
                lines.extend(row);
            }
        }
    }
    lines
}

/// `text` split at spaces into lines of at most `WIDTH` columns, each indented by `indent`.
fn wrap(text: &str, indent: usize) -> Vec<String> {
    let pad = " ".repeat(indent);
    let mut lines = Vec::new();
    let mut line = pad.clone();
    for word in text.split(' ') {
        if line.len() > indent && line.len() + 1 + word.len() > WIDTH {
            lines.push(std::mem::replace(&mut line, pad.clone()));
        }
        if line.len() > indent {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::echonet::discovery::PropertyMaps;

    fn charger() -> Eoj {
        Eoj::from_u32(0x02A101).unwrap()
    }

    #[test]
    fn short_values_fit_one_line_with_their_meaning() {
        let lines = property_lines(charger(), &Property::new(0xC7, [0x41]), false);
        assert_eq!(
            lines,
            ["0xC7  vehicle connection status     41  connected, chargeable"]
        );
        let refused = property_lines(charger(), &Property::empty(0xD8), true);
        assert_eq!(refused, ["0xD8  cumulative charged energy     refused"]);
    }

    #[test]
    fn long_values_wrap_within_eighty_columns() {
        let map = crate::echonet::propmap::encode_property_map(
            &(0x80..=0xFF).step_by(3).collect::<Vec<u8>>(),
        )
        .unwrap();
        let lines = property_lines(charger(), &Property::new(0x9F, map), false);
        assert!(lines.len() >= 4, "{lines:#?}");
        assert!(lines.iter().all(|l| l.len() <= WIDTH), "{lines:#?}");
        assert!(lines
            .iter()
            .any(|l| l.trim_start().starts_with("= 80 83 86")));
    }

    #[test]
    fn a_node_lists_objects_and_maps() {
        let node = NodeInfo {
            ip: "127.0.0.2".parse().unwrap(),
            objects: vec![
                ObjectInfo {
                    eoj: charger(),
                    maps: Ok(PropertyMaps {
                        status_change: Some(vec![0x80, 0xC7]),
                        set: Some(vec![]),
                        get: None,
                    }),
                },
                ObjectInfo {
                    eoj: Eoj::from_u32(0x013001).unwrap(),
                    maps: Err("no answer".into()),
                },
            ],
        };
        assert_eq!(
            node_lines(&node),
            [
                "node 127.0.0.2",
                "  0x02A101 (EV charger)",
                "    announces    80 C7",
                "    set          (none)",
                "    get          (not given)",
                "  0x013001",
                "    property maps: no answer",
            ]
        );
    }
}
