//! Remembered verdicts of the property-filter probe (see `catalog::probe_selectivity`).
//!
//! Telling a frequent value from a rare one costs a probe that reads up to the selectivity
//! threshold of entries (on PostgreSQL each entry is also a heap visit), and it is the
//! frequent values — the ones clients filter on again and
//! again (`os_distro=ubuntu`) — that pay it in full. A value found frequent stays so for a
//! while, so the verdict is kept for a minute. Only the plan depends on it, never the result:
//! a stale verdict can make a query slower for at most a minute, never wrong. Rare values
//! are not kept (their probe stops after a few entries), so the map holds only values
//! matching thousands of images and stays small; it is bounded anyway.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a "frequent" verdict is trusted.
const TTL: Duration = Duration::from_secs(60);
/// At most this many remembered values (the map is cleared when full).
const CAPACITY: usize = 1024;

/// Property values recently found to match more images than the selectivity threshold.
#[derive(Debug, Default)]
pub struct FrequentValues {
    /// name -> value -> when it was found frequent.
    seen: Mutex<HashMap<String, HashMap<String, Instant>>>,
}

impl FrequentValues {
    /// Whether `name=value` was found frequent less than [`TTL`] ago.
    pub fn is_frequent(&self, name: &str, value: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(name)
            .and_then(|values| values.get(value))
            .is_some_and(|at| at.elapsed() < TTL)
    }

    /// What a probe that found `matches` (reading at most `selective` + 1) of `name=value`
    /// means for the plan: `None`, no image matches (the page is empty); else whether the
    /// filter is selective enough to drive the query. A frequent value is remembered.
    pub fn verdict(&self, name: &str, value: &str, matches: u64, selective: u64) -> Option<bool> {
        if matches == 0 {
            return None;
        }
        if matches > selective {
            self.remember(name, value);
        }
        Some(matches <= selective)
    }

    /// Notes that `name=value` matches more images than the threshold.
    pub fn remember(&self, name: &str, value: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let total: usize = seen.values().map(HashMap::len).sum();
        if total >= CAPACITY {
            seen.clear();
        }
        seen.entry(name.to_owned())
            .or_default()
            .insert(value.to_owned(), Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_frequent_values_only_by_name_and_value() {
        let hints = FrequentValues::default();
        assert!(!hints.is_frequent("os_distro", "ubuntu"));
        hints.remember("os_distro", "ubuntu");
        assert!(hints.is_frequent("os_distro", "ubuntu"));
        assert!(!hints.is_frequent("os_distro", "debian"));
        assert!(!hints.is_frequent("os_version", "ubuntu"));
    }

    #[test]
    fn stays_bounded() {
        let hints = FrequentValues::default();
        for i in 0..(CAPACITY * 3) {
            hints.remember("k", &i.to_string());
        }
        let seen = hints
            .seen
            .lock()
            .map(|s| s.values().map(HashMap::len).sum::<usize>());
        assert!(seen.is_ok_and(|n| n <= CAPACITY));
        assert!(hints.is_frequent("k", &(CAPACITY * 3 - 1).to_string()));
    }
}
