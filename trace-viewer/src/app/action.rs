//! What a panel asks the app to do (open a file, close the trace, export, …): the panels
//! return an [`Action`] and the app carries it out, so no panel reaches into the app.

use std::path::PathBuf;

/// Something a panel asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a file: the native file dialog where the app uses one, else the "Open" window.
    ShowOpenDialog,
    /// Show the "Open" window (a typed path).
    ShowOpenPathDialog,
    /// Show the native file dialog.
    Browse,
    /// Empty the recent-files list.
    ClearRecent,
    /// Hide it.
    HideOpenDialog,
    /// Open this file.
    Open(PathBuf),
    /// Cancel the opening in progress.
    CancelOpen,
    /// Close the open trace.
    CloseTrace,
    /// Quit.
    Quit,
    /// Fit the selection, or the whole trace.
    Fit,
    /// Show the whole trace.
    FitAll,
    /// Collapse (`true`) or expand all task groups.
    CollapseAll(bool),
    /// Hide the banner about missing data.
    DismissBanner,
    /// Show the export window.
    ShowExport,
    /// Hide it (canceling an export in progress).
    HideExport,
    /// Start the export the window describes.
    StartExport,
    /// Cancel the export in progress.
    CancelExport,
}
