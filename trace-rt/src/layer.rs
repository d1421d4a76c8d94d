//! [`layer`]: a `tracing-subscriber` layer that records `tracing` spans as regions and
//! `tracing` events as logs.
//!
//! | `tracing` | trace event, on the thread where it happens |
//! |---|---|
//! | a span is created | `SpanNew { id, parent, name, target, level, fields }`: its id, its parent span's id (0: a root), and its fields as `name=value` pairs (each value cut to 128 bytes, 1 KiB in all) |
//! | fields are recorded on it later (`Span::record`) | `SpanRecord { id, fields }` |
//! | a span is entered | `RegionBegin { id, name }`: `id` is the span's id, `name` its name |
//! | a span is exited | `RegionEnd { id }` |
//! | a span closes (its last handle is dropped) | `SpanClose { id }` |
//! | an event | `Log { level, target, message }`: the `message` field, then the other fields as `name=value` (Debug-formatted), cut to 1 KiB |
//!
//! A span is one region, from its creation to its close: entered and exited around each
//! poll of the future it instruments (busy), idle in between, and entered once more when
//! `tracing`'s `Instrumented` drops the future — a last enter of the same span, not a new
//! region. There is no task field: the task is the one whose poll the region or log is
//! inside on that thread. Region ids are `tracing`'s span ids, which are unique among spans
//! that exist at the same time (a closed span's id may be reused later, after its
//! `SpanClose`); a reader pairs a `RegionEnd` with the open `RegionBegin` of the same id on
//! the same thread. An exit whose enter came before the recording started is recorded as a
//! `RegionEnd` without a begin, and a span created before it has no `SpanNew`.
//!
//! Cost: while nothing records, every callback returns after one relaxed atomic load. While
//! recording, span and target names are interned once per callsite and thread, and a log
//! formats its fields into a reused thread-local buffer. The layer does not filter: every
//! event that reaches it while recording is recorded. Add a filter to choose what is
//! recorded and, with `tracing`'s callsite caching, to make the callsites you leave out cost
//! nothing at all:
//!
//! ```
//! use tracing_subscriber::prelude::*;
//! use tracing_subscriber::filter::LevelFilter;
//! let subscriber = tracing_subscriber::registry()
//!     .with(trace_rt::layer().with_filter(LevelFilter::INFO));
//! # let _ = subscriber;
//! ```
//!
//! With the `wakes` feature, tokio's own spans (`runtime.spawn`, …) reach this layer too
//! and become regions; filter them out by target (`tokio`, `runtime`) if unwanted.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;

use trace_format::{Event, Level, StringId};
use tracing::field::{Field, Visit};
use tracing::span::Id;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::local::record;
use crate::shared::is_recording;

/// Log messages are cut to this many bytes (at a character boundary).
const MAX_MESSAGE: usize = 1024;

/// The layer; build it with [`layer`].
///
/// ```
/// use tracing_subscriber::prelude::*;
/// let layer: trace_rt::TraceLayer = trace_rt::layer();
/// let _subscriber = tracing_subscriber::registry().with(layer);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct TraceLayer {
    _private: (),
}

/// A `tracing-subscriber` layer recording spans as regions and events as logs; see the
/// [module docs](mod@crate::layer).
///
/// ```
/// use tracing_subscriber::prelude::*;
/// tracing_subscriber::registry().with(trace_rt::layer()).init();
///
/// let session = trace_rt::Config::default().start_with_sink(trace_rt::MemorySink::new())?;
/// let span = tracing::info_span!("request", id = 7);
/// span.in_scope(|| tracing::info!(bytes = 512, "served"));
/// drop(span);
/// // SpanNew "request" (id=7), RegionBegin, Log "served bytes=512", RegionEnd, SpanClose
/// assert_eq!(session.stop()?.events, 5);
/// # Ok::<(), trace_rt::Error>(())
/// ```
pub fn layer() -> TraceLayer {
    TraceLayer::default()
}

