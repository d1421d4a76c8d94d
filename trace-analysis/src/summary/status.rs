//! What the reader noticed and what that makes of the trace: a [`WarningInfo`] per reader
//! warning, plus the lost-data warning that only `lost` events can give; the overall status
//! ([`TraceSummary::status_of`]); and marking a summary corrupt or salvaged after the fact.

use trace_format::{Trace, Warning};

use super::schema::{LostEvents, TraceSummary, WarningInfo};

impl WarningInfo {
    /// Describes a reader warning.
    pub fn from_warning(w: &Warning) -> Self {
        let kind = match w {
            Warning::Truncated { .. } => "truncated",
            Warning::NoEndRecord => "no_end_record",
            Warning::UnknownFrames { .. } => "unknown_frame",
            Warning::UnreadableMeta { .. } => "unreadable_meta",
            Warning::MissingChunks { .. } => "missing_chunks",
            Warning::BadCode { .. } => "bad_code",
            Warning::LostData { .. } => "lost_data",
        };
        WarningInfo {
            kind,
            message: w.to_string(),
            benign: w.is_benign(),
        }
    }
}

/// The warnings of a summary: the reader's, and one for drops that only `lost` events report.
pub(super) fn warnings_of(trace: &Trace, lost_events: &LostEvents) -> Vec<WarningInfo> {
    let mut warnings: Vec<WarningInfo> = trace
        .warnings()
        .iter()
        .map(WarningInfo::from_warning)
        .collect();
    // The reader only warns about drops the end record reports; drops reported by `lost`
    // events alone (a cut file, or an end record that does not count them) are warned
    // about here.
    let reader_warned = trace
        .warnings()
        .iter()
        .any(|w| matches!(w, Warning::LostData { .. }));
    if !reader_warned && (lost_events.chunks > 0 || lost_events.events > 0) {
        warnings.push(WarningInfo {
            kind: "lost_data",
            message: format!(
                "the recorder dropped {} chunk(s) with {} event(s) before they reached \
                 the file (reported by {} lost event(s))",
                lost_events.chunks, lost_events.events, lost_events.records
            ),
            benign: false,
        });
    }
    warnings
}

impl TraceSummary {
    /// The overall status: `"corrupt"` with an error; else `"cut"` without an end record (the
    /// recording did not finish: what came after its last event is unknown); else
    /// `"incomplete"` with any warning that is not benign; else `"complete"`.
    pub fn status_of(error: bool, end_record: bool, warnings: &[WarningInfo]) -> &'static str {
        if error {
            "corrupt"
        } else if !end_record {
            "cut"
        } else if warnings.iter().any(|w| !w.benign) {
            "incomplete"
        } else {
            "complete"
        }
    }

    /// Records the error that stopped reading (keeping an earlier one) and marks the summary
    /// incomplete.
    pub fn set_error(&mut self, error: impl ToString) {
        if self.error.is_none() {
            self.error = Some(error.to_string());
        }
        self.status = "corrupt";
        self.complete = false;
    }

    /// Records that this summary covers only the readable prefix of a damaged file (see
    /// [`crate::open::open_salvaging`]): sets the error and drops the `no_end_record`
    /// warning, which only says that the end of the file was not read, as the error already
    /// does.
    pub fn set_salvaged(&mut self, error: impl ToString) {
        self.set_error(error);
        self.warnings.retain(|w| w.kind != "no_end_record");
    }
}
