//! Checks a value the CSMS (or the store) offers against a variable's characteristics, and
//! spells it the way the model keeps it.

use thiserror::Error;

use crate::ocpp::messages::{DataType, VariableCharacteristics};
use crate::util::time::parse_rfc3339;

/// Why a value does not fit a variable. Never carries the value itself: it may be a secret.
#[derive(Debug, Clone, PartialEq, Error)]
pub(super) enum Invalid {
    #[error("not a valid {0}")]
    NotA(DataType),
    #[error("below the minimum {min}")]
    TooLow { min: f64 },
    #[error("above the maximum {max}")]
    TooHigh { max: f64 },
    #[error("{len} characters long, at least {min} needed")]
    TooShort { len: usize, min: f64 },
    #[error("{len} characters long, at most {max} allowed")]
    TooLong { len: usize, max: f64 },
    #[error("{item:?} is not one of {allowed}")]
    NotListed { item: String, allowed: String },
    #[error("{0:?} is listed twice")]
    Duplicate(String),
    #[error("an OptionList takes exactly one value")]
    NotOne,
}

impl Invalid {
    /// The OCPP reason code for a SetVariableResult's statusInfo.
    pub(super) fn reason_code(&self) -> &'static str {
        match self {
            Invalid::TooLow { .. } => "ValueTooLow",
            Invalid::TooHigh { .. } => "ValueTooHigh",
            Invalid::TooShort { .. } | Invalid::TooLong { .. } => "ValueOutOfRange",
            Invalid::NotA(_)
            | Invalid::NotListed { .. }
            | Invalid::Duplicate(_)
            | Invalid::NotOne => "InvalidValue",
        }
    }
}

/// The canonical spelling of `value` if it fits `ch`: booleans in lower case, list entries
/// as `valuesList` spells them, list separators without spaces.
pub(super) fn normalize(value: &str, ch: &VariableCharacteristics) -> Result<String, Invalid> {
    let normalized = match ch.data_type {
        DataType::string => value.to_owned(),
        DataType::integer => {
            let n: i64 = value.parse().map_err(|_| Invalid::NotA(ch.data_type))?;
            check_range(n as f64, ch)?;
            n.to_string()
        }
        DataType::decimal => {
            let x = parse_decimal(value).ok_or(Invalid::NotA(ch.data_type))?;
            check_range(x, ch)?;
            value.to_owned()
        }
        DataType::boolean => match value.to_ascii_lowercase().as_str() {
            "true" => "true".to_owned(),
            "false" => "false".to_owned(),
            _ => return Err(Invalid::NotA(ch.data_type)),
        },
        DataType::dateTime => {
            parse_rfc3339(value).ok_or(Invalid::NotA(ch.data_type))?;
            value.to_owned()
        }
        DataType::OptionList => {
            let items = list_items(value, ch)?;
            if items.len() != 1 {
                return Err(Invalid::NotOne);
            }
            items.join(",")
        }
        DataType::MemberList | DataType::SequenceList => list_items(value, ch)?.join(","),
    };
    check_length(&normalized, ch)?;
    Ok(normalized)
}

/// The entries of a comma-separated list value, each spelled as `valuesList` spells it.
pub(super) fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn list_items(value: &str, ch: &VariableCharacteristics) -> Result<Vec<String>, Invalid> {
    let mut items: Vec<String> = Vec::new();
    for item in split_list(value) {
        let canonical = match &ch.values_list {
            // A list without valuesList (a template's variable) takes any entries.
            None => item.to_owned(),
            Some(allowed) => split_list(allowed)
                .find(|a| a.eq_ignore_ascii_case(item))
                .ok_or_else(|| Invalid::NotListed {
                    item: item.to_owned(),
                    allowed: allowed.clone(),
                })?
                .to_owned(),
        };
        if items.contains(&canonical) {
            return Err(Invalid::Duplicate(canonical));
        }
        items.push(canonical);
    }
    Ok(items)
}

fn check_range(x: f64, ch: &VariableCharacteristics) -> Result<(), Invalid> {
    match (ch.min_limit, ch.max_limit) {
        (Some(min), _) if x < min => Err(Invalid::TooLow { min }),
        (_, Some(max)) if x > max => Err(Invalid::TooHigh { max }),
        _ => Ok(()),
    }
}

/// For strings and lists the limits bound the length in characters.
fn check_length(value: &str, ch: &VariableCharacteristics) -> Result<(), Invalid> {
    if !matches!(
        ch.data_type,
        DataType::string | DataType::OptionList | DataType::MemberList | DataType::SequenceList
    ) {
        return Ok(());
    }
    let len = value.chars().count();
    match (ch.min_limit, ch.max_limit) {
        (Some(min), _) if (len as f64) < min => Err(Invalid::TooShort { len, min }),
        (_, Some(max)) if (len as f64) > max => Err(Invalid::TooLong { len, max }),
        _ => Ok(()),
    }
}

