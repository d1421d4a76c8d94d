//! The bytes a [`Trace`](crate::Trace) reads: a file's read-only map or bytes held in memory,
//! and handing mapped pages back to the OS once they have been read, so that a pass over a
//! large trace does not keep the whole file resident.

/// The bytes of a trace: a read-only map of its file, or a copy held in memory.
pub(super) enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

impl Bytes {
    /// Tells the OS that the mapped pages over `range` are not needed for now: they leave
    /// this process's resident set, and come back from the page cache (or the file) if they
    /// are read again. This keeps a pass over a large trace from making the whole file
    /// resident. A no-op for bytes held in memory and off Unix.
    ///
    /// The range is widened by [`FAULT_AROUND`] on both sides: a page fault maps the cached
    /// pages around the faulting one too, so reading a chunk also maps parts of its
    /// neighbours, which would otherwise stay mapped when those were read earlier. Pages
    /// released while another reader still needs them are simply read again.
    pub(super) fn release(&self, range: std::ops::Range<usize>) {
        #[cfg(unix)]
        if let Bytes::Mapped(map) = self {
            let page = page_size();
            let start = range.start.saturating_sub(FAULT_AROUND) / page * page;
            // Within the map, as memmap2 requires; madvise itself rounds the length up to
            // whole pages, which covers the map's last, partial page.
            let end = range
                .end
                .saturating_add(FAULT_AROUND)
                .next_multiple_of(page)
                .min(map.len());
            if end > start {
                // SAFETY: `map` is a read-only `MAP_SHARED` mapping of a file (memmap2's
                // `Mmap::map`). For such a mapping MADV_DONTNEED only unmaps the pages: the
                // next access faults them back in from the page cache or the file, with the
                // same contents, exactly as after the kernel reclaims them under memory
                // pressure. So bytes borrowed from the map (by this or another thread) never
                // change; the one hazard, the file being modified while mapped, is the one
                // every mapping has (see `Trace::open` and FORMAT.md §7). `start..end` lies
                // inside the map and starts on a page. An error only means the pages stay.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        start,
                        end - start,
                    )
                };
            }
        }
        #[cfg(not(unix))]
        let _ = range;
    }

    /// Where the run of zero bytes that ends `self[..len]` starts (`len` when the last byte
    /// is not zero). Scans backwards in bounded windows, releasing each (see
    /// [`Bytes::release`]), so a long zero-filled or sparse tail never becomes resident.
    pub(super) fn zero_tail_start(&self, len: usize) -> usize {
        const WINDOW: usize = 1 << 20;
        const BLOCK: usize = 4096;
        let data = &self[..len];
        let mut end = len;
        while end > 0 {
            let start = end.saturating_sub(WINDOW);
            let window = &data[start..end];
            // OR-folding whole blocks (no early exit) vectorizes; only the block holding the
            // last non-zero byte is searched byte by byte.
            let mut found = None;
            let mut block_end = window.len();
            while block_end > 0 {
                let block_start = block_end.saturating_sub(BLOCK);
                let block = &window[block_start..block_end];
                if block.iter().fold(0u8, |acc, &b| acc | b) != 0 {
                    found = block.iter().rposition(|&b| b != 0).map(|i| block_start + i);
                    break;
                }
                block_end = block_start;
            }
            self.release(start..end);
            if let Some(i) = found {
                return start + i + 1;
            }
            end = start;
        }
        0
    }
}

/// The OS page size (what `madvise` ranges must be aligned to).
#[cfg(unix)]
fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions; it returns -1 on error, handled below.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n)
            .ok()
            .filter(|n| n.is_power_of_two())
            .unwrap_or(4096)
    })
}

/// How far around a faulting page the kernel may map cached pages (Linux's default
/// `fault_around_bytes` is 64 KiB).
const FAULT_AROUND: usize = 64 << 10;
