#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ocpp_gw_fuzz::modbus_response(data));