/// `[+-]digits[.digits]`: Rust's float parser would also take `inf`, `NaN` and exponents.
fn parse_decimal(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    s.parse().ok().filter(|x: &f64| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(data_type: DataType) -> VariableCharacteristics {
        VariableCharacteristics {
            unit: None,
            data_type,
            min_limit: None,
            max_limit: None,
            values_list: None,
            supports_monitoring: false,
        }
    }

    fn limited(data_type: DataType, min: f64, max: f64) -> VariableCharacteristics {
        VariableCharacteristics {
            min_limit: Some(min),
            max_limit: Some(max),
            ..ch(data_type)
        }
    }

    fn listed(data_type: DataType, list: &str) -> VariableCharacteristics {
        VariableCharacteristics {
            values_list: Some(list.into()),
            ..ch(data_type)
        }
    }

    #[test]
    fn integers_within_limits() {
        let c = limited(DataType::integer, 1.0, 10.0);
        assert_eq!(normalize("10", &c), Ok("10".into()));
        assert_eq!(normalize("+3", &c), Ok("3".into()));
        assert_eq!(normalize("0", &c), Err(Invalid::TooLow { min: 1.0 }));
        assert_eq!(normalize("11", &c), Err(Invalid::TooHigh { max: 10.0 }));
        for bad in ["", "1.5", "ten", " 5", "99999999999999999999"] {
            assert_eq!(
                normalize(bad, &c),
                Err(Invalid::NotA(DataType::integer)),
                "{bad}"
            );
        }
        assert_eq!(normalize("-7", &ch(DataType::integer)), Ok("-7".into()));
    }

    #[test]
    fn decimals_reject_what_rust_would_take() {
        let c = limited(DataType::decimal, -1.0, 100.0);
        assert_eq!(normalize("2.50", &c), Ok("2.50".into()));
        assert_eq!(normalize("-1", &c), Ok("-1".into()));
        assert_eq!(normalize("100.5", &c), Err(Invalid::TooHigh { max: 100.0 }));
        for bad in ["inf", "NaN", "1e3", ".5", "5.", "", "1,5"] {
            assert_eq!(
                normalize(bad, &c),
                Err(Invalid::NotA(DataType::decimal)),
                "{bad}"
            );
        }
    }

    #[test]
    fn booleans_and_date_times() {
        let b = ch(DataType::boolean);
        assert_eq!(normalize("TRUE", &b), Ok("true".into()));
        assert_eq!(normalize("false", &b), Ok("false".into()));
        assert_eq!(normalize("1", &b), Err(Invalid::NotA(DataType::boolean)));
        let d = ch(DataType::dateTime);
        assert_eq!(
            normalize("2024-01-01T00:00:00Z", &d),
            Ok("2024-01-01T00:00:00Z".into())
        );
        assert_eq!(
            normalize("yesterday", &d),
            Err(Invalid::NotA(DataType::dateTime))
        );
    }

    #[test]
    fn strings_are_bounded_in_characters() {
        let c = limited(DataType::string, 2.0, 3.0);
        assert_eq!(normalize("äöü", &c), Ok("äöü".into()));
        assert_eq!(
            normalize("a", &c),
            Err(Invalid::TooShort { len: 1, min: 2.0 })
        );
        assert_eq!(
            normalize("abcd", &c),
            Err(Invalid::TooLong { len: 4, max: 3.0 })
        );
        let err = normalize("secret-value", &c).expect_err("too long");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn option_lists_take_one_listed_value() {
        let c = listed(DataType::OptionList, "Available,Unavailable");
        assert_eq!(normalize("unavailable", &c), Ok("Unavailable".into()));
        assert_eq!(normalize("Available,Unavailable", &c), Err(Invalid::NotOne));
        assert_eq!(normalize("", &c), Err(Invalid::NotOne));
        assert!(matches!(
            normalize("Broken", &c),
            Err(Invalid::NotListed { .. })
        ));
    }

    #[test]
    fn member_and_sequence_lists() {
        let m = listed(
            DataType::MemberList,
            "EVConnected,Authorized,PowerPathClosed",
        );
        assert_eq!(
            normalize("authorized, EVConnected", &m),
            Ok("Authorized,EVConnected".into())
        );
        assert_eq!(normalize("", &m), Ok(String::new()));
        assert_eq!(
            normalize("Authorized,Authorized", &m),
            Err(Invalid::Duplicate("Authorized".into()))
        );
        assert!(matches!(
            normalize("EVConnected,DataSigned", &m),
            Err(Invalid::NotListed { .. })
        ));
        let s = VariableCharacteristics {
            min_limit: Some(1.0),
            ..listed(DataType::SequenceList, "1,2")
        };
        assert_eq!(normalize("2,1", &s), Ok("2,1".into()));
        assert_eq!(
            normalize("", &s),
            Err(Invalid::TooShort { len: 0, min: 1.0 })
        );
        assert_eq!(
            normalize("anything,goes", &ch(DataType::MemberList)),
            Ok("anything,goes".into())
        );
    }

    #[test]
    fn reason_codes_fit_the_schema() {
        let all = [
            Invalid::NotA(DataType::integer),
            Invalid::TooLow { min: 0.0 },
            Invalid::TooHigh { max: 0.0 },
            Invalid::TooShort { len: 0, min: 1.0 },
            Invalid::TooLong { len: 2, max: 1.0 },
            Invalid::Duplicate("x".into()),
            Invalid::NotOne,
        ];
        for i in all {
            assert!(i.reason_code().len() <= 20, "{i:?}");
        }
    }
}
