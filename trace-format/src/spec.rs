//! The event spec: one table names every event kind — its tag, its name, its arguments and
//! their types — and everything else about kinds is generated from it: the [`Event`] enum, the
//! tag constants ([`crate::codec::tag`]), [`EventKind`] (names, dense indices, the count), the
//! codec's per-kind encoding and decoding, and the text form's per-kind printing and parsing.
//!
//! **Adding an event kind** is one entry in the table at the end of this file (its doc
//! comment, tag, constant name, text name, variant and arguments), plus its row in FORMAT.md's
//! event table, which `tests/spec_table.rs` compares with this one. Add entries at the end:
//! their order is the order of the enum's variants and of [`EventKind::index`]. Then the
//! compiler points at every exhaustive `match` on [`Event`] that must decide what the new kind
//! means.
//!
//! An entry reads
//!
//! ```text
//! /// doc
//! 0x15 SCHEDULE_LATENCY "schedule_latency" ScheduleLatency { task: TaskId, nanos: u64 };
//! ```
//!
//! Arguments are encoded after the tag and the time delta in the order listed, each as its
//! type says ([`ArgSpec::encoding`]). A kind without arguments is written without braces (a
//! unit variant). One argument may instead be folded into the tag, after `; in_tag`: the kind
//! then owns one consecutive tag per value (`PollEnd` owns `0x12` and `0x13`, `Wake` one tag
//! per [`WakeSource`]). The extension kind [`Event::Unknown`] (tags `0x80`–`0xFF`) is not in
//! the table: its tag is a field.
//!
//! ```
//! use trace_format::{Event, EventKind, TaskId};
//! let e = Event::PollStart { task: TaskId(3) };
//! assert_eq!(e.kind(), EventKind::PollStart);
//! assert_eq!(e.kind_name(), "poll_start");
//! assert_eq!(EventKind::PollStart.tags(), 0x11..=0x11);
//! assert_eq!(EventKind::Wake.tags(), 0x18..=0x1E);
//! assert_eq!(EventKind::from_name("wake"), Some(EventKind::Wake));
//! assert_eq!(EventKind::ALL[e.kind().index()], EventKind::PollStart);
//! ```

use crate::codec::args::{Arg, Cursor, EncodeState, TagArg};
use crate::event::{
    Level, LocationId, PauseScope, StackId, StringId, TaskId, TaskKind, ThreadKind, WakeSource,
};
use crate::varint::{self, MAX_VARINT_LEN};

/// One argument of an event kind, as the spec table declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    /// The field name in [`Event`] and in the text form.
    pub name: &'static str,
    /// How it is stored, as FORMAT.md's event table names it: `varint`, `varint(u32)`,
    /// `zigzag`, `u8`, `T` (a task id), `StringId`, `LocationId` or `bytes`; `tag` for an
    /// argument folded into the tag.
    pub encoding: &'static str,
}

/// Panics (at compile time: it runs in a `const`) unless every kind's tags lie in `1..0x80`
/// and no two kinds share a tag.
const fn check_tags(ranges: &[(u8, u8)]) {
    let mut i = 0;
    while i < ranges.len() {
        let (first, last) = ranges[i];
        assert!(
            first >= 1 && first <= last && last < 0x80,
            "tag outside 0x01..0x80"
        );
        let mut j = 0;
        while j < i {
            let (f, l) = ranges[j];
            assert!(last < f || first > l, "two event kinds share a tag");
            j += 1;
        }
        i += 1;
    }
}

