#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocpp_gw_fuzz::ocpp_frame(data));
