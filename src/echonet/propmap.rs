//! Values with a structure the gateway needs: property maps (0x9D/0x9E/0x9F) and instance
//! lists (node profile 0xD5/0xD6).
//!
//! A property map starts with the number of properties. Below 16 the codes follow as a list;
//! from 16 on, 16 bytes follow as a bitmap: byte `n` (after the count) holds the codes whose low
//! nibble is `n`, bit `b` standing for high nibble `8 + b` (bit 0 = 0x8n, bit 7 = 0xFn).

use super::error::PropertyError;
use super::frame::Eoj;

/// Property maps with this many properties or more use the bitmap form.
pub const BITMAP_FROM: usize = 16;
/// At most this many objects fit in one instance-list value.
pub const MAX_INSTANCES: usize = 84;

/// The property codes of a map, ascending.
pub fn decode_property_map(edt: &[u8]) -> Result<Vec<u8>, PropertyError> {
    let (&count, rest) = edt.split_first().ok_or(PropertyError::Empty)?;
    let count = usize::from(count);
    if count < BITMAP_FROM {
        if rest.len() != count {
            return Err(PropertyError::Length {
                count,
                expected: 1 + count,
                len: edt.len(),
            });
        }
        if let Some(&bad) = rest.iter().find(|&&epc| epc < 0x80) {
            return Err(PropertyError::NotAnEpc(bad));
        }
        let mut epcs = rest.to_vec();
        epcs.sort_unstable();
        epcs.dedup();
        return Ok(epcs);
    }
    if rest.len() != 16 {
        return Err(PropertyError::Length {
            count,
            expected: 17,
            len: edt.len(),
        });
    }
    let mut epcs = Vec::with_capacity(count);
    for bit in 0..8u8 {
        for (low, byte) in (0u8..).zip(rest) {
            if byte & (1 << bit) != 0 {
                epcs.push(0x80 + (bit << 4) + low);
            }
        }
    }
    if epcs.len() != count {
        return Err(PropertyError::CountMismatch {
            count,
            bits: epcs.len(),
        });
    }
    Ok(epcs)
}

/// The map of `epcs` in the form its size calls for; codes below 0x80 are not properties.
pub fn encode_property_map(epcs: &[u8]) -> Result<Vec<u8>, PropertyError> {
    let mut sorted = epcs.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if let Some(&bad) = sorted.iter().find(|&&epc| epc < 0x80) {
        return Err(PropertyError::NotAnEpc(bad));
    }
    let count = u8::try_from(sorted.len()).map_err(|_| PropertyError::TooMany(sorted.len()))?;
    if sorted.len() < BITMAP_FROM {
        let mut out = vec![count];
        out.extend_from_slice(&sorted);
        return Ok(out);
    }
    let mut out = vec![count];
    out.extend([0u8; 16]);
    for epc in sorted {
        let bit = (epc >> 4) - 8;
        if let Some(byte) = out.get_mut(1 + usize::from(epc & 0x0F)) {
            *byte |= 1 << bit;
        }
    }
    Ok(out)
}

/// Checks a received value of `epc` in an object of `eoj`'s class against its definition: its
/// fixed length, or the structure of a property map or instance list. An empty value (a
/// refused property) passes; unknown properties are not checked.
pub fn check_edt(eoj: Eoj, epc: u8, edt: &[u8]) -> Result<(), PropertyError> {
    if edt.is_empty() {
        return Ok(());
    }
    let list = eoj.class_code() == super::CLASS_NODE_PROFILE
        && matches!(
            epc,
            super::epc::INSTANCE_LIST_NOTIFICATION | super::epc::SELF_NODE_INSTANCES
        );
    if list {
        return decode_instance_list(edt).map(drop);
    }
    if (super::epc::STATUS_CHANGE_MAP..=super::epc::GET_MAP).contains(&epc) {
        return decode_property_map(edt).map(drop);
    }
    match super::epc::edt_len(eoj, epc) {
        Some(expected) if edt.len() != expected => Err(PropertyError::Size {
            epc,
            expected,
            len: edt.len(),
        }),
        _ => Ok(()),
    }
}

/// The objects of an instance list (count, then three bytes per object).
pub fn decode_instance_list(edt: &[u8]) -> Result<Vec<Eoj>, PropertyError> {
    let (&count, rest) = edt.split_first().ok_or(PropertyError::Empty)?;
    let count = usize::from(count);
    if rest.len() != 3 * count {
        return Err(PropertyError::Length {
            count,
            expected: 1 + 3 * count,
            len: edt.len(),
        });
    }
    Ok(rest
        .chunks_exact(3)
        .filter_map(|c| <[u8; 3]>::try_from(c).ok().map(Eoj::from_bytes))
        .collect())
}

