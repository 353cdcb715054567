//! Log set-up: `log` + `env_logger` to stderr, where journald picks it up.

use log::LevelFilter;

/// Logs at `level` unless `RUST_LOG` says otherwise; safe to call more than once.
pub fn init(level: LevelFilter) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    // tungstenite traces the whole upgrade request, Authorization header included.
    builder.filter_module(
        "tungstenite::handshake::client",
        level.min(LevelFilter::Debug),
    );
    builder.format_timestamp_millis();
    // A second call (tests, demo) keeps the first logger.
    let _ = builder.try_init();
}
