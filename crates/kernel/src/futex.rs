//! Futex wait queues (kernel/futex/).
//!
//! There is no queue object: a waiting thread carries its [`FutexWait`]
//! (the key it waits on, its bitset, and a sequence number that orders the
//! waiters first come, first woken, as Linux's hash-bucket lists do), and
//! waking scans the threads. The waker writes the woken thread's return
//! value (0) and clears its wait, which makes it runnable again.

use std::collections::BTreeMap;

use cowix_mm::{Access, AddressSpace, PhysMem, PAGE_SIZE};

use crate::process::{Process, Thread};

/// What a futex word is identified by (futex/core.c: get_futex_key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FutexKey {
    /// A private futex, or any word in private memory: the address space
    /// (`Mm::id`: Linux's key.private.mm, shared by a group's threads and
    /// by processes cloned with CLONE_VM) and the virtual address.
    Private { mm: usize, addr: u64 },
    /// A word in a MAP_SHARED mapping without FUTEX_PRIVATE_FLAG: the frame
    /// and offset, so processes mapping the page at different addresses
    /// meet (Linux keys it by inode and page index; one frame backs a
    /// shared page for as long as it is mapped).
    Shared { frame: u32, offset: u64 },
}

impl FutexKey {
    /// The key for the word at `addr` in `mm`, named `mm_id`; `private`
    /// is FUTEX_PRIVATE_FLAG. The page is faulted in if need be (a shared
    /// key needs its frame). None if `addr` is not mapped.
    pub fn new(
        mm: &mut AddressSpace,
        pm: &mut PhysMem,
        mm_id: usize,
        addr: u64,
        private: bool,
    ) -> Option<FutexKey> {
        let shared = !private && mm.find_vma(addr).is_some_and(|v| v.shared);
        if !shared {
            return Some(FutexKey::Private { mm: mm_id, addr });
        }
        let frame = match mm.translate(pm, addr, Access::Read) {
            Some(f) => f,
            None => {
                mm.handle_fault(pm, addr, Access::Read).ok()?;
                mm.translate(pm, addr, Access::Read)?
            }
        };
        Some(FutexKey::Shared {
            frame: frame.index(),
            offset: addr % PAGE_SIZE,
        })
    }
}

/// A thread parked in FUTEX_WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FutexWait {
    pub key: FutexKey,
    /// FUTEX_WAIT_BITSET's mask (all ones for FUTEX_WAIT).
    pub bitset: u32,
    /// Order of arrival: lower is woken first.
    pub seq: u64,
}

/// Every thread waiting on `key`, oldest first, as (tgid, tid). The running
/// thread is never waiting; a private key is only looked for among the
/// users of its address space (`p`, whose key it is, and CLONE_VM kin).
fn waiters(p: &Process, procs: &BTreeMap<i32, Process>, key: FutexKey) -> Vec<(u64, i32, i32)> {
    let mut found: Vec<(u64, i32, i32)> = Vec::new();
    let mut scan = |q: &Process| {
        for t in q.threads.values() {
            if let Some(w) = t.futex.filter(|w| w.key == key) {
                found.push((w.seq, q.pid, t.tid));
            }
        }
    };
    scan(p);
    let meets = |q: &&Process| match key {
        FutexKey::Shared { .. } => true,
        FutexKey::Private { mm, .. } => q.mm.id() == mm,
    };
    procs.values().filter(meets).for_each(scan);
    found.sort_unstable();
    found
}

fn thread_mut<'a>(
    p: &'a mut Process,
    procs: &'a mut BTreeMap<i32, Process>,
    tgid: i32,
    tid: i32,
) -> &'a mut Thread {
    let q = if tgid == p.pid {
        p
    } else {
        procs
            .get_mut(&tgid)
            .expect("futex: waiter's process vanished")
    };
    q.threads
        .get_mut(&tid)
        .expect("futex: waiter's thread vanished")
}

/// Wakes up to `n` threads waiting on `key` whose bitset meets `bitset`
/// (futex_wake); each returns 0 from its FUTEX_WAIT. As in Linux, the
/// count is checked after a wake, so `n` = 0 wakes one. Returns how many woke.
pub fn wake(
    p: &mut Process,
    procs: &mut BTreeMap<i32, Process>,
    key: FutexKey,
    n: u32,
    bitset: u32,
) -> u32 {
    let mut woken = 0;
    for (_, tgid, tid) in waiters(p, procs, key) {
        let t = thread_mut(p, procs, tgid, tid);
        let w = t.futex.expect("futex::wake: not waiting");
        if w.bitset & bitset == 0 {
            continue;
        }
        wake_thread(t);
        woken += 1;
        if woken >= n {
            break;
        }
    }
    woken
}

