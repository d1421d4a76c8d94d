//! A trace on its way to the client: the recorder's writer thread (or a flight-recorder
//! snapshot) writes it into a bounded channel in pieces, and the response body sends what
//! the channel holds. A client that stops reading fills the channel, and the writer gives
//! up after [`CLIENT_STALL_LIMIT`].

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;

/// How long the recorder's writer waits for a client that does not read before it gives up
/// on the response (and the recording ends).
pub const CLIENT_STALL_LIMIT: Duration = Duration::from_secs(30);

/// A response: a short text, or a trace.
pub(super) type ResponseBody = Either<Full<Bytes>, TraceBody>;

/// Pieces of about [`PIECE_BYTES`] in flight between the writer thread and the client.
pub(super) const CHANNEL_PIECES: usize = 16;
pub(super) const PIECE_BYTES: usize = 256 << 10;

/// Hands written bytes to the response body. Runs on the recorder's writer thread, which
/// may wait (never a recording thread): a full channel means the client reads slowly.
pub(super) struct ChannelWriter {
    pub(super) tx: mpsc::Sender<Bytes>,
}

impl io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut piece = Bytes::copy_from_slice(buf);
        let started = Instant::now();
        loop {
            match self.tx.try_send(piece) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the HTTP client went away",
                    ));
                }
                Err(mpsc::error::TrySendError::Full(back)) => {
                    if started.elapsed() > CLIENT_STALL_LIMIT {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the HTTP client stopped reading",
                        ));
                    }
                    piece = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The response body of a recording: the pieces the writer thread sends, until it drops
/// the sender.
pub(super) struct TraceBody {
    pub(super) rx: mpsc::Receiver<Bytes>,
}

impl Body for TraceBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|p| p.map(|b| Ok(Frame::data(b))))
    }
}
