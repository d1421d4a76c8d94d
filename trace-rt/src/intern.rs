//! Interning of strings into [`StringId`]s that stay valid for the life of the process.
//! Every session's file gets the definitions it needs: the ones known when it starts, and
//! new ones as they are interned.

use std::collections::HashMap;
use std::sync::Mutex;

use trace_format::{Meta, StringDef, StringId};

use crate::session::Shared;

#[derive(Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
}

static STRINGS: Mutex<Option<Interner>> = Mutex::new(None);

/// Returns the id of `text`, assigning one on first use. Call it once and keep the id: it
/// takes a lock, so it does not belong on a hot path.
///
/// ```
/// let a = trace_rt::intern("compaction");
/// assert_eq!(a, trace_rt::intern("compaction"));
/// assert_ne!(a, trace_rt::intern("flush"));
/// ```
pub fn intern(text: &str) -> StringId {
    if text.is_empty() {
        return StringId::NONE;
    }
    let mut guard = STRINGS.lock().unwrap_or_else(|p| p.into_inner());
    let interner = guard.get_or_insert_with(Interner::default);
    if let Some(&id) = interner.ids.get(text) {
        return StringId(id);
    }
    interner.texts.push(text.into());
    let id = interner.texts.len() as u32;
    interner.ids.insert(text.into(), id);
    if let Some(shared) = crate::session::current() {
        shared.push_meta(Meta::Strings(vec![StringDef {
            id,
            text: text.into(),
        }]));
    }
    StringId(id)
}

/// Queues the definitions of every string interned so far for a starting session and makes
/// it current, atomically with respect to [`intern`], so that no definition is missed.
pub(crate) fn publish_session(shared: &std::sync::Arc<Shared>) {
    let guard = STRINGS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(interner) = guard.as_ref()
        && !interner.texts.is_empty()
    {
        let defs = interner
            .texts
            .iter()
            .enumerate()
            .map(|(i, t)| StringDef {
                id: i as u32 + 1,
                text: t.to_string(),
            })
            .collect();
        shared.push_meta(Meta::Strings(defs));
    }
    crate::session::set_current(Some(shared.clone()));
}
