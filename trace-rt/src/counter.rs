//! User counters: named values over time (queue depths, cache sizes, in-flight requests),
//! recorded as `Counter { name, value }` events on the calling thread.

use trace_format::{Event, StringId};

use crate::local::record;
use crate::shared::is_recording;

/// Records that the counter `name` now holds `value`.
///
/// While nothing records this costs one relaxed atomic load; while recording, one interning
/// of `name` (a lock and a hash lookup) and one event. For counters updated on hot paths,
/// intern the name once with [`Counter::new`].
///
/// ```
/// let session = trace_rt::Config::default().start_with_sink(trace_rt::MemorySink::new())?;
/// trace_rt::counter("queue_depth", 17);
/// assert_eq!(session.stop()?.events, 1);
/// # Ok::<(), trace_rt::Error>(())
/// ```
pub fn counter(name: &str, value: i64) {
    if !is_recording() {
        return;
    }
    record(&Event::Counter {
        name: crate::intern::intern(name),
        value,
    });
}

/// A counter whose name is interned once.
///
/// ```
/// let in_flight = trace_rt::Counter::new("in_flight");
/// let session = trace_rt::Config::default().start_with_sink(trace_rt::MemorySink::new())?;
/// in_flight.set(3);
/// in_flight.set(2);
/// assert_eq!(session.stop()?.events, 2);
/// # Ok::<(), trace_rt::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Counter {
    name: StringId,
}

impl Counter {
    /// Interns `name` (takes the interner's lock once).
    ///
    /// ```
    /// let c = trace_rt::Counter::new("cache_bytes");
    /// assert_eq!(c.name(), trace_rt::intern("cache_bytes"));
    /// ```
    pub fn new(name: &str) -> Self {
        Counter {
            name: crate::intern::intern(name),
        }
    }

    /// The interned name.
    ///
    /// ```
    /// let c = trace_rt::Counter::new("hits");
    /// assert_eq!(c.name(), trace_rt::intern("hits"));
    /// ```
    pub fn name(self) -> StringId {
        self.name
    }

    /// Records that the counter now holds `value` (one relaxed load while nothing records,
    /// one event while recording).
    ///
    /// ```
    /// trace_rt::Counter::new("hits").set(42); // not recording: nothing happens
    /// ```
    #[inline]
    pub fn set(self, value: i64) {
        record(&Event::Counter {
            name: self.name,
            value,
        });
    }
}
