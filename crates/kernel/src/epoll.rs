//! Event polling (fs/eventpoll.c): an epoll instance is an interest list
//! of (descriptor, open file description) registrations.
//!
//! A registration holds its description weakly: once every descriptor of
//! the description is closed, in every process, the registration is dead
//! and dropped (Linux's eventpoll_release() at the file's last fput).
//! Readiness is asked of the object each time (`poll::poll_events`), as
//! ep_item_poll() does; level-triggered registrations report while ready,
//! edge-triggered ones when the object was woken since they last reported
//! (its wakeup counts moved, or its events changed), one-shot ones once
//! until EPOLL_CTL_MOD re-arms them. Reported level-triggered entries go to
//! the back of the list, so a small `maxevents` still sees every ready
//! registration in turn, as Linux's ready list does.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use crate::fd::{FileRef, Object, OpenFile};

pub const EPOLLIN: u32 = 0x001;
pub const EPOLLPRI: u32 = 0x002;
pub const EPOLLOUT: u32 = 0x004;
pub const EPOLLERR: u32 = 0x008;
pub const EPOLLHUP: u32 = 0x010;
pub const EPOLLRDNORM: u32 = 0x040;
pub const EPOLLRDBAND: u32 = 0x080;
pub const EPOLLWRNORM: u32 = 0x100;
pub const EPOLLWRBAND: u32 = 0x200;
pub const EPOLLMSG: u32 = 0x400;
pub const EPOLLRDHUP: u32 = 0x2000;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;
/// Bits EPOLLEXCLUSIVE may be combined with (EPOLLEXCLUSIVE_OK_BITS).
pub const EXCLUSIVE_OK: u32 = EPOLLIN
    | EPOLLOUT
    | EPOLLRDNORM
    | EPOLLRDBAND
    | EPOLLWRNORM
    | EPOLLWRBAND
    | EPOLLERR
    | EPOLLHUP
    | EPOLLWAKEUP
    | EPOLLET
    | EPOLLEXCLUSIVE;
/// How deep epoll instances may nest (EP_MAX_NESTS).
pub const MAX_NESTS: u32 = 4;

/// What an object says when polled: its events and how many times it
/// woke its readers and its writers (for edge triggering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollState {
    pub mask: u16,
    pub rseq: u64,
    pub wseq: u64,
}

/// One registration (struct epitem).
#[derive(Debug)]
pub struct Entry {
    pub fd: i32,
    pub file: Weak<RefCell<OpenFile>>,
    /// Requested events and flags (EPOLLERR and EPOLLHUP always added).
    pub events: u32,
    pub data: u64,
    /// Edge trigger: what was seen when last reported.
    seen: Option<(u16, u64, u64)>,
    /// One-shot, reported: nothing more until EPOLL_CTL_MOD.
    disabled: bool,
}

impl Entry {
    /// The events to report now for object state `s`, if any; `consume`
    /// records the report (edge and one-shot state).
    fn check(&mut self, s: PollState, consume: bool) -> Option<u32> {
        if self.disabled {
            return None;
        }
        let ready = u32::from(s.mask) & self.events & !(EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE);
        if ready == 0 {
            return None;
        }
        if self.events & EPOLLET != 0 {
            let r = if self.events & (EPOLLIN | EPOLLRDNORM) != 0 {
                s.rseq
            } else {
                0
            };
            let w = if self.events & (EPOLLOUT | EPOLLWRNORM) != 0 {
                s.wseq
            } else {
                0
            };
            let now = (s.mask, r, w);
            if self.seen == Some(now) {
                return None;
            }
            if consume {
                self.seen = Some(now);
            }
        }
        if consume && self.events & EPOLLONESHOT != 0 {
            self.disabled = true;
        }
        Some(ready)
    }
}

/// An epoll instance (struct eventpoll): registrations in the order added.
#[derive(Debug, Default)]
pub struct Epoll {
    pub entries: Vec<Entry>,
}

/// The key of a description: its address (kept valid by the `Weak`).
pub fn file_key(file: &FileRef) -> *const RefCell<OpenFile> {
    Rc::as_ptr(file)
}

impl Epoll {
    /// Drops registrations whose description has been closed for good.
    pub fn prune(&mut self) {
        self.entries.retain(|e| e.file.strong_count() > 0);
    }