impl<S> Layer<S> for TraceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !is_recording() {
            return;
        }
        let meta = attrs.metadata();
        let (name, target) = names(meta);
        let parent = ctx
            .span(id)
            .and_then(|s| s.parent().map(|p| p.id().into_u64()))
            .unwrap_or(0);
        with_buffer(|buf| {
            attrs.record(&mut SpanFields::new(buf));
            record(&Event::SpanNew {
                id: id.into_u64(),
                parent,
                name,
                target,
                level: level(meta.level()),
                fields: buf,
            });
        });
    }

    fn on_record(&self, id: &Id, values: &tracing::span::Record<'_>, _ctx: Context<'_, S>) {
        if !is_recording() {
            return;
        }
        with_buffer(|buf| {
            values.record(&mut SpanFields::new(buf));
            if !buf.is_empty() {
                record(&Event::SpanRecord {
                    id: id.into_u64(),
                    fields: buf,
                });
            }
        });
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        if !is_recording() {
            return;
        }
        record(&Event::SpanClose { id: id.into_u64() });
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !is_recording() {
            return;
        }
        let Some(meta) = ctx.metadata(id) else {
            return;
        };
        record(&Event::RegionBegin {
            id: id.into_u64(),
            name: names(meta).0,
        });
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        if !is_recording() {
            return;
        }
        record(&Event::RegionEnd { id: id.into_u64() });
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if !is_recording() {
            return;
        }
        let meta = event.metadata();
        let target = names(meta).1;
        let level = level(meta.level());
        with_buffer(|buf| {
            event.record(&mut MessageOnly(buf));
            event.record(&mut OtherFields(buf));
            truncate(buf, MAX_MESSAGE);
            record(&Event::Log {
                level,
                target,
                message: buf,
            });
        });
    }
}

/// Runs `write` with the thread's reused text buffer, emptied (or a new one when that is in
/// use: a field's Debug emitted an event of its own, or the thread is exiting).
fn with_buffer(write: impl Fn(&mut String)) {
    let reused = BUFFER
        .try_with(|b| match b.try_borrow_mut() {
            Ok(mut b) => {
                b.clear();
                write(&mut b);
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false);
    if !reused {
        write(&mut String::new());
    }
}

fn level(l: &tracing::Level) -> Level {
    match *l {
        tracing::Level::TRACE => Level::Trace,
        tracing::Level::DEBUG => Level::Debug,
        tracing::Level::INFO => Level::Info,
        tracing::Level::WARN => Level::Warn,
        tracing::Level::ERROR => Level::Error,
    }
}

thread_local! {
    /// The log message being formatted.
    static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
    /// Interned (name, target) per callsite metadata.
    static NAMES: RefCell<HashMap<usize, (StringId, StringId)>> = RefCell::new(HashMap::new());
}

/// The interned name and target of a callsite, cached per thread.
fn names(meta: &'static Metadata<'static>) -> (StringId, StringId) {
    let key = meta as *const Metadata<'static> as usize;
    let cached = NAMES
        .try_with(|n| n.try_borrow().ok().and_then(|n| n.get(&key).copied()))
        .ok()
        .flatten();
    if let Some(ids) = cached {
        return ids;
    }
    let ids = (
        crate::intern::intern(meta.name()),
        crate::intern::intern(meta.target()),
    );
    let _ = NAMES.try_with(|n| {
        if let Ok(mut n) = n.try_borrow_mut() {
            n.insert(key, ids);
        }
    });
    ids
}

/// Writes the `message` field.
struct MessageOnly<'a>(&'a mut String);

impl Visit for MessageOnly<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

/// Appends every other field as ` name=value`.
struct OtherFields<'a>(&'a mut String);

impl Visit for OtherFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            return;
        }
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = write!(self.0, "{}={value:?}", field.name());
    }
}

/// A span's fields as ` name=value` pairs: string values as they are, others
/// Debug-formatted; each value cut to [`MAX_FIELD_VALUE`] bytes, and no pair started once
/// the text holds [`MAX_FIELDS`] bytes.
struct SpanFields<'a>(&'a mut String);

/// A span field's value is cut to this many bytes.
const MAX_FIELD_VALUE: usize = 128;
/// A span's fields take at most about this many bytes.
const MAX_FIELDS: usize = 1024;

impl<'a> SpanFields<'a> {
    fn new(buf: &'a mut String) -> Self {
        SpanFields(buf)
    }

    fn push(&mut self, field: &Field, value: impl FnOnce(&mut String)) {
        if self.0.len() >= MAX_FIELDS {
            return;
        }
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(field.name());
        self.0.push('=');
        let start = self.0.len();
        value(self.0);
        if self.0.len() - start > MAX_FIELD_VALUE {
            let mut end = start + MAX_FIELD_VALUE;
            while !self.0.is_char_boundary(end) {
                end -= 1;
            }
            self.0.truncate(end);
        }
    }
}

impl Visit for SpanFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, |b| b.push_str(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push(field, |b| {
            let _ = write!(b, "{value:?}");
        });
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncation_keeps_whole_characters() {
        let mut s = "é".repeat(600); // 1200 bytes
        super::truncate(&mut s, 1023);
        assert_eq!(s.len(), 1022);
        assert!(s.chars().all(|c| c == 'é'));
        let mut short = String::from("abc");
        super::truncate(&mut short, 10);
        assert_eq!(short, "abc");
    }
}
