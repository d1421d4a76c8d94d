//! Stack walking by frame pointers (x86_64 and aarch64; other targets get no stacks), from
//! a frame the caller read at its entry ([`capture_from`], so that a hook's own frames
//! stay out), or from an interrupted context's registers
//! ([`walk_from`], for signal handlers).
//!
//! Fault-safe by construction, never by catching faults: a walk only reads the thread's own
//! stack between the interrupted stack pointer and the top of the stack (the bounds are
//! registered once per thread, [`ThreadStack`]), 8-byte aligned, with strictly increasing
//! frame pointers, and code bytes inside the executable mappings read at session start
//! ([`TextRanges`]). Anything else ends the walk and marks the stack truncated. Nothing here
//! allocates or locks: it runs in signal handlers.
//!
//! Code built without frame pointers (libc, and std unless rebuilt) leaves no frame record,
//! so a plain walk from a signal loses the frames between the interrupted instruction and
//! the first frame-pointer frame — exactly where a thread blocked in `nanosleep` or `futex`
//! sits, under the user's function that called it. Those are recovered by a bounded scan of
//! the words between the stack pointer and the first frame record, keeping values that lie
//! in executable text AND follow a call instruction (a return address).

/// The most frames a stack holds; a deeper one is cut (and counted as truncated).
pub(crate) const MAX_FRAMES: usize = 128;
/// The most bytes scanned for return addresses below the first frame record.
const SCAN_BYTES: u64 = 4096;
/// The most executable mappings remembered.
const MAX_TEXT: usize = 1024;

/// The calling thread's stack, `[lo, hi)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ThreadStack {
    pub(crate) lo: u64,
    pub(crate) hi: u64,
}

impl ThreadStack {
    /// The calling thread's stack bounds (`pthread_getattr_np`); `None` where unknown. Not
    /// signal-safe (glibc reads /proc/self/maps for the main thread): called once when a
    /// thread registers, and cached.
    #[cfg(all(target_os = "linux", not(miri)))]
    pub(crate) fn of_current_thread() -> Option<ThreadStack> {
        // SAFETY: `attr` is initialised by `pthread_getattr_np` before it is read and
        // destroyed once; the out-pointers are valid locals.
        unsafe {
            let mut attr: libc::pthread_attr_t = std::mem::zeroed();
            if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
                return None;
            }
            let mut addr: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            let r = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
            libc::pthread_attr_destroy(&mut attr);
            (r == 0 && !addr.is_null()).then(|| ThreadStack {
                lo: addr as u64,
                hi: addr as u64 + size as u64,
            })
        }
    }

    // Miri cannot run the walk (inline assembly, raw stack reads): no stacks there.
    #[cfg(any(not(target_os = "linux"), miri))]
    pub(crate) fn of_current_thread() -> Option<ThreadStack> {
        None
    }

    fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.lo && addr.checked_add(len).is_some_and(|e| e <= self.hi)
    }
}

/// The executable, readable mappings of the process (sorted start/end pairs), read once
/// when the session starts. Code mapped later (`dlopen`) is not known to the walk.
pub(crate) struct TextRanges {
    ranges: Vec<(u64, u64)>,
}

impl TextRanges {
    /// Reads `/proc/self/maps` (`r-x` mappings); empty where it cannot.
    pub(crate) fn read() -> TextRanges {
        if cfg!(miri) {
            return TextRanges { ranges: Vec::new() };
        }
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        TextRanges::parse(&maps)
    }

    pub(crate) fn parse(maps: &str) -> TextRanges {
        let mut ranges: Vec<(u64, u64)> = maps
            .lines()
            .filter_map(|l| {
                let mut it = l.split_ascii_whitespace();
                let (range, perms) = (it.next()?, it.next()?);
                if !perms.starts_with("r-x") && !perms.starts_with("rwx") {
                    return None;
                }
                let (a, b) = range.split_once('-')?;
                Some((
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(b, 16).ok()?,
                ))
            })
            .take(MAX_TEXT)
            .collect();
        ranges.sort_unstable();
        TextRanges { ranges }
    }

