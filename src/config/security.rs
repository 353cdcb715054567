//! OCPP security profiles and HTTP Basic passwords (OCPP 2.0.1 Part 2, A00): the security keys of
//! `[csms]` and `[devices.security]`, the rules between them, and per-station password derivation.

use std::fmt;

use ring::hmac;

use super::error::Problems;
use super::raw::{RawCsms, RawDevice, RawSecret};
use super::{Config, CsmsConfig, DeviceConfig, SecurityConfig};
use crate::util::base64;

/// How a station proves itself to the CSMS and the CSMS to the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecurityProfile {
    /// 0: no OCPP security profile; no Basic auth, no client certificate (a `wss://` CSMS
    /// certificate is still checked).
    Unsecured,
    /// 1: HTTP Basic authentication; the transport is whatever the URL says.
    BasicAuth,
    /// 2: TLS with the CSMS certificate checked, and HTTP Basic authentication.
    TlsBasicAuth,
    /// 3: TLS with a client certificate authenticating the station.
    TlsClientCert,
}

impl SecurityProfile {
    /// The profile with OCPP number `n` (0 to 3).
    pub fn from_number(n: u8) -> Option<SecurityProfile> {
        match n {
            0 => Some(SecurityProfile::Unsecured),
            1 => Some(SecurityProfile::BasicAuth),
            2 => Some(SecurityProfile::TlsBasicAuth),
            3 => Some(SecurityProfile::TlsClientCert),
            _ => None,
        }
    }

    /// The OCPP number (the `SecurityProfile` device-model variable).
    pub fn number(self) -> u8 {
        match self {
            SecurityProfile::Unsecured => 0,
            SecurityProfile::BasicAuth => 1,
            SecurityProfile::TlsBasicAuth => 2,
            SecurityProfile::TlsClientCert => 3,
        }
    }

    /// Whether stations send HTTP Basic credentials.
    pub fn uses_basic_auth(self) -> bool {
        matches!(
            self,
            SecurityProfile::BasicAuth | SecurityProfile::TlsBasicAuth
        )
    }
}

/// Why a text is not a valid Basic auth password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Outside 16..=40 characters (A00.FR.205 with a `BasicAuthPassword` maxLimit of 40).
    #[error(
        "must be {min} to {max} characters long (it has {len})",
        min = Password::MIN_LEN,
        max = Password::MAX_LEN
    )]
    Length { len: usize },
    /// A character outside the OCPP passwordString set; which one is not said, to keep the
    /// password out of error output.
    #[error("may only contain a-z A-Z 0-9 * - _ = : + | @ .")]
    Character,
}

/// A station's HTTP Basic password: an OCPP passwordString of 16 to 40 characters. Neither
/// `Debug` nor any error shows it; [`Password::expose`] is the only way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Shortest password OCPP allows.
    pub const MIN_LEN: usize = 16;
    /// Longest password the gateway accepts: the smallest `BasicAuthPassword` maxLimit OCPP
    /// allows, so any CSMS can hand it out.
    pub const MAX_LEN: usize = 40;

    /// Checks `text` against the OCPP passwordString rules.
    pub fn new(text: &str) -> Result<Password, PasswordError> {
        let len = text.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(PasswordError::Length { len });
        }
        let allowed = |b: u8| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'*' | b'-' | b'_' | b'=' | b':' | b'+' | b'|' | b'@' | b'.'
                )
        };
        if !text.bytes().all(allowed) {
            return Err(PasswordError::Character);
        }
        Ok(Password(text.to_owned()))
    }

    /// The password itself, for the Authorization header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// The secret every station's password is derived from; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordSecret(Vec<u8>);

impl PasswordSecret {
    /// Shortest secret accepted: as long as the shortest password, so deriving adds no weakness.
    pub const MIN_LEN: usize = 16;

    /// The password of station `ocpp_id`; see [`derive_password`].
    pub fn derive(&self, ocpp_id: &str) -> Password {
        derive_password(&self.0, ocpp_id)
    }
}

impl fmt::Debug for PasswordSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordSecret(<redacted>)")
    }
}

/// The password of station `ocpp_id` derived from `secret`: the first 40 characters of
/// base64url (RFC 4648 §5) of HMAC-SHA256(key = `secret`, message = `ocpp_id`). base64url, not
/// base64, because '/' is not a passwordString character. A CSMS computes the same to check it.
pub fn derive_password(secret: &[u8], ocpp_id: &str) -> Password {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, ocpp_id.as_bytes());
    // 32 bytes give 43 significant characters, so the cut never reaches the '=' padding.
    let text = base64::encode(tag.as_ref())
        .chars()
        .take(Password::MAX_LEN)
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    Password(text)
}

