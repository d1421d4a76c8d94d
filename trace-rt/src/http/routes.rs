//! What each request gets: the index, a recording streamed as it is written, a
//! flight-recorder snapshot, and the errors (unknown path, wrong method, a bad `seconds`,
//! `409` while another recording or snapshot runs).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::header::{ALLOW, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{Semaphore, mpsc};

use super::body::{CHANNEL_PIECES, ChannelWriter, PIECE_BYTES, ResponseBody, TraceBody};
use super::options::Options;
use crate::session::Error;
use crate::{Session, WriterSink};

/// What every request of a server shares.
pub(super) struct State {
    pub(super) options: Options,
    /// One flight-recorder snapshot is sent at a time.
    pub(super) dumping: Arc<Semaphore>,
}

fn text(status: StatusCode, message: impl Into<String>) -> Response<ResponseBody> {
    let mut body = message.into();
    body.push('\n');
    let mut r = Response::new(Either::Left(Full::new(Bytes::from(body))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn trace_response(body: ResponseBody, filename: &'static str) -> Response<ResponseBody> {
    let mut r = Response::new(body);
    let headers = r.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(CONTENT_DISPOSITION, HeaderValue::from_static(filename));
    r
}

pub(super) async fn route<B>(state: &State, req: &Request<B>) -> Response<ResponseBody> {
    let path = req.uri().path();
    let known = matches!(
        path,
        "/debug/trace" | "/debug/trace/flight" | "/debug/trace/" | "/"
    );
    if !known {
        return text(
            StatusCode::NOT_FOUND,
            format!("no such page: {path}; see /debug/trace/"),
        );
    }
    if req.method() != Method::GET {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{path} answers GET only"),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    match path {
        "/debug/trace" => match parse_seconds(req.uri().query(), state.options.max_duration) {
            Ok(duration) => record(state, duration),
            Err(message) => text(StatusCode::BAD_REQUEST, message),
        },
        "/debug/trace/flight" => flight_snapshot(state).await,
        _ => text(StatusCode::OK, index(state)),
    }
}

fn index(state: &State) -> String {
    let max = state.options.max_duration.as_secs_f64();
    let flight = if state.options.flight.is_some() {
        "a snapshot of the flight recorder's recent past"
    } else {
        "(not enabled: the server has no flight recorder)"
    };
    format!(
        "trace-rt HTTP trigger\n\n\
         GET /debug/trace?seconds=N   record N seconds (default 1, at most {max}) and download the trace\n\
         GET /debug/trace/flight      {flight}\n\n\
         Example: curl -o x.rtt 'http://HOST/debug/trace?seconds=5' && trace-viewer report x.rtt"
    )
}

/// The recording length a query asks for: `seconds=N`, N > 0 and at most `max`. Names and
/// values are percent-decoded first.
fn parse_seconds(query: Option<&str>, max: Duration) -> Result<Duration, String> {
    let mut seconds = None;
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if name != "seconds" {
            return Err(format!(
                "unknown query parameter {name:?}: /debug/trace takes seconds=N only"
            ));
        }
        seconds = Some(value);
    }
    let Some(value) = seconds else {
        return Ok(Duration::from_secs(1).min(max));
    };
    let bad = || {
        format!(
            "seconds must be a number of seconds above 0 and at most {} (got {value:?})",
            max.as_secs_f64()
        )
    };
    let n: f64 = value.parse().map_err(|_| bad())?;
    if !n.is_finite() || n <= 0.0 {
        return Err(bad());
    }
    let d = Duration::try_from_secs_f64(n).map_err(|_| bad())?;
    if d > max {
        return Err(format!(
            "seconds={value} is longer than this server's maximum of {} s",
            max.as_secs_f64()
        ));
    }
    Ok(d)
}

fn already_recording() -> Response<ResponseBody> {
    text(
        StatusCode::CONFLICT,
        "another trace-rt recording is running in this process (one at a time); \
         try again when it ends",
    )
}

/// Starts a recording into a channel that feeds the response body, and a task that ends it
/// after `duration` or when the client goes away.
fn record(state: &State, duration: Duration) -> Response<ResponseBody> {
    let (tx, rx) = mpsc::channel(CHANNEL_PIECES);
    let sink = WriterSink::with_capacity(PIECE_BYTES, ChannelWriter { tx: tx.clone() });
    let config = state.options.config.clone().feature("trigger", "http");
    let session = match config.start_with_sink(sink) {
        Ok(s) => s,
        Err(Error::AlreadyRecording) => return already_recording(),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    tokio::spawn(end_recording(session, duration, tx));
    trace_response(
        Either::Right(TraceBody { rx }),
        "attachment; filename=\"trace.rtt\"",
    )
}

async fn end_recording(session: Session, duration: Duration, tx: mpsc::Sender<Bytes>) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = tx.closed() => {}
    }
    drop(tx);
    // `stop` joins the writer thread, which may wait on the client: not on this runtime.
    let stopped = tokio::task::spawn_blocking(move || session.stop()).await;
    if let Ok(Err(e)) = stopped {
        eprintln!("trace-rt http: the recording ended early: {e}");
    }
}

async fn flight_snapshot(state: &State) -> Response<ResponseBody> {
    let Some(flight) = state.options.flight.clone() else {
        return text(
            StatusCode::NOT_FOUND,
            "this server has no flight recorder (trace_rt::http::Options::flight_recorder)",
        );
    };
    // Each snapshot being sent holds its part of the channel to its client and keeps chunks
    // the ring evicts meanwhile alive: one at a time keeps that to one.
    let Ok(permit) = state.dumping.clone().try_acquire_owned() else {
        return text(
            StatusCode::CONFLICT,
            "another flight-recorder snapshot is being sent (one at a time); \
             try again when it ends",
        );
    };
    // Off this runtime's only thread: the hand-over stops and restarts a recording session.
    let snapshot = match tokio::task::spawn_blocking(move || flight.take_snapshot()).await {
        Ok(Ok(snapshot)) => snapshot,
        Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    // Streamed from the ring's own chunks, like a recording: no copy of the ring is made.
    let (tx, rx) = mpsc::channel(CHANNEL_PIECES);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let out = io::BufWriter::with_capacity(PIECE_BYTES, ChannelWriter { tx });
        if let Err(e) = snapshot.write(out)
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            eprintln!("trace-rt http: the flight-recorder snapshot ended early: {e}");
        }
    });
    trace_response(
        Either::Right(TraceBody { rx }),
        "attachment; filename=\"flight.rtt\"",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_parsed_and_bounded() {
        let max = Duration::from_secs(60);
        assert_eq!(parse_seconds(None, max), Ok(Duration::from_secs(1)));
        assert_eq!(
            parse_seconds(Some("seconds=2.5"), max),
            Ok(Duration::from_millis(2500))
        );
        assert_eq!(
            parse_seconds(Some("seconds=60"), max),
            Ok(Duration::from_secs(60))
        );
        for bad in [
            "seconds=0",
            "seconds=-1",
            "seconds=abc",
            "seconds=NaN",
            "seconds=inf",
            "seconds=",
        ] {
            let err = parse_seconds(Some(bad), max).unwrap_err();
            assert!(err.contains("above 0"), "{bad}: {err}");
        }
        let err = parse_seconds(Some("seconds=61"), max).unwrap_err();
        assert!(err.contains("maximum of 60 s"), "{err}");
        let err = parse_seconds(Some("path=/etc/passwd"), max).unwrap_err();
        assert!(err.contains("unknown query parameter"), "{err}");
        assert_eq!(
            parse_seconds(None, Duration::from_millis(10)),
            Ok(Duration::from_millis(10))
        );
    }

    #[test]
    fn query_values_are_percent_decoded() {
        let max = Duration::from_secs(60);
        for (query, want) in [
            ("seconds=%31", Duration::from_secs(1)),
            ("seconds=%32%2E5", Duration::from_millis(2500)),
            ("%73econds=3", Duration::from_secs(3)),
        ] {
            assert_eq!(parse_seconds(Some(query), max), Ok(want), "{query}");
        }
        // `+` is a space, which is not part of a number.
        let err = parse_seconds(Some("seconds=+4"), max).unwrap_err();
        assert!(err.contains("(got \" 4\")"), "{err}");
        // A malformed escape stays as it is, and is then not a number.
        let err = parse_seconds(Some("seconds=1%"), max).unwrap_err();
        assert!(err.contains("\"1%\""), "{err}");
        let err = parse_seconds(Some("seconds=%ZZ"), max).unwrap_err();
        assert!(err.contains("above 0"), "{err}");
        // The decoded name is what is checked, and shown.
        let err = parse_seconds(Some("fil%65=/etc/passwd"), max).unwrap_err();
        assert!(err.contains("unknown query parameter \"file\""), "{err}");
    }
}
