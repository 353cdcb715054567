//! The `[echonet]` section of the sample config and what the worker makes of it.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use ocpp_gw::config;
use ocpp_gw::echonet::Settings;

#[test]
fn sample_config_spells_out_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/ocpp-gw.toml");
    let c = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let e = &c.echonet;
    assert_eq!(e.interface, Ipv4Addr::UNSPECIFIED);
    assert_eq!(e.response_timeout, Duration::from_secs(2));
    let settings = Settings::from_config(e);
    assert_eq!(
        settings,
        Settings::default(),
        "sample, config and worker defaults agree"
    );
}
