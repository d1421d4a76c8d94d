//! Interning of strings into [`StringId`]s that stay valid for the life of the process.
//! Every session's file gets the definitions it needs: the ones known when it starts, and
//! new ones as they are interned.

use std::collections::HashMap;
use std::sync::Mutex;

use trace_format::{Meta, StringDef, StringId};

use crate::shared::Shared;

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
    intern_locked(&mut guard, text)
}

fn intern_locked(guard: &mut Option<Interner>, text: &str) -> StringId {
    if text.is_empty() {
        return StringId::NONE;
    }
    let interner = guard.get_or_insert_with(Interner::default);
    if let Some(&id) = interner.ids.get(text) {
        return StringId(id);
    }
    interner.texts.push(text.into());
    let id = interner.texts.len() as u32;
    interner.ids.insert(text.into(), id);
    if let Some(shared) = crate::shared::current() {
        shared.push_meta(Meta::Strings(vec![StringDef {
            id,
            text: text.into(),
        }]));
    }
    StringId(id)
}

/// [`intern`] for callers that must not block or take a lock they may already hold (the
/// allocator, which can run inside `intern` itself): `None` when the table is locked right
/// now, by this thread or another; the caller tries again later.
pub(crate) fn try_intern(text: &str) -> Option<StringId> {
    let mut guard = match STRINGS.try_lock() {
        Ok(g) => g,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return None,
    };
    Some(intern_locked(&mut guard, text))
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
    // Holding both locks while the session becomes current means every definition is
    // either in this snapshot or pushed by `intern*` to the current session.
    let locations = LOCATIONS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(locs) = locations.as_ref()
        && !locs.defs.is_empty()
    {
        shared.push_meta(Meta::Locations(locs.defs.clone()));
    }
    crate::shared::set_current(Some(shared.clone()));
}

#[derive(Default)]
struct Locations {
    ids: HashMap<(Box<str>, u32, u32), u32>,
    defs: Vec<trace_format::LocationDef>,
}

/// The id of `file:line:column`, assigned (and sent to the current session) on first use.
/// Both entry points go through here, so a location has one id however it is named.
fn location_id(file: &str, line: u32, column: u32) -> u32 {
    let mut guard = LOCATIONS.lock().unwrap_or_else(|p| p.into_inner());
    let locs = guard.get_or_insert_with(Locations::default);
    let key = (Box::<str>::from(file), line, column);
    if let Some(&id) = locs.ids.get(&key) {
        return id;
    }
    let id = locs.defs.len() as u32 + 1;
    let def = trace_format::LocationDef {
        id,
        file: file.into(),
        line,
        column,
    };
    locs.ids.insert(key, id);
    locs.defs.push(def.clone());
    if let Some(shared) = crate::shared::current() {
        shared.push_meta(Meta::Locations(vec![def]));
    }
    id
}

static LOCATIONS: Mutex<Option<Locations>> = Mutex::new(None);

/// Slots of the per-thread direct-mapped cache in front of [`LOCATION_CACHE`].
const RECENT_SLOTS: usize = 64;

thread_local! {
    /// Per-thread cache so that a spawn site costs a lock only the first time a thread sees it.
    static LOCATION_CACHE: std::cell::RefCell<HashMap<usize, u32>> = std::cell::RefCell::new(HashMap::new());
    /// Recently seen spawn sites by address: a hit is a multiply, a shift and a load, where
    /// the map above costs a SipHash per spawn (the peer benchmark's spawn-heavy workload
    /// spends a noticeable part of its per-task overhead there).
    static RECENT_LOCATIONS: [std::cell::Cell<(usize, u32)>; RECENT_SLOTS] =
        const { [const { std::cell::Cell::new((0, 0)) }; RECENT_SLOTS] };
}

fn recent_slot(key: usize) -> usize {
    // Fibonacci hashing: the top bits of the product spread nearby addresses.
    key.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize)
        >> (usize::BITS - RECENT_SLOTS.trailing_zeros())
}

/// Returns the id of a location given by parts (no per-thread cache: for rare callers).
#[cfg_attr(not(feature = "wakes"), allow(dead_code))]
pub(crate) fn intern_location_parts(
    file: &str,
    line: u32,
    column: u32,
) -> trace_format::LocationId {
    trace_format::LocationId(location_id(file, line, column))
}

/// Returns the id of a source location (e.g. a task's spawn site), assigning one on first use.
pub fn intern_location(loc: &'static std::panic::Location<'static>) -> trace_format::LocationId {
    let key = loc as *const _ as usize;
    let slot = recent_slot(key);
    if let Ok((k, id)) = RECENT_LOCATIONS.try_with(|r| r[slot].get())
        && k == key
    {
        return trace_format::LocationId(id);
    }
    let cached = LOCATION_CACHE
        .try_with(|c| c.try_borrow().ok().and_then(|c| c.get(&key).copied()))
        .ok()
        .flatten();
    let id = cached.unwrap_or_else(|| {
        let id = location_id(loc.file(), loc.line(), loc.column());
        let _ = LOCATION_CACHE.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                c.insert(key, id);
            }
        });
        id
    });
    let _ = RECENT_LOCATIONS.try_with(|r| r[slot].set((key, id)));
    trace_format::LocationId(id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_location_has_one_id_whichever_way_it_is_named() {
        let here = std::panic::Location::caller();
        let by_location = super::intern_location(here);
        let by_parts = super::intern_location_parts(here.file(), here.line(), here.column());
        assert_eq!(by_location, by_parts);
        assert_eq!(by_location, super::intern_location(here));
        assert_ne!(
            by_location,
            super::intern_location_parts(here.file(), here.line() + 1, here.column())
        );
    }

    #[test]
    fn the_recent_cache_answers_with_each_location_s_own_id() {
        let sites = [
            std::panic::Location::caller(),
            std::panic::Location::caller(),
            std::panic::Location::caller(),
        ];
        let ids: Vec<_> = sites.iter().map(|&l| super::intern_location(l)).collect();
        for _ in 0..3 {
            for (l, id) in sites.iter().zip(&ids) {
                assert_eq!(super::intern_location(l), *id);
                assert_eq!(
                    *id,
                    super::intern_location_parts(l.file(), l.line(), l.column())
                );
            }
        }
        let a = sites[0] as *const _ as usize;
        assert!(super::recent_slot(a) < super::RECENT_SLOTS);
        assert_ne!(ids[0], ids[1]);
    }
}