macro_rules! event_spec {
    (
        $(#[$meta:meta])*
        pub enum Event<$lt:lifetime> {
            $(
                $(#[$doc:meta])*
                $tag:literal $TAG:ident $name:literal
                $V:ident $({
                    $($f:ident : $t:ty),*
                    $(; in_tag $tf:ident : $tt:ty)?
                })?;
            )*
        }
    ) => {
        $(#[$meta])*
        pub enum Event<$lt> {
            $(
                $(#[$doc])*
                $V $({ $($f: $t,)* $($tf: $tt,)? })?,
            )*
            /// An event kind from a newer writer that this reader does not know; `tag` and
            /// `payload` are kept so it can be skipped or passed through.
            Unknown { tag: u8, payload: &$lt [u8] },
        }

        /// The kind of an [`Event`], without its arguments: a dense index for counting, the
        /// stable name reports and the text form use, and its tags.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $( $(#[$doc])* $V, )*
            /// An extension event (tags `0x80`–`0xFF`) this reader does not know.
            Unknown,
        }

        /// The first tag of each kind in the spec table (a kind with an argument folded
        /// into the tag owns the following ones too).
        pub(crate) mod tags {
            $(
                #[doc = concat!("First tag of [`crate::Event::", stringify!($V), "`].")]
                pub const $TAG: u8 = $tag;
            )*
            /// First tag of the skippable extension range.
            pub const EXTENSION_FIRST: u8 = 0x80;
        }

        /// The last tag of each kind, as associated constants (usable in patterns).
        struct LastTag;

        impl LastTag {
            $( const $TAG: u8 = $tag $($( + <$tt as TagArg>::COUNT - 1 )?)?; )*
        }

        const _: () = check_tags(&[$( (tags::$TAG, LastTag::$TAG) ),*]);

        impl EventKind {
            /// Every kind, in table order ([`EventKind::index`] order).
            pub const ALL: [EventKind; EventKind::COUNT] = [$(EventKind::$V,)* EventKind::Unknown];

            /// The number of kinds, [`EventKind::Unknown`] included.
            pub const COUNT: usize = [$(stringify!($V),)* "Unknown"].len();

            /// A dense index, `0..EventKind::COUNT`: arrays indexed by kind need no hashing.
            #[inline]
            pub const fn index(self) -> usize {
                self as usize
            }

            /// The short stable name reports and the text form use (`"poll_start"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $( EventKind::$V => $name, )*
                    EventKind::Unknown => "unknown",
                }
            }

            /// The kind named `name` ([`EventKind::name`]).
            pub fn from_name(name: &str) -> Option<EventKind> {
                EventKind::ALL.into_iter().find(|k| k.name() == name)
            }

            /// The tags that encode this kind.
            pub const fn tags(self) -> std::ops::RangeInclusive<u8> {
                match self {
                    $( EventKind::$V => tags::$TAG..=LastTag::$TAG, )*
                    EventKind::Unknown => tags::EXTENSION_FIRST..=u8::MAX,
                }
            }

            /// The kind's arguments in encoding order, an argument folded into the tag last.
            pub fn args(self) -> &'static [ArgSpec] {
                // The lifetime names the types of borrowed arguments (`&'a str`).
                #[allow(clippy::extra_unused_lifetimes)]
                fn of<$lt>(kind: EventKind) -> &'static [ArgSpec] {
                    match kind {
                        $( EventKind::$V => const { &[
                            $($(
                                ArgSpec { name: stringify!($f), encoding: <$t as Arg<$lt>>::ENCODING },
                            )*
                            $(
                                ArgSpec { name: stringify!($tf), encoding: "tag" },
                            )?)?
                        ] as &[ArgSpec] }, )*
                        EventKind::Unknown => &[ArgSpec { name: "payload", encoding: "bytes" }],
                    }
                }
                of(self)
            }

            /// The most bytes an event of this kind encodes to, payload bytes not counted.
            pub fn max_len(self) -> usize {
                // The lifetime names the types of borrowed arguments (`&'a str`).
                #[allow(clippy::extra_unused_lifetimes)]
                fn of<$lt>(kind: EventKind) -> usize {
                    match kind {
                        $( EventKind::$V => 1 + MAX_VARINT_LEN $($( + <$t as Arg<$lt>>::MAX_LEN )*)?, )*
                        EventKind::Unknown => 1 + 2 * MAX_VARINT_LEN,
                    }
                }
                of(self)
            }
        }

        impl<$lt> Event<$lt> {
            /// The kind of event.
            #[inline]
            pub fn kind(&self) -> EventKind {
                match self {
                    $( Event::$V { .. } => EventKind::$V, )*
                    Event::Unknown { .. } => EventKind::Unknown,
                }
            }

            /// The tag this event is encoded with.
            #[inline(always)]
            pub fn tag(&self) -> u8 {
                match *self {
                    $( Event::$V { $($($tf,)?)? .. } => tags::$TAG $($( + <$tt as TagArg>::offset($tf) )?)?, )*
                    Event::Unknown { tag, .. } => tag,
                }
            }

            /// Writes the tag, the time `delta` and the arguments at the start of `out`, and
            /// returns the bytes written. Each kind's arm writes all three, so encoding an
            /// event is one jump on its kind (as the hand-written encoder compiled to).
            #[inline(always)]
            pub(crate) fn encode_with_delta(
                &self,
                out: &mut [u8],
                delta: u64,
                state: &mut EncodeState,
            ) -> usize {
                match *self {
                    $( Event::$V { $($($f,)* $($tf,)?)? } => {
                        out[0] = tags::$TAG $($( + <$tt as TagArg>::offset($tf) )?)?;
                        #[allow(unused_mut)]
                        let mut pos = varint::put(out, 1, delta);
                        $($( pos = <$t as Arg<$lt>>::put($f, out, pos, state); )*)?
                        pos
                    } )*
                    Event::Unknown { tag, payload } => {
                        out[0] = tag;
                        let pos = varint::put(out, 1, delta);
                        payload.put(out, pos, state)
                    }
                }
            }

            /// Payload bytes beyond the fixed bound (see `codec::max_encoded_len`).
            #[inline(always)]
            pub(crate) fn payload_len(&self) -> usize {
                match *self {
                    $( Event::$V { $($($f,)*)? .. } => 0 $($( + <$t as Arg<$lt>>::payload_len($f) )*)?, )*
                    Event::Unknown { payload, .. } => payload.len(),
                }
            }

            /// Reads the arguments of an event with tag `t`.
            #[inline]
            pub(crate) fn decode_args(t: u8, d: &mut Cursor<$lt>) -> Result<Event<$lt>, &'static str> {
                Ok(match t {
                    $( tags::$TAG..=LastTag::$TAG => Event::$V {
                        $(
                            $( $f: <$t as Arg<$lt>>::get(d)?, )*
                            $( $tf: <$tt as TagArg>::from_offset(t - tags::$TAG), )?
                        )?
                    }, )*
                    tags::EXTENSION_FIRST..=u8::MAX => Event::Unknown {
                        tag: t,
                        payload: <&[u8] as Arg<$lt>>::get(d)?,
                    },
                    _ => return Err("unknown event tag"),
                })
            }

            /// Appends ` name=value` for each argument, in declaration order.
            pub(crate) fn write_text_args(&self, out: &mut String) {
                match *self {
                    $( Event::$V { $($($f,)* $($tf,)?)? } => {
                        $($(
                            crate::text::args::write_arg(out, stringify!($f), $f);
                        )* $(
                            crate::text::args::write_arg(out, stringify!($tf), $tf);
                        )?)?
                    } )*
                    Event::Unknown { tag, payload } => {
                        crate::text::args::write_arg(out, "tag", tag);
                        crate::text::args::write_arg(out, "payload", payload);
                    }
                }
            }

            /// Builds an event of `kind` from its text arguments (an absent one is zero).
            pub(crate) fn parse_text_args(
                kind: EventKind,
                args: &mut crate::text::args::Args<'_, $lt>,
            ) -> Result<Event<$lt>, String> {
                Ok(match kind {
                    $( EventKind::$V => Event::$V {
                        $( $( $f: args.take(stringify!($f))?, )* $( $tf: args.take(stringify!($tf))?, )? )?
                    }, )*
                    EventKind::Unknown => Event::Unknown {
                        tag: args.take("tag")?,
                        payload: args.take("payload")?,
                    },
                })
            }
        }
    };
}

