//! HTTP Basic authentication as the simulator demands it: user name = station identity,
//! password per station.

use tungstenite::http::HeaderValue;

/// Checks an `Authorization` header against the station's password; the error is the refusal
/// reason (it never contains a password).
pub(super) fn check(
    header: Option<&HeaderValue>,
    station: &str,
    password: Option<&str>,
) -> Result<(), String> {
    let header = header.ok_or("no HTTP Basic credentials")?;
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or("the Authorization header is not HTTP Basic")?;
    let decoded = decode_base64(token.trim())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or("the HTTP Basic credentials are not base64 UTF-8")?;
    let (user, given) = decoded
        .split_once(':')
        .ok_or("the HTTP Basic credentials have no ':'")?;
    if user != station {
        return Err(format!(
            "user name {user:?} is not the station identity {station:?}"
        ));
    }
    let expected = password.ok_or_else(|| format!("no password is registered for {station}"))?;
    if given != expected {
        return Err(format!("wrong password for {station}"));
    }
    Ok(())
}

/// Decodes padded standard base64 (RFC 4648 §4); `None` if it is not that.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    }
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let quads = bytes.len() / 4;
    for (i, quad) in bytes.chunks(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &c in quad.get(..4 - pad)? {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad as u32;
        let [_, a, b, c] = n.to_be_bytes();
        out.extend_from_slice(&[a, b, c][..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::base64;

    fn header(user: &str, password: &str) -> HeaderValue {
        let token = base64::encode(format!("{user}:{password}").as_bytes());
        HeaderValue::from_str(&format!("Basic {token}")).expect("base64 is a valid header")
    }

    #[test]
    fn base64_round_trips() {
        for plain in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "CP001:pa:ss",
        ] {
            let coded = base64::encode(plain.as_bytes());
            assert_eq!(
                decode_base64(&coded).as_deref(),
                Some(plain.as_bytes()),
                "{coded}"
            );
        }
        for bad in ["Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "Zm9"] {
            assert_eq!(decode_base64(bad), None, "{bad}");
        }
    }

    #[test]
    fn refusals_say_why_without_the_password() {
        let right = header("CP1", "0123456789abcdef");
        assert_eq!(check(Some(&right), "CP1", Some("0123456789abcdef")), Ok(()));
        let wrong = check(
            Some(&header("CP1", "guess")),
            "CP1",
            Some("0123456789abcdef"),
        );
        assert_eq!(wrong, Err("wrong password for CP1".into()));
        let other = check(Some(&right), "CP2", Some("0123456789abcdef"));
        assert!(other.is_err_and(|r| r.contains("not the station identity")));
        let unknown = check(Some(&right), "CP1", None);
        assert!(unknown.is_err_and(|r| r.contains("no password is registered")));
        let missing = check(None, "CP1", Some("0123456789abcdef"));
        assert_eq!(missing, Err("no HTTP Basic credentials".into()));
        let bearer = HeaderValue::from_static("Bearer abc");
        let not_basic = check(Some(&bearer), "CP1", Some("0123456789abcdef"));
        assert!(not_basic.is_err_and(|r| r.contains("not HTTP Basic")));
    }
}