fn wake_thread(t: &mut Thread) {
    t.futex = None;
    t.sleep_until = None;
    t.cpu.x[10] = 0;
}

/// Wakes exactly `n_wake` waiters of `from` (fewer if there are fewer),
/// then moves up to `n_move` of the rest to wait on `to` (futex_requeue).
/// Returns woken + moved.
pub fn requeue(
    p: &mut Process,
    procs: &mut BTreeMap<i32, Process>,
    from: FutexKey,
    to: FutexKey,
    n_wake: u32,
    n_move: u32,
) -> u32 {
    let (mut woken, mut moved) = (0, 0);
    for (_, tgid, tid) in waiters(p, procs, from) {
        let t = thread_mut(p, procs, tgid, tid);
        if woken < n_wake {
            wake_thread(t);
            woken += 1;
        } else if moved < n_move {
            if let Some(w) = t.futex.as_mut() {
                w.key = to;
            }
            moved += 1;
        } else {
            break;
        }
    }
    woken + moved
}

/// A futex word's owner-died bit, waiters bit and tid field (futex.h).
const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// How many robust-list entries are looked at (ROBUST_LIST_LIMIT).
const ROBUST_LIST_LIMIT: usize = 2048;

fn read_u64(mm: &mut AddressSpace, pm: &mut PhysMem, addr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    mm.read_bytes(pm, addr, &mut b).ok()?;
    Some(u64::from_le_bytes(b))
}