    /// Whether `[addr, addr + len)` lies in one executable mapping.
    pub(crate) fn contains(&self, addr: u64, len: u64) -> bool {
        let i = self.ranges.partition_point(|&(s, _)| s <= addr);
        i > 0 && {
            let (_, e) = self.ranges[i - 1];
            addr.checked_add(len).is_some_and(|end| end <= e)
        }
    }

    /// Whether `ret` is a return address: in text, right after a call instruction.
    fn after_call(&self, ret: u64) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            if !self.contains(ret.wrapping_sub(7), 7) {
                return false;
            }
            // SAFETY: the 7 bytes before `ret` lie in a readable executable mapping.
            let b = |k: u64| unsafe { std::ptr::read_volatile((ret - k) as *const u8) };
            // `call rel32` (E8), or `call r/m64` (FF /2) with 0 to 5 bytes of operand.
            b(5) == 0xE8
                || [2, 3, 4, 6, 7]
                    .iter()
                    .any(|&k| b(k) == 0xFF && b(k - 1) & 0x38 == 0x10)
        }
        #[cfg(target_arch = "aarch64")]
        {
            if !ret.is_multiple_of(4) || !self.contains(ret.wrapping_sub(4), 4) {
                return false;
            }
            // SAFETY: the instruction before `ret` lies in a readable executable mapping.
            let insn = unsafe { std::ptr::read_volatile((ret - 4) as *const u32) };
            // BL imm26, or BLR Xn.
            insn & 0xFC00_0000 == 0x9400_0000 || insn & 0xFFFF_FC1F == 0xD63F_0000
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            let _ = ret;
            false
        }
    }
}

/// A walked stack: `frames[..len]`, innermost first.
pub(crate) struct Frames {
    pub(crate) frames: [u64; MAX_FRAMES],
    pub(crate) len: usize,
    /// The walk stopped early (too deep, or a frame pointer outside the stack).
    pub(crate) truncated: bool,
}

impl Frames {
    pub(crate) const fn new() -> Frames {
        Frames {
            frames: [0; MAX_FRAMES],
            len: 0,
            truncated: false,
        }
    }

    pub(crate) fn as_slice(&self) -> &[u64] {
        &self.frames[..self.len]
    }

    fn push(&mut self, f: u64) -> bool {
        if self.len == MAX_FRAMES {
            self.truncated = true;
            return false;
        }
        self.frames[self.len] = f;
        self.len += 1;
        true
    }
}

/// Reads the stack word at `addr`, which must lie in `stack`.
fn word(stack: &ThreadStack, addr: u64) -> Option<u64> {
    if !addr.is_multiple_of(8) || !stack.contains(addr, 8) {
        return None;
    }
    // SAFETY: `addr` is aligned and inside the thread's mapped stack (registered bounds).
    Some(unsafe { std::ptr::read_volatile(addr as *const u64) })
}

/// Follows frame records from `fp` (which must lie at or above `floor`), appending return
/// addresses to `out`. Ends normally at a null frame pointer or return address.
fn follow(mut fp: u64, floor: u64, stack: &ThreadStack, text: &TextRanges, out: &mut Frames) {
    let mut floor = floor;
    loop {
        if fp == 0 {
            return;
        }
        let (Some(next), Some(ret)) = (
            (fp >= floor).then(|| word(stack, fp)).flatten(),
            word(stack, fp.wrapping_add(8)),
        ) else {
            out.truncated = true;
            return;
        };
        if ret == 0 {
            return;
        }
        if !text.contains(ret, 1) {
            out.truncated = true;
            return;
        }
        if !out.push(ret) {
            return;
        }
        floor = fp + 16;
        fp = next;
    }
}

/// Walks the stack of an interrupted context (`ip`, `sp`, `fp`: its instruction, stack and
/// frame pointers) on the current thread, whose stack is `stack`. Async-signal-safe.
pub(crate) fn walk_from(
    ip: u64,
    sp: u64,
    fp: u64,
    stack: &ThreadStack,
    text: &TextRanges,
    out: &mut Frames,
) {
    out.len = 0;
    out.truncated = false;
    if !stack.contains(sp, 8) {
        // Not on the registered stack (e.g. a signal on an alternate stack): no stack.
        out.truncated = true;
        return;
    }
    out.push(ip);
    let fp_ok = fp > sp && fp.is_multiple_of(8) && stack.contains(fp, 16);
    // The frames of code without frame pointers, between `sp` and the first frame record.
    let scan_end = if fp_ok { fp } else { stack.hi }.min(sp.saturating_add(SCAN_BYTES));
    let mut a = sp.next_multiple_of(8);
    while a + 8 <= scan_end {
        if let Some(v) = word(stack, a)
            && v != ip
            && text.after_call(v)
            && !out.push(v)
        {
            return;
        }
        a += 8;
    }
    if fp_ok {
        follow(fp, sp, stack, text, out);
    } else {
        out.truncated = true;
    }
}

