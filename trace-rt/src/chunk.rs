//! Event chunks: fixed-size byte buffers that one thread fills and the writer drains, and the
//! bounded pool they circulate through. All of a session's chunks are allocated, and their
//! pages committed, when it starts, so the recorder's memory is fixed by its configuration
//! and no hook takes a page fault on a chunk's first use.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_queue::ArrayQueue;
use trace_format::EventChunkHeader;

/// A buffer of encoded events.
///
/// Ownership moves between the pool, one thread's slot, the full queue and the writer; only
/// the owner writes. Two exceptions read a chunk its thread is still filling: the session
/// stop, which takes it out of a live slot (the owner may still finish one in-flight event),
/// and the writer's peek at a quiet thread's chunk (the owner may go on recording, or hand
/// the chunk over, during the copy). In both the owner writes only beyond `committed` and
/// the reader reads only up to it; and a chunk the writer may be reading is never turned
/// back into a `Box` (a unique reference) by its thread: it goes to the full queue as a
/// pointer, and only the writer recycles it.
pub(crate) struct Chunk {
    data: *mut u8,
    cap: usize,
    /// Bytes of whole events, published by the owner after each event.
    pub(crate) committed: AtomicUsize,
    /// Time the event deltas start from; set before the first event is committed.
    pub(crate) base_time: AtomicU64,
}

// SAFETY: `data` is a heap allocation owned by the chunk; cross-thread access follows the
// ownership protocol above (one writer, readers only of the committed prefix).
unsafe impl Send for Chunk {}
// SAFETY: as above; shared access only reads the committed prefix and the atomics.
unsafe impl Sync for Chunk {}

impl Chunk {
    fn new(cap: usize) -> Box<Chunk> {
        let data = Box::into_raw(vec![0u8; cap].into_boxed_slice()) as *mut u8;
        commit_pages(data, cap);
        Box::new(Chunk {
            data,
            cap,
            committed: AtomicUsize::new(0),
            base_time: AtomicU64::new(0),
        })
    }

    /// Capacity in bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// The start of the chunk's bytes, for the recorder's direct writes (see [`Chunk::tail`]
    /// for when writing through it is sound).
    pub(crate) fn data(&self) -> *mut u8 {
        self.data
    }

    /// The bytes `[pos, pos + len)`, as a raw pointer: writing through it is sound only for
    /// the chunk's owner (or its owner when the stop took it, beyond the committed length),
    /// with `pos + len <= capacity` and no other reference to these bytes.
    #[inline(always)]
    pub(crate) fn tail(&self, pos: usize, len: usize) -> *mut [u8] {
        debug_assert!(pos + len <= self.cap);
        std::ptr::slice_from_raw_parts_mut(self.data.wrapping_add(pos), len)
    }

    /// The first `len` bytes.
    ///
    /// # Safety
    /// `len` is at most the committed length observed with `Acquire` (or the caller owns the
    /// chunk), so no one writes these bytes while the returned slice lives.
    pub(crate) unsafe fn prefix(&self, len: usize) -> &[u8] {
        let len = len.min(self.cap);
        // SAFETY: in bounds; per the contract these bytes are no longer written.
        unsafe { std::slice::from_raw_parts(self.data, len) }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // SAFETY: `data` came from `Box<[u8]>` of length `cap` in `Chunk::new`.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.data, self.cap)) });
    }
}

/// Makes the OS back `len` bytes at `data` with memory now, by writing a zero into every
/// page: a zeroed allocation fresh from the OS is only mapped, and the first write into each
/// of its pages would otherwise trap into the kernel on the recording thread, inside a hook,
/// which then finds and zeroes a page (and may reclaim memory first, under pressure). Measured
/// before this: 1 085 such faults while one thread recorded a session's first 12 MiB.
fn commit_pages(data: *mut u8, len: usize) {
    // The smallest page size of the platforms trace-rt runs on; on larger pages the extra
    // writes hit pages already committed.
    const PAGE: usize = 4096;
    for offset in (0..len).step_by(PAGE) {
        // SAFETY: `offset < len`, inside the allocation, which nothing else references yet.
        // Volatile so that writing a zero over a zero is not optimised away.
        unsafe { data.add(offset).write_volatile(0) };
    }
}

