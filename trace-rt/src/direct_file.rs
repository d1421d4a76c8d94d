//! The trace file's output: bytes go to the file in whole blocks from one aligned buffer,
//! opened with `O_DIRECT` on Linux where the file system allows it, so that they reach the
//! disk without being copied into the page cache.
//!
//! Why: the writer thread shares the machine with the application, and buffered writes cost
//! the kernel page allocation, a copy and delayed block allocation for every page. On the
//! 2-core VM the writer spends 270–330 µs of CPU per MiB of trace this way against 390–430
//! µs through the page cache (`cargo bench -p trace-rt-benches --bench sink_write`, same
//! run; CRC and framing included in both). Nor does a recording push the service's own files
//! out of the page cache with data nobody reads back until it ends.
//!
//! `O_DIRECT` needs block-aligned file offsets, lengths and memory, so a flush writes the
//! buffer's last, partial block padded with zeros and then cuts the file back to its real
//! length; the partial block stays in the buffer and is written again, completed, later. A
//! crash between the two leaves zeros after the last frame, which the reader treats as a
//! cut-short file. Where `O_DIRECT` is refused (tmpfs, some network or FUSE file systems,
//! other operating systems) or the path is not a regular file (a pipe), the bytes are simply
//! appended from the same buffer, through the page cache.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// File offsets, lengths and buffer addresses of `O_DIRECT` writes are multiples of this: the
/// largest logical block size in common use (512 is the other).
const BLOCK: usize = 4096;
/// Bytes buffered before a write. Small `O_DIRECT` writes are dear: 64 KiB ones cost the
/// kernel about eight times the CPU per MiB of 1 MiB ones on the 2-core VM.
const CAPACITY: usize = 1 << 20;

/// A file written in whole [`BLOCK`]s from an aligned buffer; see the module docs.
pub(crate) struct DirectFile {
    file: File,
    /// `CAPACITY + BLOCK` bytes, so that an aligned `CAPACITY`-byte window fits in it.
    mem: Vec<u8>,
    /// Where that window starts in `mem`.
    start: usize,
    /// Bytes in the window not yet written in full (a flushed partial block stays here).
    len: usize,
    /// The file offset of the window's first byte (a multiple of `BLOCK`).
    offset: u64,
    /// Whether the file was opened with `O_DIRECT` (and the file system took its writes).
    direct: bool,
}

impl DirectFile {
    /// Creates (or truncates) the file at `path`, with `O_DIRECT` where it is supported. A
    /// path that is not a regular file (a pipe, a device) is written as a stream.
    pub(crate) fn create(path: &Path) -> io::Result<DirectFile> {
        // Not on a pipe: there O_DIRECT means packets, which a reader can cut.
        let regular = std::fs::metadata(path).map_or(true, |m| m.is_file());
        let (file, direct) = match regular.then(|| open(path, true)) {
            Some(Ok(file)) => (file, true),
            // EINVAL: the file system does not do direct I/O.
            Some(Err(e)) if e.kind() != io::ErrorKind::InvalidInput => return Err(e),
            _ => (open(path, false)?, false),
        };
        Ok(Self::new(file, direct))
    }

    /// [`DirectFile::create`] without `O_DIRECT`: through the page cache.
    #[cfg(test)]
    fn create_buffered(path: &Path) -> io::Result<DirectFile> {
        Ok(Self::new(open(path, false)?, false))
    }

    fn new(file: File, direct: bool) -> DirectFile {
        let mem = vec![0u8; CAPACITY + BLOCK];
        let start = mem.as_ptr().align_offset(BLOCK);
        DirectFile {
            file,
            mem,
            start,
            len: 0,
            offset: 0,
            direct,
        }
    }

    /// Whether writes bypass the page cache.
    #[cfg(test)]
    fn is_direct(&self) -> bool {
        self.direct
    }

    /// Writes the buffered bytes, cuts the file to its real length and returns it.
    pub(crate) fn into_file(mut self) -> io::Result<File> {
        self.flush()?;
        Ok(self.file)
    }

    /// Puts the buffered bytes in the file: appended, or with `O_DIRECT` as
    /// [`DirectFile::write_direct`] does.
    fn write_out(&mut self) -> io::Result<()> {
        if self.direct {
            match self.write_direct() {
                // Some file systems accept `O_DIRECT` when the file is opened and refuse the
                // writes (which then wrote nothing): go on through the page cache.
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                    self.direct = false;
                    set_direct(&self.file, false)?;
                    self.file.seek(SeekFrom::Start(self.offset))?;
                }
                r => return r,
            }
        }
        self.file
            .write_all(&self.mem[self.start..self.start + self.len])?;
        self.offset += self.len as u64;
        self.len = 0;
        Ok(())
    }

    /// Writes the buffer in whole blocks at its file offset, the last partial block padded
    /// with zeros, then cuts the file back to its real length; the partial block stays in
    /// the buffer, to be written again with what follows it.
    fn write_direct(&mut self) -> io::Result<()> {
        let (start, len) = (self.start, self.len);
        let padded = len.next_multiple_of(BLOCK);
        // Zeros, not leftovers of earlier data, pad the last block.
        self.mem[start + len..start + padded].fill(0);
        self.file.seek(SeekFrom::Start(self.offset))?;
        self.file.write_all(&self.mem[start..start + padded])?;
        if padded != len {
            self.file.set_len(self.offset + len as u64)?;
        }
        let whole = len - len % BLOCK;
        self.mem.copy_within(start + whole..start + len, start);
        self.offset += whole as u64;
        self.len -= whole;
        Ok(())
    }
}