/// Where a walk of the calling code's stack starts, read by [`WalkStart::here`] in the
/// function that wants its caller's stack: that function's frame and stack pointers. A
/// hook reads it at its entry (inlined into the hook's outermost function) and walks later,
/// deeper in its own code ([`capture_from`]), so that none of the hook's frames are in the
/// stack. (Where the whole hook is inlined into its caller, as LTO may do with the global
/// allocator, the stack starts one frame further out.)
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalkStart {
    fp: u64,
    sp: u64,
}

impl WalkStart {
    /// The frame of the function this is inlined into. Two register reads; no memory
    /// access.
    #[inline(always)]
    pub(crate) fn here() -> WalkStart {
        let (fp, sp) = frame_and_stack_pointer();
        WalkStart { fp, sp }
    }
}

/// Walks the stack from `start`, read by a function that is still running (an outer frame
/// of the caller's): `out` holds an address in the call instruction that entered that
/// function (its return address − 1, so that it names the calling line like an
/// interrupted instruction would), then the return addresses of the callers further out.
pub(crate) fn capture_from(
    start: WalkStart,
    stack: &ThreadStack,
    text: &TextRanges,
    out: &mut Frames,
) {
    out.len = 0;
    out.truncated = false;
    if start.fp == 0 {
        out.truncated = true;
        return;
    }
    follow(start.fp, start.sp, stack, text, out);
    if out.len > 0 {
        out.frames[0] -= 1;
    }
}

/// Walks the calling code's stack from the current frame: `out` holds the return address
/// into the caller of `capture_here`, then its caller's, and so on.
#[cfg(test)]
#[inline(never)]
pub(crate) fn capture_here(stack: &ThreadStack, text: &TextRanges, out: &mut Frames) {
    let (fp, sp) = frame_and_stack_pointer();
    out.len = 0;
    out.truncated = false;
    follow(fp, sp, stack, text, out);
}

/// This function's frame pointer and stack pointer (0s where unsupported). With frame
/// pointers forced, the frame pointer of this non-inlined function is its own frame record.
#[inline(always)]
fn frame_and_stack_pointer() -> (u64, u64) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        let (fp, sp): (u64, u64);
        // SAFETY: reads two registers; no memory access, no side effects.
        unsafe {
            std::arch::asm!("mov {}, rbp", "mov {}, rsp", out(reg) fp, out(reg) sp,
                options(nomem, nostack, preserves_flags));
        }
        (fp, sp)
    }
    #[cfg(all(target_arch = "aarch64", not(miri)))]
    {
        let (fp, sp): (u64, u64);
        // SAFETY: reads two registers; no memory access, no side effects.
        unsafe {
            std::arch::asm!("mov {}, x29", "mov {}, sp", out(reg) fp, out(reg) sp,
                options(nomem, nostack, preserves_flags));
        }
        (fp, sp)
    }
    #[cfg(any(miri, not(any(target_arch = "x86_64", target_arch = "aarch64"))))]
    {
        (0, 0)
    }
}