    /// The registration of (`fd`, `file`), if any.
    pub fn find(&self, fd: i32, file: &FileRef) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.fd == fd && e.file.as_ptr() == file_key(file))
    }

    /// EPOLL_CTL_ADD (ep_insert()), the caller having checked for a duplicate.
    pub fn add(&mut self, fd: i32, file: &FileRef, events: u32, data: u64) {
        self.entries.push(Entry {
            fd,
            file: Rc::downgrade(file),
            events: events | EPOLLERR | EPOLLHUP,
            data,
            seen: None,
            disabled: false,
        });
    }

    /// EPOLL_CTL_MOD (ep_modify()): new events and data, re-armed.
    pub fn modify(&mut self, i: usize, events: u32, data: u64) {
        let e = &mut self.entries[i];
        e.events = events | EPOLLERR | EPOLLHUP;
        e.data = data;
        e.seen = None;
        e.disabled = false;
    }

    /// Collects up to `max` (events, data) pairs ready now, `state` polling
    /// each live description. With `consume` false nothing is recorded
    /// (the epoll file's own poll: is anything ready?).
    pub fn collect(
        &mut self,
        max: usize,
        consume: bool,
        state: &mut dyn FnMut(&FileRef) -> PollState,
    ) -> Vec<(u32, u64)> {
        self.prune();
        let mut out = Vec::new();
        let mut reported = Vec::new();
        for (i, e) in self.entries.iter_mut().enumerate() {
            if out.len() >= max {
                break;
            }
            let Some(file) = e.file.upgrade() else {
                continue;
            };
            if let Some(ev) = e.check(state(&file), consume) {
                out.push((ev, e.data));
                if e.events & (EPOLLET | EPOLLONESHOT) == 0 {
                    reported.push(i);
                }
            }
        }
        if consume && !reported.is_empty() {
            // Level-triggered entries reported go to the back (ep_send_events()).
            let mut moved = Vec::new();
            for &i in reported.iter().rev() {
                moved.push(self.entries.remove(i));
            }
            moved.reverse();
            self.entries.extend(moved);
        }
        out
    }

    /// The epoll instances registered in this one, live.
    pub fn children(&self) -> Vec<Rc<RefCell<Epoll>>> {
        self.entries
            .iter()
            .filter_map(|e| e.file.upgrade())
            .filter_map(|f| match &f.borrow().object {
                Object::Epoll(ep) => Some(ep.clone()),
                _ => None,
            })
            .collect()
    }
}

/// How many levels of epoll instances lie below `ep` (0: none), or None if
/// `target` is among them or the count passes MAX_NESTS (ep_loop_check()).
pub fn depth_below(
    ep: &Rc<RefCell<Epoll>>,
    target: &Rc<RefCell<Epoll>>,
    level: u32,
) -> Option<u32> {
    if Rc::ptr_eq(ep, target) || level > MAX_NESTS {
        return None;
    }
    let mut deepest = 0;
    for child in ep.borrow().children() {
        deepest = deepest.max(1 + depth_below(&child, target, level + 1)?);
    }
    Some(deepest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(mask: u16, rseq: u64) -> PollState {
        PollState {
            mask,
            rseq,
            wseq: 0,
        }
    }

    #[test]
    fn level_reports_while_ready_edge_once_per_wakeup_oneshot_once() {
        let f = OpenFile::new(Object::Null, 2, "x");
        let mut ep = Epoll::default();
        ep.add(3, &f, EPOLLIN, 7);
        ep.add(4, &f, EPOLLIN | EPOLLET, 8);
        ep.add(5, &f, EPOLLIN | EPOLLONESHOT, 9);
        let mut s = state(1, 1);
        let mut poll = |_: &FileRef| s;
        let got = ep.collect(10, true, &mut poll);
        assert_eq!(got, vec![(1, 7), (1, 8), (1, 9)]);
        let got = ep.collect(10, true, &mut poll);
        assert_eq!(got, vec![(1, 7)], "only level-triggered stays ready");
        s = state(1, 2);
        let mut poll = |_: &FileRef| s;
        let got = ep.collect(10, true, &mut poll);
        assert_eq!(got.len(), 2, "a new wakeup re-reports the edge entry");
        let i = ep.find(5, &f).unwrap();
        ep.modify(i, EPOLLIN | EPOLLONESHOT, 10);
        assert!(ep.collect(10, false, &mut poll).contains(&(1, 10)));
        drop(f);
        assert!(
            ep.collect(10, true, &mut poll).is_empty(),
            "closed for good"
        );
        assert!(ep.entries.is_empty());
    }

    #[test]
    fn small_maxevents_rotates_through_ready_entries() {
        let files: Vec<FileRef> = (0..3)
            .map(|_| OpenFile::new(Object::Null, 2, "x"))
            .collect();
        let mut ep = Epoll::default();
        for (i, f) in files.iter().enumerate() {
            ep.add(i as i32, f, EPOLLIN, i as u64);
        }
        let mut poll = |_: &FileRef| state(1, 0);
        assert_eq!(ep.collect(2, true, &mut poll), vec![(1, 0), (1, 1)]);
        assert_eq!(ep.collect(2, true, &mut poll), vec![(1, 2), (1, 0)]);
    }
}