/// handle_futex_death: the word at `addr` held by dying thread `tid` gets
/// FUTEX_OWNER_DIED (keeping FUTEX_WAITERS) and one waiter is woken, so a
/// robust mutex's next locker gets EOWNERDEAD. `pending` is the
/// list_op_pending entry, woken even if unowned (the thread died between
/// taking the lock and listing it). PI futexes are not supported.
fn futex_death(
    p: &mut Process,
    procs: &mut BTreeMap<i32, Process>,
    pm: &mut PhysMem,
    addr: u64,
    tid: i32,
    pending: bool,
) {
    let mut b = [0u8; 4];
    if addr % 4 != 0 || p.mm.get_mut().read_bytes(pm, addr, &mut b).is_err() {
        return;
    }
    let val = u32::from_le_bytes(b);
    let key = FutexKey::new(&mut p.mm.get_mut(), pm, p.mm.id(), addr, false);
    if pending && val == 0 {
        if let Some(k) = key {
            wake(p, procs, k, 1, u32::MAX);
        }
        return;
    }
    if val & FUTEX_TID_MASK != tid as u32 {
        return;
    }
    let new = (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    if p.mm
        .get_mut()
        .write_bytes(pm, addr, &new.to_le_bytes())
        .is_err()
    {
        return;
    }
    if val & FUTEX_WAITERS != 0 {
        if let Some(k) = key {
            wake(p, procs, k, 1, u32::MAX);
        }
    }
}

/// exit_robust_list (kernel/futex/core.c): walks thread `t`'s robust list
/// (`struct robust_list_head`: next, futex_offset, list_op_pending) and
/// releases every futex it still holds. A bad list is silently left.
pub fn exit_robust_list(
    p: &mut Process,
    procs: &mut BTreeMap<i32, Process>,
    pm: &mut PhysMem,
    t: &Thread,
) {
    let (head, _) = t.robust_list;
    if head == 0 {
        return;
    }
    let Some(mut entry) = read_u64(&mut p.mm.get_mut(), pm, head) else {
        return;
    };
    let Some(offset) = read_u64(&mut p.mm.get_mut(), pm, head + 8) else {
        return;
    };
    let Some(pending) = read_u64(&mut p.mm.get_mut(), pm, head + 16) else {
        return;
    };
    let pending = pending & !1;
    for _ in 0..ROBUST_LIST_LIMIT {
        if entry & !1 == head || entry == 0 {
            break;
        }
        let e = entry & !1;
        let next = read_u64(&mut p.mm.get_mut(), pm, e);
        if e != pending && entry & 1 == 0 {
            futex_death(p, procs, pm, e.wrapping_add(offset), t.tid, false);
        }
        match next {
            Some(n) => entry = n,
            None => return,
        }
    }
    if pending != 0 {
        futex_death(p, procs, pm, pending.wrapping_add(offset), t.tid, true);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fd::FdTable;
    use crate::process::{default_rlimits, ArgArea, Creds};
    use crate::signal::{SignalState, ThreadSignals};
    use crate::uaccess::Tlb;
    use cowix_isa::Cpu;

    /// A process `pid` with threads `tids`, none waiting.
    pub(crate) fn group(pm: &mut PhysMem, pid: i32, tids: &[i32]) -> Process {
        let threads = tids
            .iter()
            .map(|&tid| {
                let t = Thread::new(
                    tid,
                    Cpu::new(),
                    Tlb::new(pm.zero_frame()),
                    ThreadSignals::default(),
                    "t".into(),
                );
                (tid, Box::new(t))
            })
            .collect();
        Process {
            pid,
            ppid: 0,
            threads,
            mm: crate::process::Mm::new(AddressSpace::new(pm).unwrap()),
            fds: FdTable::default(),
            fs: crate::process::FsInfo::new("/".into(), 0o22),
            comm: "t".into(),
            exe: "/t".into(),
            args: ArgArea::default(),
            auxv: Vec::new(),
            creds: Creds {
                uid: 0,
                euid: 0,
                gid: 0,
                egid: 0,
            },
            groups: Vec::new(),
            nice: 0,
            rlimits: default_rlimits(),
            signals: SignalState::default(),
            pgid: pid,
            sid: pid,
            ctty: false,
            exit_signal: 17,
            vfork_parent: None,
            exit: None,
            leader_exit: None,
            retired: 0,
            vdso: 0,
            fatal: None,
            sampling: Default::default(),
            randomize: false,
            job: Default::default(),
            timers: Default::default(),
        }
    }

    fn park(p: &mut Process, tid: i32, key: FutexKey, bitset: u32, seq: u64) {
        let t = p.threads.get_mut(&tid).unwrap();
        t.futex = Some(FutexWait { key, bitset, seq });
        t.cpu.x[10] = 0xdead;
    }

    fn waiting(p: &Process) -> Vec<i32> {
        let mut v: Vec<(u64, i32)> = p
            .threads
            .values()
            .filter_map(|t| t.futex.map(|w| (w.seq, t.tid)))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, tid)| tid).collect()
    }

    #[test]
    fn wake_takes_waiters_in_arrival_order_and_honours_bitsets() {
        let mut pm = PhysMem::new(64);
        let mut p = group(&mut pm, 1, &[1, 2, 3, 4]);
        let mut procs = BTreeMap::new();
        let k = FutexKey::Private {
            mm: p.mm.id(),
            addr: 0x1000,
        };
        let other = FutexKey::Private {
            mm: p.mm.id(),
            addr: 0x1004,
        };
        park(&mut p, 3, k, u32::MAX, 1);
        park(&mut p, 2, k, 0b10, 2);
        park(&mut p, 4, k, u32::MAX, 3);
        park(&mut p, 1, other, u32::MAX, 4);
        // The oldest waiter first; a0 becomes 0 and the wait is gone.
        assert_eq!(wake(&mut p, &mut procs, k, 1, u32::MAX), 1);
        assert_eq!(p.threads[&3].cpu.x[10], 0);
        assert_eq!(waiting(&p), vec![2, 4, 1]);
        // A bitset that tid 2 does not share passes over it.
        assert_eq!(wake(&mut p, &mut procs, k, 1, 0b01), 1);
        assert_eq!(waiting(&p), vec![2, 1]);
        // A count of 0 still wakes one, as Linux's futex_wake.
        assert_eq!(wake(&mut p, &mut procs, k, 0, u32::MAX), 1);
        assert_eq!(waiting(&p), vec![1]);
        assert_eq!(wake(&mut p, &mut procs, k, 5, u32::MAX), 0);
        assert_eq!(p.threads[&1].cpu.x[10], 0xdead, "other key untouched");
        p.mm.put(&mut pm);
    }

    #[test]
    fn requeue_wakes_exactly_then_moves_the_rest() {
        let mut pm = PhysMem::new(64);
        let mut p = group(&mut pm, 1, &[1, 2, 3, 4, 5]);
        let mut procs = BTreeMap::new();
        let from = FutexKey::Private {
            mm: p.mm.id(),
            addr: 0x2000,
        };
        let to = FutexKey::Private {
            mm: p.mm.id(),
            addr: 0x3000,
        };
        for (seq, tid) in [2, 3, 4, 5].into_iter().enumerate() {
            park(&mut p, tid, from, u32::MAX, seq as u64);
        }
        // Wake none (exactly), move two: tids 2 and 3 now wait on `to`.
        assert_eq!(requeue(&mut p, &mut procs, from, to, 0, 2), 2);
        assert_eq!(waiting(&p), vec![2, 3, 4, 5]);
        assert_eq!(p.threads[&2].futex.unwrap().key, to);
        assert_eq!(p.threads[&4].futex.unwrap().key, from);
        // Wake one of `from`, move the other.
        assert_eq!(requeue(&mut p, &mut procs, from, to, 1, 5), 2);
        assert_eq!(waiting(&p), vec![2, 3, 5]);
        assert_eq!(wake(&mut p, &mut procs, to, u32::MAX, u32::MAX), 3);
        assert!(waiting(&p).is_empty());
        p.mm.put(&mut pm);
    }
}