#[cfg(all(
    test,
    not(miri),
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod tests {
    use super::*;

    #[inline(never)]
    fn leaf(out: &mut Frames, stack: &ThreadStack, text: &TextRanges) {
        capture_here(stack, text, out);
        std::hint::black_box(&out);
    }

    /// A function that asks for its caller's stack (like the allocator hook).
    #[inline(never)]
    fn hook(out: &mut Frames, stack: &ThreadStack, text: &TextRanges) {
        let start = WalkStart::here();
        deeper(start, out, stack, text);
        std::hint::black_box(&out);
    }

    /// A hook's inner function, walking from its entry's frame: it is not in the stack.
    #[inline(never)]
    fn deeper(start: WalkStart, out: &mut Frames, stack: &ThreadStack, text: &TextRanges) {
        capture_from(start, stack, text, out);
        std::hint::black_box(&out);
    }

    #[inline(never)]
    fn middle(out: &mut Frames, stack: &ThreadStack, text: &TextRanges) {
        leaf(out, stack, text);
        std::hint::black_box(&out);
    }

    #[inline(never)]
    fn calls_hook(out: &mut Frames, stack: &ThreadStack, text: &TextRanges) {
        hook(out, stack, text);
        std::hint::black_box(&out);
    }

    fn within(addr: u64, f: usize) -> bool {
        // A generous bound on a small function's code size.
        addr > f as u64 && addr < f as u64 + 512
    }

    #[test]
    fn walk_from_here_finds_the_callers() {
        let stack = ThreadStack::of_current_thread().expect("stack bounds");
        let text = TextRanges::read();
        let mut out = Frames::new();
        middle(&mut out, &stack, &text);
        let frames = out.as_slice();
        assert!(frames.len() >= 3, "{frames:x?}");
        assert!(within(frames[0], leaf as *const () as usize), "{frames:x?}");
        assert!(
            within(frames[1], middle as *const () as usize),
            "{frames:x?}"
        );
        // Every frame is a return address.
        assert!(frames.iter().all(|&f| text.after_call(f)), "{frames:x?}");
    }

    #[test]
    fn a_walk_from_a_hooks_entry_starts_in_its_caller_and_leaves_the_hook_out() {
        let stack = ThreadStack::of_current_thread().expect("stack bounds");
        let text = TextRanges::read();
        let mut out = Frames::new();
        calls_hook(&mut out, &stack, &text);
        let frames = out.as_slice();
        assert!(frames.len() >= 2, "{frames:x?}");
        // The call into the hook (inside the call instruction, not after it), then the
        // callers' return addresses; neither the hook nor the function that walked: the
        // function whose code holds the first frame (the nearest start below it) is the
        // hook's caller.
        let candidates = [
            calls_hook as *const () as u64,
            hook as *const () as u64,
            deeper as *const () as u64,
        ];
        let owner = candidates.iter().filter(|&&f| f < frames[0]).max();
        assert_eq!(owner, Some(&candidates[0]), "{frames:x?} {candidates:x?}");
        assert!(
            within(frames[0], calls_hook as *const () as usize),
            "{frames:x?}"
        );
        assert!(text.after_call(frames[0] + 1), "{frames:x?}");
        assert!(
            frames[1..].iter().all(|&f| text.after_call(f)),
            "{frames:x?}"
        );
    }

    #[test]
    fn walk_from_registers_scans_the_gap_and_rejects_bad_pointers() {
        let stack = ThreadStack::of_current_thread().unwrap();
        let text = TextRanges::read();
        let mut out = Frames::new();
        // Garbage registers: nothing outside the stack is read.
        walk_from(0x1234, 8, 16, &stack, &text, &mut out);
        assert!(out.truncated);
        assert_eq!(out.len, 0);
        // A real frame: our own, with a bogus ip and a frame pointer below sp (invalid):
        // only the scan finds frames, and they are return addresses.
        let (fp, sp) = frame_and_stack_pointer();
        walk_from(0x42, sp, fp, &stack, &text, &mut out);
        assert_eq!(out.frames[0], 0x42);
        assert!(out.as_slice()[1..].iter().all(|&f| text.after_call(f)));
        walk_from(0x42, sp, sp - 64, &stack, &text, &mut out);
        assert!(out.truncated);
    }

    #[test]
    fn text_ranges_parse() {
        let t = TextRanges::parse(
            "00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus\n\
             00652000-00655000 rw-p 00052000 08:02 173521 /usr/bin/dbus\n\
             7f0000000000-7f0000001000 r-xp 00000000 00:00 0\n",
        );
        assert!(t.contains(0x400000, 8));
        assert!(!t.contains(0x451ffc, 8));
        assert!(!t.contains(0x652000, 1));
        assert!(t.contains(0x7f0000000000, 1));
        assert!(!t.contains(0x3fffff, 1));
    }
}
