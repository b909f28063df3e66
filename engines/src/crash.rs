//! Named crash points, for the tests that prove a delivery guarantee: with
//! `STREAMBENCH_CRASH_AT=<point>[:<n>]` the process aborts (no destructors,
//! no flushes, as under SIGKILL) the n-th time (default first) it reaches
//! that point.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms a crash point.
pub const CRASH_AT_VAR: &str = "STREAMBENCH_CRASH_AT";

struct Armed {
    point: String,
    nth: u64,
    reached: AtomicU64,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let text = std::env::var(CRASH_AT_VAR).ok()?;
            let (point, nth) = match text.rsplit_once(':') {
                Some((point, n)) => (point.to_string(), n.parse().unwrap_or(1)),
                None => (text, 1),
            };
            Some(Armed {
                point,
                nth: nth.max(1),
                reached: AtomicU64::new(0),
            })
        })
        .as_ref()
}

/// Marks a place where a crash must not break the delivery guarantee; aborts
/// the process here if the environment armed this point.
pub fn point(name: &str) {
    if let Some(armed) = armed()
        && armed.point == name
        && armed.reached.fetch_add(1, Ordering::SeqCst) + 1 == armed.nth
    {
        eprintln!("streambench: crashing at {name} as {CRASH_AT_VAR} asks");
        std::process::abort();
    }
}
