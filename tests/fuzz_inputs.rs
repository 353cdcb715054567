//! The fuzz target bodies on stable Rust: every committed seed and crash regression under
//! `fuzz/seeds/<target>/`, then a bounded random-input driver that mutates those seeds, so a
//! decoder panic found by fuzzing stays fixed and the suite keeps probing without nightly.
//! Coverage-guided runs: `scripts/fuzz.sh` (BENCHMARKS.md, "Fuzzing").

#[path = "../fuzz/src/lib.rs"]
mod bodies;

use std::path::Path;

use ocpp_gw::util::rng::Rng;

type Body = fn(&[u8]);

/// Replays the seeds of `target`, then `mutations` random variants of them; returns how many
/// inputs ran.
fn drive(target: &str, body: Body, mutations: usize) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "{}: no seeds", dir.display());
    for seed in &seeds {
        body(seed);
    }
    let mut rng = Rng::seeded(0x0c99_f022);
    for _ in 0..mutations {
        let base = &seeds[rng.below(seeds.len() as u64) as usize];
        let input = mutate(base, &seeds, &mut rng);
        let shown = String::from_utf8_lossy(&input).into_owned();
        let caught = std::panic::catch_unwind(|| body(&input));
        assert!(caught.is_ok(), "{target} panicked on input {shown:?}");
    }
    seeds.len() + mutations
}

/// Byte flips, interesting values, deletions, duplications and splices with another seed:
/// the mutations that find length and bounds errors in binary and text decoders.
fn mutate(base: &[u8], seeds: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, b'"', b'\\', b'[', b'{', b'\n'];
    let mut out = base.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len() as u64;
        let at = if len == 0 { 0 } else { rng.below(len) as usize };
        match rng.below(6) {
            0 if !out.is_empty() => out[at] ^= 1 << rng.below(8),
            1 if !out.is_empty() => {
                out[at] = INTERESTING[rng.below(INTERESTING.len() as u64) as usize]
            }
            2 if !out.is_empty() => {
                let end = (at + 1 + rng.below(16) as usize).min(out.len());
                out.drain(at..end);
            }
            3 if !out.is_empty() => {
                let end = (at + 1 + rng.below(64) as usize).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len() as u64) as usize];
                let from = rng.below(other.len() as u64 + 1) as usize;
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            _ => out.push(rng.below(256) as u8),
        }
    }
    out
}

#[test]
fn ocpp_frames_parse_and_round_trip() {
    assert!(drive("ocpp_frame", bodies::ocpp_frame, 20_000) > 20_000);
}

#[test]
fn a_station_answers_any_csms_input_with_valid_frames() {
    assert!(drive("ocpp_station", bodies::ocpp_station, 3_000) > 3_000);
}

#[test]
fn echonet_frames_decode_and_round_trip() {
    assert!(drive("echonet_frame", bodies::echonet_frame, 20_000) > 20_000);
}

#[test]
fn modbus_responses_decode_and_round_trip() {
    assert!(drive("modbus_response", bodies::modbus_response, 20_000) > 20_000);
}

#[test]
fn the_config_loader_reports_any_file() {
    assert!(drive("config_load", bodies::config_load, 500) > 500);
}
