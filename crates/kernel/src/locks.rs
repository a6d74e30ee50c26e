//! Byte-range file locks: fcntl's F_SETLK/F_SETLKW/F_GETLK (POSIX record
//! locks, owned by a process) and F_OFD_* (open file description locks,
//! owned by the open file description) — fs/locks.c.
//!
//! Every guest process runs inside one host process, so host locks would
//! never conflict: the table is cowix's own, shared by all processes and
//! keyed by the file's identity (host dev, inode).
//!
//! Ownership ends as in Linux: a process's POSIX locks on a file go when it
//! closes *any* descriptor of that file ([`LockTable::release_posix`], called
//! by close and dup2-over) or ends (its locks are dropped the next time the
//! table is consulted: [`LockTable::purge`]); an OFD lock goes with the last
//! reference to its open file description (it holds only a `Weak`).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use crate::fd::OpenFile;

/// Lock kinds as `l_type` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
}

/// Who holds a lock.
#[derive(Debug, Clone)]
pub enum Owner {
    /// A POSIX record lock: the process (thread group) id.
    Posix(i32),
    /// An OFD lock: the open file description.
    Ofd(Weak<RefCell<OpenFile>>),
}

impl Owner {
    fn same(&self, other: &Owner) -> bool {
        match (self, other) {
            (Owner::Posix(a), Owner::Posix(b)) => a == b,
            (Owner::Ofd(a), Owner::Ofd(b)) => a.ptr_eq(b),
            _ => false,
        }
    }

    /// The `l_pid` F_GETLK reports: the owner's pid, -1 for OFD locks.
    fn pid(&self) -> i32 {
        match self {
            Owner::Posix(pid) => *pid,
            Owner::Ofd(_) => -1,
        }
    }
}

/// One held lock on `[start, end]` (inclusive; `end == u64::MAX` is "to
/// the end of the file, however it grows").
#[derive(Debug, Clone)]
pub struct Lock {
    pub file: (u64, u64),
    pub owner: Owner,
    pub kind: Kind,
    pub start: u64,
    pub end: u64,
}

/// What F_GETLK reports about a conflicting lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    pub kind: Kind,
    pub start: u64,
    /// Inclusive end, `u64::MAX` for "to end of file".
    pub end: u64,
    pub pid: i32,
}

/// Every lock of every file.
#[derive(Debug, Default)]
pub struct LockTable {
    locks: Vec<Lock>,
}

impl LockTable {
    /// Drops locks whose owner is gone: an ended process (`alive` says
    /// which pids still exist) or a closed open file description.
    pub fn purge(&mut self, alive: &dyn Fn(i32) -> bool) {
        self.locks.retain(|l| match &l.owner {
            Owner::Posix(pid) => alive(*pid),
            Owner::Ofd(w) => w.strong_count() > 0,
        });
    }

    /// The first lock of another owner that conflicts with taking `kind` on
    /// `[start, end]` of `file` (posix_test_lock()).
    pub fn conflict(
        &self,
        file: (u64, u64),
        owner: &Owner,
        kind: Kind,
        start: u64,
        end: u64,
    ) -> Option<Conflict> {
        self.locks
            .iter()
            .find(|l| {
                l.file == file
                    && !l.owner.same(owner)
                    && l.start <= end
                    && start <= l.end
                    && (kind == Kind::Write || l.kind == Kind::Write)
            })
            .map(|l| Conflict {
                kind: l.kind,
                start: l.start,
                end: l.end,
                pid: l.owner.pid(),
            })
    }

    /// Takes `kind` on `[start, end]`, or releases the range when `kind` is
    /// `None` (F_UNLCK). The caller checked for conflicts. The owner's own
    /// locks in the range are replaced, split at its edges, and neighbours
    /// of the same kind merged (posix_lock_inode()).
    pub fn set(
        &mut self,
        file: (u64, u64),
        owner: Owner,
        kind: Option<Kind>,
        start: u64,
        end: u64,
    ) {
        let mut kept = Vec::with_capacity(self.locks.len() + 2);
        let (mut start, mut end) = (start, end);
        for l in self.locks.drain(..) {
            if l.file != file || !l.owner.same(&owner) {
                kept.push(l);
                continue;
            }
            let touches = l.start <= end.saturating_add(1) && start <= l.end.saturating_add(1);
            if Some(l.kind) == kind && touches {
                // Same kind, overlapping or adjacent: absorbed.
                start = start.min(l.start);
                end = end.max(l.end);
                continue;
            }
            if l.end < start || l.start > end {
                kept.push(l);
                continue;
            }
            // Overlaps with another kind (or an unlock): keep what sticks out.
            if l.start < start {
                kept.push(Lock {
                    end: start - 1,
                    ..l.clone()
                });
            }
            if l.end > end {
                kept.push(Lock {
                    start: end + 1,
                    ..l
                });
            }
        }
        if let Some(kind) = kind {
            kept.push(Lock {
                file,
                owner,
                kind,
                start,
                end,
            });
        }
        self.locks = kept;
    }

