//! Weighing the samples table: every CPU, stalled-poll and allocation sample of the trace, with the
//! thread, task and stack it names and the weight it stands for ([`Sample::weight`]), so
//! profiles of any selection sum weights without looking at the trace again.
//!
//! Weights:
//! - **cpu**: the thread CPU time between two samples, `1 s / cpu_hz` (the rate the
//!   recording wrote in its sampling record; 99 Hz, the recorder's default, when absent);
//! - **stall**: the wall time of the stalled poll that holds the sample, split evenly among
//!   that poll's stall samples, so the stall samples of a poll sum to its duration. A sample
//!   no poll of its thread holds (its poll's start was lost) stands for the watchdog's
//!   period, the stall threshold (the recorder samples a stalled poll once per threshold);
//! - **alloc**: the bytes the sampled allocation stands for, unbiased like Go's
//!   `alloc_space` ([`trace_format::sampling::sample_weight`] at the rate in force).
//!
//! The rows are [`Sample`]s (in `tables`); `assemble` fills the table from each thread's
//! decoded samples and weighs them with [`weigh_stalls`] and the rules above.

use super::tables::{Poll, Sample};

/// Weighs the stall samples of one thread, sorted by time: each gets its share of the poll
/// of `polls` (the thread's, sorted by start) that holds it; samples no poll holds get
/// `fallback` ns.
pub(super) fn weigh_stalls(samples: &mut [Sample], polls: &[Poll], first_poll: u32, fallback: u64) {
    // The innermost poll holding each sample (the latest started among those holding it).
    let mut holder: Vec<Option<usize>> = Vec::with_capacity(samples.len());
    for s in samples.iter() {
        let hi = polls.partition_point(|p| p.start <= s.time);
        // Polls nest only a few deep (`block_in_place` + `block_on`): look a few back.
        let found = (hi.saturating_sub(8)..hi)
            .rev()
            .find(|&i| s.time < polls[i].end.max(polls[i].start + 1));
        holder.push(found);
    }
    let mut i = 0;
    while i < samples.len() {
        let Some(p) = holder[i] else {
            samples[i].weight = fallback;
            i += 1;
            continue;
        };
        // Samples of one poll are adjacent in time order.
        let mut j = i;
        while j < samples.len() && holder[j] == Some(p) {
            j += 1;
        }
        let n = (j - i) as u64;
        let len = polls[p].end.saturating_sub(polls[p].start);
        for (k, s) in samples[i..j].iter_mut().enumerate() {
            // The remainder goes to the first samples, so the poll's samples sum to its length.
            s.weight = len / n + u64::from((k as u64) < len % n);
            s.poll = first_poll + p as u32;
        }
        i = j;
    }
}