/// The instance-list value of `eojs` (at most `MAX_INSTANCES`).
pub fn encode_instance_list(eojs: &[Eoj]) -> Result<Vec<u8>, PropertyError> {
    if eojs.len() > MAX_INSTANCES {
        return Err(PropertyError::TooMany(eojs.len()));
    }
    let mut out = Vec::with_capacity(1 + 3 * eojs.len());
    out.push(eojs.len() as u8); // ok: at most 84.
    for eoj in eojs {
        out.extend_from_slice(&eoj.to_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 16 properties of a typical device object, whose map needs the bitmap form.
    const SIXTEEN: [u8; 16] = [
        0x80, 0x81, 0x82, 0x83, 0x88, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x97, 0x98, 0x9D, 0x9E,
        0x9F,
    ];
    /// Their bitmap, worked out by hand: byte n lists low nibble n, bit 0 = 0x8n, bit 1 = 0x9n.
    const SIXTEEN_MAP: [u8; 17] = [
        0x10, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x02, 0x03, 0x00, 0x01, 0x01, 0x01, 0x03,
        0x03, 0x03,
    ];

    #[test]
    fn list_form_below_sixteen() {
        let map = [0x04, 0xDA, 0x80, 0x88, 0xC7];
        assert_eq!(decode_property_map(&map), Ok(vec![0x80, 0x88, 0xC7, 0xDA]));
        assert_eq!(
            encode_property_map(&[0x80, 0x88, 0xC7, 0xDA]),
            Ok(vec![0x04, 0x80, 0x88, 0xC7, 0xDA])
        );
        assert_eq!(encode_property_map(&[]), Ok(vec![0x00]));
        assert_eq!(decode_property_map(&[0x00]), Ok(vec![]));
    }

    #[test]
    fn bitmap_form_from_sixteen() {
        assert_eq!(decode_property_map(&SIXTEEN_MAP), Ok(SIXTEEN.to_vec()));
        assert_eq!(encode_property_map(&SIXTEEN), Ok(SIXTEEN_MAP.to_vec()));
        // The corners: 0x80 is byte 1 bit 0, 0xFF is byte 16 bit 7.
        let all: Vec<u8> = (0x80..=0xFF).collect();
        let mut full = vec![0x80];
        full.extend([0xFF; 16]);
        assert_eq!(encode_property_map(&all), Ok(full.clone()));
        assert_eq!(decode_property_map(&full), Ok(all));
        let mut corners: Vec<u8> = (0x80..0x8E).collect();
        corners.extend([0xF0, 0xFF]);
        let map = encode_property_map(&corners).unwrap();
        assert_eq!(map[1], 0x81, "0x80 and 0xF0 share byte 1");
        assert_eq!(map[16], 0x80, "0xFF alone in byte 16 bit 7");
        assert_eq!(decode_property_map(&map), Ok(corners));
    }

    #[test]
    fn bad_maps_are_rejected() {
        assert_eq!(decode_property_map(&[]), Err(PropertyError::Empty));
        assert_eq!(
            decode_property_map(&[0x03, 0x80, 0x81]),
            Err(PropertyError::Length {
                count: 3,
                expected: 4,
                len: 3
            })
        );
        assert_eq!(
            decode_property_map(&[0x01, 0x30]),
            Err(PropertyError::NotAnEpc(0x30))
        );
        assert_eq!(
            decode_property_map(&SIXTEEN_MAP[..16]),
            Err(PropertyError::Length {
                count: 16,
                expected: 17,
                len: 16
            })
        );
        let mut wrong_count = SIXTEEN_MAP;
        wrong_count[0] = 17;
        assert_eq!(
            decode_property_map(&wrong_count),
            Err(PropertyError::CountMismatch {
                count: 17,
                bits: 16
            })
        );
        assert_eq!(
            encode_property_map(&[0x80, 0x10]),
            Err(PropertyError::NotAnEpc(0x10))
        );
    }

    #[test]
    fn received_values_are_checked_against_their_definition() {
        let charger = Eoj::from_u32(0x02A101).unwrap();
        let profile = Eoj::from_u32(0x0EF001).unwrap();
        assert_eq!(check_edt(charger, 0xC7, &[0x41]), Ok(()));
        assert_eq!(check_edt(charger, 0xC7, &[]), Ok(()), "refused: no value");
        assert_eq!(
            check_edt(charger, 0xC7, &[0x41, 0x00]),
            Err(PropertyError::Size {
                epc: 0xC7,
                expected: 1,
                len: 2
            }),
            "longer than defined"
        );
        assert!(check_edt(charger, 0xD8, &[0, 0, 1]).is_err(), "shorter too");
        assert!(check_edt(charger, 0x9F, &[2, 0x80, 0xC7, 0xDA]).is_err());
        assert_eq!(check_edt(charger, 0x9F, &[2, 0x80, 0xC7]), Ok(()));
        assert!(check_edt(profile, 0xD6, &[1, 2, 0xA1, 1, 0]).is_err());
        assert_eq!(check_edt(profile, 0xD6, &[1, 2, 0xA1, 1]), Ok(()));
        assert_eq!(check_edt(charger, 0xE6, &[1; 25]), Ok(()), "not fixed");
    }

    #[test]
    fn instance_lists() {
        let edt = [0x02, 0x02, 0xA1, 0x01, 0x02, 0x7E, 0x01];
        let eojs = vec![
            Eoj::from_u32(0x02A101).unwrap(),
            Eoj::from_u32(0x027E01).unwrap(),
        ];
        assert_eq!(decode_instance_list(&edt), Ok(eojs.clone()));
        assert_eq!(encode_instance_list(&eojs), Ok(edt.to_vec()));
        assert_eq!(decode_instance_list(&[]), Err(PropertyError::Empty));
        assert_eq!(
            decode_instance_list(&edt[..6]),
            Err(PropertyError::Length {
                count: 2,
                expected: 7,
                len: 6
            })
        );
        let many = vec![eojs[0]; MAX_INSTANCES + 1];
        assert_eq!(encode_instance_list(&many), Err(PropertyError::TooMany(85)));
    }
}