impl Write for DirectFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CAPACITY - self.len);
        let at = self.start + self.len;
        self.mem[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        if self.len == CAPACITY {
            self.write_out()?;
        }
        Ok(n)
    }

    /// Puts every buffered byte in the file (written, not synced: it survives a crash of this
    /// process, not of the machine).
    fn flush(&mut self) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        self.write_out()
    }
}

fn open(path: &Path, direct: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(target_os = "linux")]
    if direct {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_DIRECT);
    }
    #[cfg(not(target_os = "linux"))]
    if direct {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    options.open(path)
}

/// Turns `O_DIRECT` on or off on an open file.
#[cfg(target_os = "linux")]
fn set_direct(file: &File, direct: bool) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is an open descriptor owned by `file` for the duration of both calls;
    // F_GETFL and F_SETFL take no pointers.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if direct {
        flags | libc::O_DIRECT
    } else {
        flags & !libc::O_DIRECT
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_file: &File, _direct: bool) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that differ at every position (a misplaced block shows).
    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// Writes `pieces` with a flush after those marked, checking the file after each flush,
    /// and returns the file's final bytes and whether it was written directly.
    fn write_pieces(file: DirectFile, path: &Path, pieces: &[(usize, bool)]) -> (Vec<u8>, bool) {
        let mut file = file;
        let direct = file.is_direct();
        let mut expected = Vec::new();
        for (i, &(len, flush)) in pieces.iter().enumerate() {
            let piece = pattern(len, i as u8);
            file.write_all(&piece).unwrap();
            expected.extend_from_slice(&piece);
            if flush {
                file.flush().unwrap();
                // What a crash of the process right now would leave.
                assert_eq!(std::fs::read(path).unwrap(), expected, "after piece {i}");
            }
        }
        drop(file.into_file().unwrap());
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(bytes.len(), expected.len());
        assert!(bytes == expected, "the file differs from what was written");
        (bytes, direct)
    }

    /// Partial blocks flushed and completed, pieces that cross the buffer's end, a flush with
    /// nothing new, pieces larger than the buffer.
    const PIECES: &[(usize, bool)] = &[
        (10, true),
        (5000, true),
        (0, true),
        (BLOCK - 5010 % BLOCK, true),
        (CAPACITY - 3, false),
        (7, true),
        (3 * CAPACITY + 123, true),
        (1, false),
    ];

    #[test]
    fn every_byte_arrives_in_order_written_directly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.rtt");
        let (_, direct) = write_pieces(DirectFile::create(&path).unwrap(), &path, PIECES);
        // The test's temp dir is on a file system with direct I/O on Linux CI machines (ext4,
        // xfs); on tmpfs this checks the fallback.
        eprintln!("O_DIRECT in effect: {direct}");
    }

    #[test]
    fn every_byte_arrives_in_order_through_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.rtt");
        let (_, direct) = write_pieces(DirectFile::create_buffered(&path).unwrap(), &path, PIECES);
        assert!(!direct);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_system_that_refuses_direct_writes_gets_buffered_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.rtt");
        let mut file = DirectFile::create(&path).unwrap();
        if !file.is_direct() {
            eprintln!("no O_DIRECT here: nothing to refuse");
            return;
        }
        // A file offset off the block grid: the kernel refuses the direct write with EINVAL
        // (whatever the device's memory alignment), as a file system that takes the flag but
        // not the writes does.
        file.offset = 1;
        file.write_all(b"abc").unwrap();
        file.flush().unwrap();
        assert!(!file.is_direct());
        drop(file.into_file().unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"\0abc");
    }

    /// A pipe (here a pipe's `/proc/self/fd` path, as a shell's `>(...)` gives) is written
    /// as a stream: no seeking, no padding, no packets.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_pipe_is_written_as_a_stream() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let (mut reader, writer) = std::io::pipe().unwrap();
        let path = std::path::PathBuf::from(format!("/proc/self/fd/{}", writer.as_raw_fd()));
        let mut file = DirectFile::create(&path).unwrap();
        drop(writer);
        assert!(!file.is_direct());
        let expected = pattern(3 * BLOCK + 5, 9);
        let reading = std::thread::spawn(move || {
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            got
        });
        file.write_all(&expected[..10]).unwrap();
        file.flush().unwrap();
        file.write_all(&expected[10..]).unwrap();
        drop(file.into_file().unwrap());
        assert!(
            reading.join().unwrap() == expected,
            "the pipe's bytes differ"
        );
    }

    #[test]
    fn an_unwritable_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = DirectFile::create(&dir.path().join("missing/t.rtt"))
            .err()
            .expect("no such directory");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