/// Where stations without a password of their own get theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasicAuthSource {
    /// `csms.basic_auth_password`: one password for every station.
    Shared(Password),
    /// `csms.basic_auth_secret`: a password per station, derived from the secret.
    Derived(PasswordSecret),
}

impl CsmsConfig {
    /// Whether the URL is `wss://` (any case).
    pub fn uses_tls(&self) -> bool {
        is_wss(&self.url)
    }
}

fn is_wss(url: &str) -> bool {
    url.get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("wss://"))
}

impl Config {
    /// The Basic auth password `device`'s station connects with, or `None` when its security
    /// profile sends no credentials.
    pub fn basic_auth_password(&self, device: &DeviceConfig) -> Option<Password> {
        if !self.csms.security_profile.uses_basic_auth() {
            return None;
        }
        if let Some(own) = &device.basic_auth_password {
            return Some(own.clone());
        }
        match self.csms.basic_auth.as_ref()? {
            BasicAuthSource::Shared(password) => Some(password.clone()),
            BasicAuthSource::Derived(secret) => Some(secret.derive(&device.ocpp_id)),
        }
    }
}

/// Checks the security keys of `[csms]` against the URL (already checked) and
/// `[system.security]`.
pub(super) fn check_csms_security(
    raw: &RawCsms,
    url: &str,
    security: &SecurityConfig,
    p: &mut Problems,
) -> (SecurityProfile, Option<BasicAuthSource>) {
    let profile = match raw.security_profile {
        None => SecurityProfile::Unsecured,
        Some(n) => SecurityProfile::from_number(n).unwrap_or_else(|| {
            p.add("csms.security_profile", "must be 0, 1, 2 or 3");
            SecurityProfile::Unsecured
        }),
    };
    let tls = is_wss(url);
    let n = profile.number();
    if !tls && profile >= SecurityProfile::TlsBasicAuth {
        p.add(
            "csms.security_profile",
            format!("{n} needs a wss:// csms.url"),
        );
    }
    if profile == SecurityProfile::TlsClientCert && security.tls_cert_path.is_none() {
        p.add(
            "csms.security_profile",
            "3 needs system.security.tls_cert_path and tls_key_path (the client certificate)",
        );
    }
    // The built-in web roots only come with tungstenite's own TLS settings, which cannot carry
    // a client certificate.
    let client_cert = security.tls_cert_path.is_some() && security.tls_key_path.is_some();
    if tls && client_cert && security.ca_cert_path.is_none() {
        p.add(
            "system.security.ca_cert_path",
            "missing key (a client certificate needs the CA that signed the CSMS certificate)",
        );
    }
    let source = basic_auth_source(raw, p);
    if source.is_some() && !profile.uses_basic_auth() {
        let key = match raw.basic_auth_password {
            Some(_) => "csms.basic_auth_password",
            None => "csms.basic_auth_secret",
        };
        p.add(
            key,
            format!("not used with security_profile {n} (only 1 and 2)"),
        );
    }
    (profile, source)
}

/// `csms.basic_auth_password` or `csms.basic_auth_secret`, whichever is given.
fn basic_auth_source(raw: &RawCsms, p: &mut Problems) -> Option<BasicAuthSource> {
    match (&raw.basic_auth_password, &raw.basic_auth_secret) {
        (Some(_), Some(_)) => {
            p.add(
                "csms.basic_auth_secret",
                "give basic_auth_password or basic_auth_secret, not both",
            );
            None
        }
        (Some(text), None) => match Password::new(&text.0) {
            Ok(password) => Some(BasicAuthSource::Shared(password)),
            Err(e) => {
                p.add("csms.basic_auth_password", e.to_string());
                None
            }
        },
        (None, Some(RawSecret(secret))) => {
            if secret.len() < PasswordSecret::MIN_LEN {
                p.add(
                    "csms.basic_auth_secret",
                    format!("must be at least {} bytes long", PasswordSecret::MIN_LEN),
                );
                return None;
            }
            Some(BasicAuthSource::Derived(PasswordSecret(
                secret.as_bytes().to_vec(),
            )))
        }
        (None, None) => None,
    }
}

/// Checks `[devices.security] basic_auth_password` of device `i`.
pub(super) fn check_device_password(
    i: usize,
    raw: &RawDevice,
    p: &mut Problems,
) -> Option<Password> {
    let text = raw.security.basic_auth_password.as_ref()?;
    Password::new(&text.0)
        .map_err(|e| p.add(password_key(i), e.to_string()))
        .ok()
}

