#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocpp_gw_fuzz::config_load(data));
