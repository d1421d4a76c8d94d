//! The window's panels. Each draws one part of the window from the tv or the app
//! state, and turns clicks into calls on them or into an [`Action`](super::Action) for the
//! app to carry out.

pub mod details;