event_spec! {
    /// One thing that happened on one thread. Borrowed payloads (log messages, extension data)
    /// point into the trace bytes when decoded.
    ///
    /// Generated from the spec table in `spec.rs`, which also gives each kind's tag and text
    /// name; FORMAT.md gives each argument's encoding.
    // Fields are described by their variant's doc.
    #[allow(missing_docs)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Event<'a> {
        /// The thread started (or was first seen) in the given role. `index` is the worker
        /// index for workers, otherwise a per-kind counter.
        0x01 THREAD_START "thread_start" ThreadStart { kind: ThreadKind, index: u32 };
        /// The thread is about to exit.
        0x02 THREAD_STOP "thread_stop" ThreadStop;
        /// A worker has no work and parks (goes idle).
        0x03 WORKER_PARK "worker_park" WorkerPark;
        /// A parked worker wakes up.
        0x04 WORKER_UNPARK "worker_unpark" WorkerUnpark;

        /// A task was spawned by the current thread (and, if one is being polled, by
        /// `parent`). `tokio_id` is tokio's own id: tokio may reuse it, the trace-local
        /// `task` never is.
        0x10 TASK_SPAWN "task_spawn" TaskSpawn {
            task: TaskId, kind: TaskKind, tokio_id: u64, parent: TaskId,
            location: LocationId, name: StringId
        };
        /// This thread starts polling `task`.
        0x11 POLL_START "poll_start" PollStart { task: TaskId };
        /// The innermost poll open on this thread ends; `ready` when the future completed.
        0x12 POLL_END "poll_end" PollEnd { ; in_tag ready: bool };
        /// `task` was made runnable. `waker` is the task being polled by the waking thread,
        /// if any.
        0x18 WAKE "wake" Wake { task: TaskId, waker: TaskId; in_tag source: WakeSource };
        /// The task finished (or was dropped) and will not be polled again.
        0x14 TASK_TERMINATE "task_terminate" TaskTerminate { task: TaskId };
        /// tokio's measured delay between the task being scheduled and this poll starting.
        0x15 SCHEDULE_LATENCY "schedule_latency" ScheduleLatency { task: TaskId, nanos: u64 };
        /// A blocking-pool thread starts running the `spawn_blocking` closure of `task`.
        0x16 BLOCKING_START "blocking_start" BlockingStart { task: TaskId };
        /// The blocking closure started last on this thread returned.
        0x17 BLOCKING_END "blocking_end" BlockingEnd;

        /// Allocator activity on this thread since its previous `AllocCounters` event.
        0x20 ALLOC_COUNTERS "alloc_counters" AllocCounters {
            allocs: u64, frees: u64, alloc_bytes: u64, free_bytes: u64
        };
        /// A sampled allocation of `size` bytes made while `task` (or no task) was polled.
        0x21 ALLOC_SAMPLE "alloc_sample" AllocSample { size: u64, task: TaskId };

        /// A pause of the given kind begins.
        0x28 PAUSE_BEGIN "pause_begin" PauseBegin { kind: StringId, scope: PauseScope };
        /// The pause of the given kind and scope that began last ends.
        0x29 PAUSE_END "pause_end" PauseEnd { kind: StringId, scope: PauseScope };

        /// A user region (e.g. a `tracing` span) is entered on this thread.
        0x30 REGION_BEGIN "region_begin" RegionBegin { id: u64, name: StringId };
        /// The region `id` is exited on this thread.
        0x31 REGION_END "region_end" RegionEnd { id: u64 };
        /// A user log line (e.g. a `tracing` event).
        0x32 LOG "log" Log { level: Level, target: StringId, message: &'a str };
        /// A user or runtime counter took `value`.
        0x33 COUNTER "counter" Counter { name: StringId, value: i64 };
        /// A `tracing` span was created (while recording): its id (unique among open
        /// spans), its parent span (0: a root), name, target, level and fields (`name=value`
        /// pairs, bounded). Its enters and exits are `RegionBegin`/`RegionEnd` with its id.
        0x34 SPAN_NEW "span_new" SpanNew {
            id: u64, parent: u64, name: StringId, target: StringId, level: Level, fields: &'a str
        };
        /// Fields recorded on the open span `id` after its creation (`Span::record`).
        0x35 SPAN_RECORD "span_record" SpanRecord { id: u64, fields: &'a str };
        /// The span `id` closed (its last handle dropped); its id may be used again.
        0x36 SPAN_CLOSE "span_close" SpanClose { id: u64 };

        /// Runtime-wide sample.
        0x38 RUNTIME_SAMPLE "runtime_sample" RuntimeSample {
            global_queue: u64, alive_tasks: u64, blocking_threads: u64
        };
        /// One worker's local run-queue depth.
        0x39 WORKER_QUEUE_SAMPLE "worker_queue_sample" WorkerQueueSample { worker: u32, depth: u64 };

        /// This thread dropped `chunks` whole chunks holding `events` events just before this
        /// point because the writer fell behind. Never silent.
        0x3F LOST "lost" Lost { chunks: u64, events: u64 };

        /// A CPU sample of this thread: every ~1/hz of its CPU time, the code it was running
        /// (`stack`) and the task it was polling (`task`, or none). The time is when the
        /// sample was taken.
        0x40 CPU_SAMPLE "cpu_sample" CpuSample { task: TaskId, stack: StackId };
        /// A wall-clock sample of a poll that has run longer than the stall threshold: where
        /// the worker is (blocked in `sleep`, a lock or a read uses no CPU, so CPU samples
        /// miss it). Taken repeatedly while the poll lasts.
        0x41 STALL_SAMPLE "stall_sample" StallSample { task: TaskId, stack: StackId };
        /// A sampled allocation with the stack that made it: as `alloc_sample`, plus `stack`.
        0x22 ALLOC_SAMPLE_AT "alloc_sample_at" AllocSampleAt {
            size: u64, task: TaskId, stack: StackId
        };
    }
}

impl Event<'_> {
    /// A short stable name for the kind of event ("poll_start", "wake", …), used in reports
    /// and the text form; [`EventKind::name`].
    #[inline]
    pub fn kind_name(&self) -> &'static str {
        self.kind().name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{ChunkDecoder, MAX_FIXED_EVENT_LEN};

    #[test]
    fn every_kind_fits_the_fixed_bound() {
        for kind in EventKind::ALL {
            assert!(kind.max_len() <= MAX_FIXED_EVENT_LEN, "{kind:?}");
        }
    }

    #[test]
    fn names_and_indices_are_unique_and_dense() {
        for (i, kind) in EventKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
        }
    }

    #[test]
    fn every_tag_below_the_extension_range_decodes_to_its_kind() {
        for kind in EventKind::ALL {
            for t in kind.tags() {
                let mut bytes = vec![t, 0];
                bytes.extend([0u8; 64]);
                let (_, ev) = ChunkDecoder::new(&bytes, 0).next().unwrap().unwrap();
                assert_eq!(ev.kind(), kind, "tag {t:#x}");
                assert_eq!(ev.tag(), t);
            }
        }
    }
}
