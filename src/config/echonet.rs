//! Checks `[echonet]`, the ECHONET Lite transport settings, and fills in their defaults.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::error::Problems;
use super::model::EchonetConfig;
use super::raw::RawEchonet;

/// Checks `[echonet]`; every key is optional.
pub(super) fn check_echonet(raw: RawEchonet, p: &mut Problems) -> EchonetConfig {
    let interface = match raw.interface {
        None => Ipv4Addr::UNSPECIFIED,
        Some(text) => text.parse().unwrap_or_else(|_| {
            p.add(
                "echonet.interface",
                format!("{text:?} is not an IPv4 address (0.0.0.0 lets the system choose)"),
            );
            Ipv4Addr::UNSPECIFIED
        }),
    };
    let mut within = |key: &str, value: Option<u64>, default: u64, range: RangeInclusive<u64>| {
        let value = value.unwrap_or(default);
        if !range.contains(&value) {
            p.add(
                format!("echonet.{key}"),
                format!("must be between {} and {}", range.start(), range.end()),
            );
        }
        value
    };
    let small = |v: Option<u32>| v.map(u64::from);
    // The values come from u32 keys, so this never saturates.
    let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    EchonetConfig {
        interface,
        multicast_ttl: narrow(within(
            "multicast_ttl",
            small(raw.multicast_ttl),
            1,
            1..=255,
        )),
        response_timeout: Duration::from_millis(within(
            "response_timeout_ms",
            raw.response_timeout_ms,
            2000,
            100..=60_000,
        )),
        retries: narrow(within("retries", small(raw.retries), 2, 0..=10)),
        max_in_flight_per_node: narrow(within(
            "max_in_flight_per_node",
            small(raw.max_in_flight_per_node),
            2,
            1..=16,
        )),
        offline_after_failures: narrow(within(
            "offline_after_failures",
            small(raw.offline_after_failures),
            3,
            1..=100,
        )),
        inf_per_second: narrow(within(
            "inf_per_second",
            small(raw.inf_per_second),
            10,
            1..=1000,
        )),
        inf_burst: narrow(within("inf_burst", small(raw.inf_burst), 20, 1..=1000)),
    }
}

impl Default for EchonetConfig {
    /// The settings of a config without an `[echonet]` section.
    fn default() -> Self {
        let mut unused = Problems::new(std::path::Path::new(""));
        check_echonet(RawEchonet::default(), &mut unused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> (EchonetConfig, Vec<String>) {
        let raw: RawEchonet = toml::from_str(text).unwrap();
        let mut p = Problems::new("gw.toml".as_ref());
        let config = check_echonet(raw, &mut p);
        let errors = p.into_errors().iter().map(ToString::to_string).collect();
        (config, errors)
    }

    #[test]
    fn defaults() {
        let (c, errors) = check("");
        assert!(errors.is_empty());
        assert_eq!(
            c,
            EchonetConfig {
                interface: Ipv4Addr::UNSPECIFIED,
                multicast_ttl: 1,
                response_timeout: Duration::from_secs(2),
                retries: 2,
                max_in_flight_per_node: 2,
                offline_after_failures: 3,
                inf_per_second: 10,
                inf_burst: 20,
            }
        );
    }

    #[test]
    fn every_key() {
        let (c, errors) = check(
            "interface = \"192.168.1.10\"\nmulticast_ttl = 4\nresponse_timeout_ms = 500\n\
             retries = 0\nmax_in_flight_per_node = 1\noffline_after_failures = 5\n\
             inf_per_second = 2\ninf_burst = 3\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(c.interface, Ipv4Addr::new(192, 168, 1, 10));
        assert_eq!(c.multicast_ttl, 4);
        assert_eq!(c.response_timeout, Duration::from_millis(500));
        assert_eq!(
            (
                c.retries,
                c.max_in_flight_per_node,
                c.offline_after_failures
            ),
            (0, 1, 5)
        );
        assert_eq!((c.inf_per_second, c.inf_burst), (2, 3));
    }

    #[test]
    fn bad_values_are_each_reported() {
        let (_, errors) = check(
            "interface = \"eth0\"\nmulticast_ttl = 0\nresponse_timeout_ms = 10\n\
             retries = 11\nmax_in_flight_per_node = 0\noffline_after_failures = 0\n\
             inf_per_second = 0\ninf_burst = 1001\n",
        );
        assert_eq!(
            errors,
            [
                "gw.toml: echonet.interface: \"eth0\" is not an IPv4 address (0.0.0.0 lets the system choose)",
                "gw.toml: echonet.multicast_ttl: must be between 1 and 255",
                "gw.toml: echonet.response_timeout_ms: must be between 100 and 60000",
                "gw.toml: echonet.retries: must be between 0 and 10",
                "gw.toml: echonet.max_in_flight_per_node: must be between 1 and 16",
                "gw.toml: echonet.offline_after_failures: must be between 1 and 100",
                "gw.toml: echonet.inf_per_second: must be between 1 and 1000",
                "gw.toml: echonet.inf_burst: must be between 1 and 1000",
            ]
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<RawEchonet>("port = 3610").is_err());
    }
}
