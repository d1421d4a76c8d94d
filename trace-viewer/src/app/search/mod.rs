//! Search (the `/` key): a query box over the timeline; Enter shows the next match in time,
//! Shift + Enter the previous one.
//!
//! - [`matches`](mod@matches): what a query matches — tasks by name or spawn location, regions by name —
//!   and the next or previous match in time from the current one;
//! - [`bar`]: the search bar;
//! - [`SearchState`]: the bar's query, what it matched and the match shown.
//!
//! Showing a match (selecting its task, scrolling its lane into view, zooming to it) is the
//! open trace's business ([`TraceView::show_found`](super::trace_view::TraceView::show_found)).

pub mod bar;
pub mod matches;

use matches::{Found, Matches};

use super::open_trace::OpenTrace;

/// The search bar's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchState {
    /// Shown.
    pub open: bool,
    /// The query, as typed.
    pub text: String,
    /// What the query matched, when it was last looked up.
    pub matches: Option<Matches>,
    /// The match shown last.
    pub current: Option<Found>,
    /// The text box should take the keyboard.
    pub focus: bool,
}

impl SearchState {
    /// Shows the bar with the keyboard in it.
    pub fn open(&mut self) {
        self.open = true;
        self.focus = true;
    }

    /// Looks up what the query matches in `trace`, when the text changed since.
    pub fn refresh(&mut self, trace: &OpenTrace) {
        let stale = self.matches.as_ref().is_none_or(|m| m.query != self.text);
        if stale {
            self.matches = Some(Matches::find(trace, &self.text));
            self.current = None;
        }
    }

    /// Enter: steps to the next match in `trace` (`backwards`: the previous one) and returns
    /// it, to be shown; `None` when nothing matches.
    pub fn step(&mut self, trace: &OpenTrace, backwards: bool) -> Option<Found> {
        self.refresh(trace);
        let found = match &self.matches {
            Some(m) => m.step(trace, self.current, backwards),
            None => None,
        };
        self.current = found;
        found
    }
}