/// Every device needs a password when the profile sends them, and none may have one otherwise.
/// `csms_source` tells whether `[csms]` gives a password source.
pub(super) fn check_device_passwords(
    profile: SecurityProfile,
    csms_source: bool,
    devices: &[Option<RawDevice>],
    p: &mut Problems,
) {
    let n = profile.number();
    // A device that did not parse has its own problems recorded already.
    for (i, device) in devices.iter().enumerate() {
        let Some(device) = device else { continue };
        let own = device.security.basic_auth_password.is_some();
        if own && !profile.uses_basic_auth() {
            p.add(
                password_key(i),
                format!("not used with csms.security_profile {n} (only 1 and 2)"),
            );
        }
        if !own && !csms_source && profile.uses_basic_auth() {
            p.add(
                password_key(i),
                format!(
                    "missing key (csms.security_profile {n} needs a password: set this, or \
                     csms.basic_auth_password or csms.basic_auth_secret)"
                ),
            );
        }
    }
}

fn password_key(i: usize) -> String {
    format!("devices[{i}].security.basic_auth_password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_follow_the_password_string_rules() {
        assert!(Password::new("0123456789abcdef").is_ok());
        assert!(Password::new("AZaz09*-_=:+|@.xyz").is_ok());
        assert!(Password::new(&"a".repeat(40)).is_ok());
        assert_eq!(
            Password::new("short"),
            Err(PasswordError::Length { len: 5 })
        );
        assert_eq!(
            Password::new(&"a".repeat(41)),
            Err(PasswordError::Length { len: 41 })
        );
        for bad in ["0123456789abcde/", "0123456789 abcde", "0123456789abcdé!"] {
            assert_eq!(Password::new(bad), Err(PasswordError::Character), "{bad}");
        }
    }

    #[test]
    fn passwords_and_secrets_stay_out_of_debug_and_errors() {
        let password = Password::new("TopSecretPassw0rd").unwrap();
        assert!(!format!("{password:?}").contains("TopSecret"));
        let secret = PasswordSecret(b"TopSecretSecretSecret".to_vec());
        assert!(!format!("{secret:?}").contains("TopSecret"));
        let e = Password::new("TopSecret/Password").unwrap_err();
        assert!(!e.to_string().contains("TopSecret"));
    }

    #[test]
    fn derived_passwords_match_hmac_sha256_base64url() {
        // The well-known HMAC example: HMAC-SHA256("key", "The quick brown fox …") is
        // f7bc83f4…2d1a3cd8; its base64url, cut at 40 characters:
        let derived = derive_password(b"key", "The quick brown fox jumps over the lazy dog");
        assert_eq!(derived.expose(), "97yD9DBThCSxMpjmqm-xQ-9NWaFJRhdZl0edvC0a");
        assert!(Password::new(derived.expose()).is_ok());
        let secret = b"0123456789abcdef";
        let a = derive_password(secret, "CP001");
        assert_eq!(a, derive_password(secret, "CP001"));
        assert_ne!(a, derive_password(secret, "CP002"));
        assert_ne!(a, derive_password(b"0123456789abcdeF", "CP001"));
        assert_eq!(a.expose().len(), Password::MAX_LEN);
    }

    /// Checks a `[csms]` table (without `url`, which is given) and the devices' passwords;
    /// returns the profile and every problem as `key: message`.
    fn check(url: &str, csms: &str, security: SecurityConfig, devices: &[&str]) -> Vec<String> {
        let raw: RawCsms = match toml::from_str(&format!("url = {url:?}\n{csms}")) {
            Ok(raw) => raw,
            Err(e) => panic!("{e}"),
        };
        let devices: Vec<RawDevice> = devices
            .iter()
            .enumerate()
            .map(|(i, extra)| {
                let text = format!(
                    "id = \"d{i}\"\ntemplate = \"t\"\nprotocol = \"modbus_tcp\"\n\
                     ocpp_id = \"CP{i}\"\nconnection = {{ ip = \"10.0.0.1\" }}\n{extra}"
                );
                match toml::from_str(&text) {
                    Ok(device) => device,
                    Err(e) => panic!("{e}"),
                }
            })
            .collect();
        let mut p = Problems::new(std::path::Path::new("f.toml"));
        let source = raw.basic_auth_password.is_some() || raw.basic_auth_secret.is_some();
        let (profile, _) = check_csms_security(&raw, url, &security, &mut p);
        for (i, device) in devices.iter().enumerate() {
            check_device_password(i, device, &mut p);
        }
        let devices: Vec<Option<RawDevice>> = devices.into_iter().map(Some).collect();
        check_device_passwords(profile, source, &devices, &mut p);
        p.into_errors()
            .into_iter()
            .map(|e| format!("{}: {}", e.key, e.message))
            .collect()
    }

    fn client_cert(ca: bool) -> SecurityConfig {
        SecurityConfig {
            tls_cert_path: Some("gw.crt".into()),
            tls_key_path: Some("gw.key".into()),
            ca_cert_path: ca.then(|| "ca.crt".into()),
            client_cert_required: false,
        }
    }

    const WS: &str = "ws://csms.example/ocpp";
    const WSS: &str = "wss://csms.example/ocpp";
    const PASSWORD: &str = "basic_auth_password = \"0123456789abcdef\"";
    const SECRET: &str = "basic_auth_secret = \"0123456789abcdef\"";
    const DEVICE_PASSWORD: &str = "security = { basic_auth_password = \"fedcba9876543210\" }";

    #[test]
    fn consistent_profiles_pass() {
        let none = SecurityConfig::default();
        assert!(check(WS, "", none.clone(), &[""]).is_empty());
        assert!(check(WSS, "security_profile = 0", none.clone(), &[""]).is_empty());
        assert!(check(
            WS,
            &format!("security_profile = 1\n{PASSWORD}"),
            none.clone(),
            &[""]
        )
        .is_empty());
        assert!(check(
            WSS,
            &format!("security_profile = 1\n{SECRET}"),
            none.clone(),
            &[""]
        )
        .is_empty());
        assert!(check(WSS, "security_profile = 2", none, &[DEVICE_PASSWORD]).is_empty());
        assert!(check(WSS, "security_profile = 3", client_cert(true), &[""]).is_empty());
    }

    #[test]
    fn inconsistent_profiles_are_reported() {
        let none = SecurityConfig::default();
        assert_eq!(
            check(WS, "security_profile = 4", none.clone(), &[]),
            ["csms.security_profile: must be 0, 1, 2 or 3"]
        );
        assert_eq!(
            check(
                WS,
                &format!("security_profile = 2\n{PASSWORD}"),
                none.clone(),
                &[""]
            ),
            ["csms.security_profile: 2 needs a wss:// csms.url"]
        );
        assert_eq!(
            check(WSS, "security_profile = 3", none.clone(), &[""]),
            ["csms.security_profile: 3 needs system.security.tls_cert_path and tls_key_path (the client certificate)"]
        );
        assert_eq!(
            check(WSS, "security_profile = 3", client_cert(false), &[""]),
            ["system.security.ca_cert_path: missing key (a client certificate needs the CA that signed the CSMS certificate)"]
        );
        assert_eq!(
            check(WS, "security_profile = 1", none.clone(), &["", DEVICE_PASSWORD]),
            ["devices[0].security.basic_auth_password: missing key (csms.security_profile 1 needs a password: set this, or csms.basic_auth_password or csms.basic_auth_secret)"]
        );
        assert_eq!(
            check(WSS, &format!("security_profile = 3\n{SECRET}"), client_cert(true), &[DEVICE_PASSWORD]),
            [
                "csms.basic_auth_secret: not used with security_profile 3 (only 1 and 2)",
                "devices[0].security.basic_auth_password: not used with csms.security_profile 3 (only 1 and 2)",
            ]
        );
        assert_eq!(
            check(WS, PASSWORD, none.clone(), &[]),
            ["csms.basic_auth_password: not used with security_profile 0 (only 1 and 2)"]
        );
    }

    #[test]
    fn bad_passwords_and_secrets_are_reported_without_their_value() {
        let none = SecurityConfig::default();
        let errors = check(
            WS,
            &format!("security_profile = 1\n{PASSWORD}\n{SECRET}"),
            none.clone(),
            &[],
        );
        assert_eq!(
            errors,
            ["csms.basic_auth_secret: give basic_auth_password or basic_auth_secret, not both"]
        );
        let errors = check(
            WS,
            "security_profile = 1\nbasic_auth_secret = \"short\"",
            none.clone(),
            &["security = { basic_auth_password = \"has/a/slash/in/it\" }"],
        );
        assert_eq!(
            errors,
            [
                "csms.basic_auth_secret: must be at least 16 bytes long",
                "devices[0].security.basic_auth_password: may only contain a-z A-Z 0-9 * - _ = : + | @ .",
            ]
        );
        let errors = check(
            WS,
            "security_profile = 1\nbasic_auth_password = \"tooShort\"",
            none,
            &[""],
        );
        assert_eq!(
            errors,
            ["csms.basic_auth_password: must be 16 to 40 characters long (it has 8)"]
        );
    }

    #[test]
    fn profiles_round_trip_their_numbers() {
        for n in 0..=3 {
            assert_eq!(SecurityProfile::from_number(n).map(|p| p.number()), Some(n));
        }
        assert_eq!(SecurityProfile::from_number(4), None);
        assert!(SecurityProfile::BasicAuth.uses_basic_auth());
        assert!(SecurityProfile::TlsBasicAuth.uses_basic_auth());
        assert!(!SecurityProfile::Unsecured.uses_basic_auth());
        assert!(!SecurityProfile::TlsClientCert.uses_basic_auth());
    }
}