    /// A process closed a descriptor of `file`: all its POSIX locks on the
    /// file go (locks_remove_posix()).
    pub fn release_posix(&mut self, file: (u64, u64), pid: i32) {
        self.locks
            .retain(|l| !(l.file == file && matches!(l.owner, Owner::Posix(p) if p == pid)));
    }

    /// The locks held now (for tests and /proc/locks).
    pub fn locks(&self) -> &[Lock] {
        &self.locks
    }
}

/// The owner for an OFD lock taken through `file`.
pub fn ofd_owner(file: &Rc<RefCell<OpenFile>>) -> Owner {
    Owner::Ofd(Rc::downgrade(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: (u64, u64) = (1, 2);

    fn ranges(t: &LockTable, pid: i32) -> Vec<(Kind, u64, u64)> {
        let mut v: Vec<_> = t
            .locks()
            .iter()
            .filter(|l| matches!(l.owner, Owner::Posix(p) if p == pid))
            .map(|l| (l.kind, l.start, l.end))
            .collect();
        v.sort_by_key(|r| r.1);
        v
    }

    #[test]
    fn readers_share_writers_exclude() {
        let mut t = LockTable::default();
        t.set(F, Owner::Posix(1), Some(Kind::Read), 0, 99);
        assert_eq!(t.conflict(F, &Owner::Posix(2), Kind::Read, 50, 60), None);
        let c = t
            .conflict(F, &Owner::Posix(2), Kind::Write, 50, 60)
            .unwrap();
        assert_eq!((c.kind, c.start, c.end, c.pid), (Kind::Read, 0, 99, 1));
        // Its own locks never conflict with the owner.
        assert_eq!(t.conflict(F, &Owner::Posix(1), Kind::Write, 0, 99), None);
        // Another file is another lock space.
        assert_eq!(
            t.conflict((1, 3), &Owner::Posix(2), Kind::Write, 0, 9),
            None
        );
    }

    #[test]
    fn relocking_splits_and_merges_like_linux() {
        let mut t = LockTable::default();
        t.set(F, Owner::Posix(1), Some(Kind::Read), 0, 99);
        t.set(F, Owner::Posix(1), Some(Kind::Write), 40, 59);
        assert_eq!(
            ranges(&t, 1),
            vec![
                (Kind::Read, 0, 39),
                (Kind::Write, 40, 59),
                (Kind::Read, 60, 99)
            ]
        );
        t.set(F, Owner::Posix(1), Some(Kind::Read), 40, 59);
        assert_eq!(ranges(&t, 1), vec![(Kind::Read, 0, 99)]);
        t.set(F, Owner::Posix(1), None, 10, 19);
        assert_eq!(
            ranges(&t, 1),
            vec![(Kind::Read, 0, 9), (Kind::Read, 20, 99)]
        );
        t.set(F, Owner::Posix(1), Some(Kind::Read), 100, u64::MAX);
        assert_eq!(
            ranges(&t, 1),
            vec![(Kind::Read, 0, 9), (Kind::Read, 20, u64::MAX)]
        );
    }

    #[test]
    fn closing_any_descriptor_or_ending_releases_posix_locks() {
        let mut t = LockTable::default();
        t.set(F, Owner::Posix(1), Some(Kind::Write), 0, 9);
        t.set(F, Owner::Posix(2), Some(Kind::Write), 10, 19);
        t.release_posix(F, 1);
        assert_eq!(ranges(&t, 1), vec![]);
        t.purge(&|pid| pid != 2);
        assert!(t.locks().is_empty());
    }

    #[test]
    fn ofd_locks_belong_to_the_description() {
        let mut t = LockTable::default();
        let a = OpenFile::new(crate::fd::Object::Null, 2, "/x");
        let b = OpenFile::new(crate::fd::Object::Null, 2, "/x");
        t.set(F, ofd_owner(&a), Some(Kind::Write), 0, u64::MAX);
        let c = t.conflict(F, &ofd_owner(&b), Kind::Read, 5, 5).unwrap();
        assert_eq!(c.pid, -1);
        // Same process, other description: OFD locks conflict where POSIX
        // locks of one process never would.
        assert!(t.conflict(F, &ofd_owner(&a), Kind::Write, 0, 9).is_none());
        drop(a);
        t.purge(&|_| true);
        assert!(t.conflict(F, &ofd_owner(&b), Kind::Write, 0, 9).is_none());
    }
}