/// A chunk handed to the writer, with the header its owner wrote for it.
///
/// `chunk` came from `Box::into_raw`; whoever pops it from the full queue (the writer) owns
/// it and frees or recycles it. A pointer rather than a `Box`, because the writer may still
/// be reading the chunk (a peek) when its thread hands it over.
pub(crate) struct FullChunk {
    pub(crate) chunk: NonNull<Chunk>,
    pub(crate) header: EventChunkHeader,
    pub(crate) len: usize,
}

// SAFETY: a `FullChunk` owns its chunk (see above), which is `Send`.
unsafe impl Send for FullChunk {}

/// The free chunks and the full ones waiting for the writer. Both queues can hold every
/// chunk, so pushes never fail.
pub(crate) struct ChunkPool {
    free: ArrayQueue<Box<Chunk>>,
    full: ArrayQueue<FullChunk>,
    chunk_size: usize,
}

impl ChunkPool {
    /// Allocates `count` chunks of `chunk_size` bytes, their pages committed.
    pub(crate) fn new(count: usize, chunk_size: usize) -> Self {
        let count = count.max(1);
        let free = ArrayQueue::new(count);
        for _ in 0..count {
            let _ = free.push(Chunk::new(chunk_size));
        }
        ChunkPool {
            free,
            full: ArrayQueue::new(count),
            chunk_size,
        }
    }

    pub(crate) fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// A free chunk, or `None` when every chunk is in use (the writer is behind).
    #[inline]
    pub(crate) fn take(&self) -> Option<Box<Chunk>> {
        self.free.pop()
    }

    /// Returns a chunk to the free list.
    pub(crate) fn give_back(&self, chunk: Box<Chunk>) {
        chunk.committed.store(0, Ordering::Relaxed);
        // Cannot fail: the queue holds every chunk of the pool.
        let _ = self.free.push(chunk);
    }

    /// Frees the chunks on the free list (the session is over; chunks still held by
    /// threads are freed with their slots).
    pub(crate) fn release_free(&self) {
        while self.free.pop().is_some() {}
    }

    /// Queues a full chunk for the writer; returns how many are queued now.
    pub(crate) fn push_full(&self, full: FullChunk) -> usize {
        // Cannot fail: the queue holds every chunk of the pool.
        let _ = self.full.push(full);
        self.full.len()
    }

    /// Chunks in the pool.
    pub(crate) fn count(&self) -> usize {
        self.full.capacity()
    }

    /// The next full chunk for the writer.
    pub(crate) fn pop_full(&self) -> Option<FullChunk> {
        self.full.pop()
    }
}

impl Drop for ChunkPool {
    fn drop(&mut self) {
        // Chunks handed over after the writer's last round (a thread racing the stop).
        while let Some(full) = self.full.pop() {
            // SAFETY: a queued chunk is owned by the queue (it came from `Box::into_raw`), and
            // with the pool gone nothing else can reach it.
            drop(unsafe { Box::from_raw(full.chunk.as_ptr()) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page of every chunk is backed by memory once the pool exists, so a hook's first
    /// write into a chunk takes no page fault. `mincore` reports which pages are resident; a
    /// zeroed allocation this large, fresh from the OS, has none until written.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[test]
    fn a_new_pool_has_every_page_committed() {
        const PAGE: usize = 4096;
        let pool = ChunkPool::new(64, 64 * 1024);
        let mut taken = Vec::new();
        while let Some(chunk) = pool.take() {
            // The chunk's pages, from the page holding its first byte to the one holding its
            // last (`mincore` wants a page-aligned start).
            let start = chunk.data() as usize & !(PAGE - 1);
            let end = chunk.data() as usize + chunk.capacity();
            let pages = (end - start).div_ceil(PAGE);
            let mut resident = vec![0u8; pages];
            // SAFETY: `[start, end)` lies in mapped memory (the chunk's allocation, rounded
            // down to its first page); `resident` has one byte per page of it.
            let rc = unsafe {
                libc::mincore(
                    start as *mut libc::c_void,
                    end - start,
                    resident.as_mut_ptr(),
                )
            };
            assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
            let missing = resident.iter().filter(|&&r| r & 1 == 0).count();
            assert_eq!(
                missing, 0,
                "{missing} of {pages} pages of a chunk are not resident"
            );
            taken.push(chunk);
        }
        assert_eq!(taken.len(), 64);
    }
}
