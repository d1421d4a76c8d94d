//! Drawing pieces: the palette and the timeline painter. They draw what the layout computed
//! and hold no state of their own.

pub mod palette;
