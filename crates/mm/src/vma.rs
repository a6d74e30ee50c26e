//! Virtual memory areas: what the program asked for (gVisor's `vma.go`).
//!
//! A VMA is *intent*: a range, its protections, private or shared, and what
//! backs it. Frames and PTEs (the *backing*) are filled in lazily by faults
//! and must always agree with the intent (see `invariants.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::rc::Rc;

use crate::{is_page_aligned, PAGE_SIZE, STACK_GUARD_GAP, USER_TOP};

/// A memory access, as the CPU reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
    Execute,
}

/// Protections of a mapping (`PROT_READ | PROT_WRITE | PROT_EXEC`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    pub const NONE: Prot = Prot {
        read: false,
        write: false,
        exec: false,
    };
    pub const READ: Prot = Prot {
        read: true,
        write: false,
        exec: false,
    };
    pub const READ_WRITE: Prot = Prot {
        read: true,
        write: true,
        exec: false,
    };
    pub const READ_EXEC: Prot = Prot {
        read: true,
        write: false,
        exec: true,
    };
    pub const EXEC: Prot = Prot {
        read: false,
        write: false,
        exec: true,
    };
    pub const ALL: Prot = Prot {
        read: true,
        write: true,
        exec: true,
    };

    /// From the Linux `PROT_*` bits (1 read, 2 write, 4 exec); other bits ignored.
    pub fn from_bits(bits: u32) -> Prot {
        Prot {
            read: bits & 1 != 0,
            write: bits & 2 != 0,
            exec: bits & 4 != 0,
        }
    }

    /// True for `PROT_NONE`.
    pub fn is_none(self) -> bool {
        !(self.read || self.write || self.exec)
    }

    /// Whether a mapping with these protections permits `access`, as
    /// arch/riscv/mm/fault.c:access_error() decides: execute needs exec,
    /// write needs write, read needs read *or write* (riscv Linux maps
    /// write-only pages readable, since Sv39 reserves W without R).
    /// Exec-only pages are not readable.
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.read || self.write,
            Access::Write => self.write,
            Access::Execute => self.exec,
        }
    }
}

/// A file that can back mappings. Implemented by the kernel for host files.
#[allow(clippy::len_without_is_empty)] // `len` is fallible I/O, not a container size
pub trait FileSource: fmt::Debug {
    /// Identity for the page cache (e.g. host dev+inode); equal ids = same
    /// file contents. The device [`SHARED_ANON_DEV`](crate::SHARED_ANON_DEV)
    /// is reserved for shared anonymous memory.
    fn id(&self) -> (u64, u64);
    /// Read up to buf.len() bytes at offset; short read at EOF (remaining
    /// bytes left as the caller zeroed them).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize>;
    /// Current length in bytes.
    fn len(&self) -> std::io::Result<u64>;
    /// Writes `buf` at `offset` (write-back of dirty shared pages); returns
    /// the bytes written. The default refuses: a source that cannot be
    /// written keeps its dirty pages in memory.
    fn write_at(&self, _offset: u64, _buf: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

/// What backs a VMA's pages.
#[derive(Clone, Debug)]
pub enum Backing {
    /// Zero-filled memory. A *shared* anonymous mapping is turned into a
    /// `File` backing on a shared anonymous object by `mmap` (see
    /// `page_cache.rs`), like Linux's shmem_zero_setup().
    Anonymous,
    /// A file, from byte `offset` (page aligned) at the VMA's start.
    File {
        file: Rc<dyn FileSource>,
        offset: u64,
    },
}

impl Backing {
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Backing::Anonymous)
    }
}

/// The name `/proc/pid/maps` shows for a VMA.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VmaName {
    /// No name (anonymous mappings).
    Anonymous,
    /// `[heap]` (the brk area).
    Heap,
    /// `[stack]`.
    Stack,
    /// A file path, or any other name to print verbatim (`[vdso]`, ...).
    Path(String),
}

/// One virtual memory area: `[start, end)`, page aligned, non-empty.
#[derive(Clone, Debug)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: Prot,
    /// `MAP_SHARED`: writes go to the backing object and are seen by every
    /// mapping of it; otherwise writes are private copies.
    pub shared: bool,
    pub backing: Backing,
    /// `MAP_GROWSDOWN`: a fault just below extends the VMA down (stacks).
    pub grows_down: bool,
    pub name: VmaName,
    /// What fork does with this VMA (`MADV_DONTFORK`, `MADV_WIPEONFORK`).
    pub on_fork: OnFork,
}

/// What fork gives the child for a VMA (Linux's `VM_DONTCOPY` and
/// `VM_WIPEONFORK` flags, set by madvise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnFork {
    /// The child gets the VMA and its contents (copied, COW or shared).
    #[default]
    Copy,
    /// `MADV_DONTFORK` (`VM_DONTCOPY`): the child does not get the VMA.
    Skip,
    /// `MADV_WIPEONFORK` (`VM_WIPEONFORK`): the child gets the VMA but none
    /// of its pages, so it reads zeros (private anonymous memory only). The
    /// child's VMA keeps the flag, as kernel/fork.c:dup_mmap() leaves it.
    Wipe,
    /// Both flags (`MADV_WIPEONFORK`, then `MADV_DONTFORK`): the child does
    /// not get the VMA; `MADV_DOFORK` leaves `Wipe`.
    SkipWipe,
}

impl OnFork {
    /// Whether the child of a fork gets this VMA.
    pub fn in_child(self) -> bool {
        matches!(self, OnFork::Copy | OnFork::Wipe)
    }
}

impl Vma {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// The backing file's id and the page index backing page `va` (`None`
    /// for anonymous memory): the page-cache key of the page.
    pub fn file_page(&self, va: u64) -> Option<((u64, u64), u64)> {
        match &self.backing {
            Backing::Anonymous => None,
            Backing::File { file, offset } => {
                Some((file.id(), (offset + (va - self.start)) / PAGE_SIZE))
            }
        }
    }

    /// The lowest address a new mapping may end at below this VMA: the
    /// start, less the guard gap for a stack (mm.h:vm_start_gap()).
    pub fn start_gap(&self) -> u64 {
        if self.grows_down {
            self.start.saturating_sub(STACK_GUARD_GAP)
        } else {
            self.start
        }
    }

    /// Splits at `addr` (strictly inside): `self` keeps `[start, addr)`, the
    /// returned VMA is `[addr, end)` with its file offset advanced.
    fn split_off(&mut self, addr: u64) -> Vma {
        assert!(
            self.start < addr && addr < self.end && is_page_aligned(addr),
            "Vma::split_off: bad split point {addr:#x}"
        );
        let mut upper = self.clone();
        upper.start = addr;
        if let Backing::File { offset, .. } = &mut upper.backing {
            *offset += addr - self.start;
        }
        self.end = addr;
        upper
    }

    /// Whether `next` (which must start where `self` ends) can be merged
    /// into `self`: same protections, sharing, growth, name and a backing
    /// that continues (mm/vma.c:is_mergeable_vma(), can_vma_merge_after()).
    pub(crate) fn can_merge_with(&self, next: &Vma) -> bool {
        if self.end != next.start
            || self.prot != next.prot
            || self.shared != next.shared
            || self.grows_down != next.grows_down
            || self.name != next.name
            || self.on_fork != next.on_fork
        {
            return false;
        }
        match (&self.backing, &next.backing) {
            (Backing::Anonymous, Backing::Anonymous) => true,
            (
                Backing::File {
                    file: a,
                    offset: oa,
                },
                Backing::File {
                    file: b,
                    offset: ob,
                },
            ) => a.id() == b.id() && oa + self.len() == *ob,
            _ => false,
        }
    }
}

/// The VMAs of one address space, keyed by start, never overlapping, and
/// never leaving two mergeable VMAs adjacent.
#[derive(Clone, Debug, Default)]
pub(crate) struct VmaSet {
    map: BTreeMap<u64, Vma>,
}

impl VmaSet {
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Vma> {
        self.map.values()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The VMA containing `addr`.
    pub fn find(&self, addr: u64) -> Option<&Vma> {
        self.map
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| v.contains(addr))
    }

    /// The lowest VMA starting above `addr`.
    pub fn next_above(&self, addr: u64) -> Option<&Vma> {
        self.map
            .range((Bound::Excluded(addr), Bound::Unbounded))
            .next()
            .map(|(_, v)| v)
    }

    /// The lowest VMA ending above `addr` (containing it or above it), like
    /// Linux's find_vma().
    pub fn first_ending_above(&self, addr: u64) -> Option<&Vma> {
        self.find(addr).or_else(|| self.next_above(addr))
    }

    /// The highest VMA ending at or below `addr`.
    pub fn prev_below(&self, addr: u64) -> Option<&Vma> {
        self.map
            .range(..=addr)
            .rev()
            .map(|(_, v)| v)
            .find(|v| v.end <= addr)
    }

    /// VMAs intersecting `[start, end)`, in order.
    pub fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = &Vma> {
        let first = self.find(start).map_or(start, |v| v.start);
        self.map.range(first..end).map(|(_, v)| v)
    }

    /// True if any VMA intersects `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.overlapping(start, end).next().is_some()
    }

    /// True if VMAs cover every page of `[start, end)`.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        for v in self.overlapping(start, end) {
            if v.start > at {
                return false;
            }
            at = v.end;
            if at >= end {
                return true;
            }
        }
        at >= end
    }

    /// Splits the VMA strictly containing `addr` (if any) in two at `addr`.
    pub fn split_at(&mut self, addr: u64) {
        let Some(start) = self.find(addr).map(|v| v.start) else {
            return;
        };
        if start == addr {
            return;
        }
        let vma = self.map.get_mut(&start).expect("split_at: vma vanished");
        let upper = vma.split_off(addr);
        self.map.insert(addr, upper);
    }

    /// Removes `[start, end)` from the set, splitting VMAs at the edges;
    /// returns the removed pieces.
    pub fn remove_range(&mut self, start: u64, end: u64) -> Vec<Vma> {
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.map.range(start..end).map(|(&k, _)| k).collect();
        keys.into_iter()
            .map(|k| self.map.remove(&k).expect("remove_range: vma vanished"))
            .collect()
    }

    /// Inserts a VMA into a hole and merges it with compatible neighbours.
    /// Panics if it overlaps (the caller must make room first).
    pub fn insert(&mut self, vma: Vma) {
        assert!(
            vma.start < vma.end
                && is_page_aligned(vma.start)
                && is_page_aligned(vma.end)
                && vma.end <= USER_TOP,
            "VmaSet::insert: bad range {:#x}..{:#x}",
            vma.start,
            vma.end
        );
        assert!(
            !self.overlaps(vma.start, vma.end),
            "VmaSet::insert: overlap at {:#x}..{:#x}",
            vma.start,
            vma.end
        );
        let (start, end) = (vma.start, vma.end);
        self.map.insert(start, vma);
        self.merge_range(start, end);
    }

    /// Applies `f` to every VMA lying inside `[start, end)` (the caller split
    /// at the edges first).
    pub fn update_range(&mut self, start: u64, end: u64, mut f: impl FnMut(&mut Vma)) {
        for (_, v) in self.map.range_mut(start..end) {
            assert!(
                v.end <= end,
                "update_range: vma {:#x}..{:#x} crosses the end",
                v.start,
                v.end
            );
            f(v);
        }
    }

    /// Merges compatible neighbours among the VMAs touching `[start, end]`
    /// (including the ones just outside each edge).
    pub fn merge_range(&mut self, start: u64, end: u64) {
        let lo = self
            .prev_below(start)
            .filter(|v| v.end == start)
            .map_or(start, |v| v.start);
        let Some(mut key) = self.first_ending_above(lo).map(|v| v.start) else {
            return;
        };
        loop {
            let cur = &self.map[&key];
            let cur_end = cur.end;
            if self
                .map
                .get(&cur_end)
                .is_some_and(|next| cur.can_merge_with(next))
            {
                let next = self
                    .map
                    .remove(&cur_end)
                    .expect("merge_range: next vanished");
                self.map
                    .get_mut(&key)
                    .expect("merge_range: cur vanished")
                    .end = next.end;
                continue;
            }
            if cur_end >= end {
                return;
            }
            match self.next_above(key) {
                Some(v) if v.start < end => key = v.start,
                _ => return,
            }
        }
    }

    /// Moves the start of the VMA starting at `old_start` down to `new_start`
    /// (stack growth). Precondition: `[new_start, old_start)` is free.
    pub fn grow_down(&mut self, old_start: u64, new_start: u64) {
        assert!(
            new_start < old_start && !self.overlaps(new_start, old_start),
            "grow_down: range not free"
        );
        let mut vma = self
            .map
            .remove(&old_start)
            .expect("grow_down: no vma at old start");
        vma.start = new_start;
        self.map.insert(new_start, vma);
        self.merge_range(new_start, new_start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(start: u64, end: u64, prot: Prot) -> Vma {
        Vma {
            start,
            end,
            prot,
            shared: false,
            backing: Backing::Anonymous,
            grows_down: false,
            name: VmaName::Anonymous,
            on_fork: OnFork::Copy,
        }
    }

    fn ranges(set: &VmaSet) -> Vec<(u64, u64)> {
        set.iter().map(|v| (v.start, v.end)).collect()
    }

    #[test]
    fn adjacent_compatible_vmas_merge() {
        let mut set = VmaSet::default();
        set.insert(anon(0x1000, 0x3000, Prot::READ_WRITE));
        set.insert(anon(0x5000, 0x6000, Prot::READ_WRITE));
        set.insert(anon(0x3000, 0x5000, Prot::READ_WRITE));
        assert_eq!(ranges(&set), [(0x1000, 0x6000)]);
        set.insert(anon(0x6000, 0x7000, Prot::READ));
        assert_eq!(ranges(&set), [(0x1000, 0x6000), (0x6000, 0x7000)]);
    }

    #[test]
    fn remove_middle_splits() {
        let mut set = VmaSet::default();
        set.insert(anon(0x1000, 0x9000, Prot::READ_WRITE));
        let removed = set.remove_range(0x3000, 0x5000);
        assert_eq!(removed.len(), 1);
        assert_eq!((removed[0].start, removed[0].end), (0x3000, 0x5000));
        assert_eq!(ranges(&set), [(0x1000, 0x3000), (0x5000, 0x9000)]);
        assert!(set.covers(0x1000, 0x3000));
        assert!(!set.covers(0x1000, 0x6000));
        assert!(set.overlaps(0x2000, 0x6000));
        assert!(!set.overlaps(0x3000, 0x5000));
    }

    #[derive(Debug)]
    struct Dummy;
    impl FileSource for Dummy {
        fn id(&self) -> (u64, u64) {
            (1, 2)
        }
        fn read_at(&self, _: u64, _: &mut [u8]) -> std::io::Result<usize> {
            Ok(0)
        }
        fn len(&self) -> std::io::Result<u64> {
            Ok(1 << 20)
        }
    }

    #[test]
    fn file_split_advances_offset_and_contiguous_pieces_remerge() {
        let file: Rc<dyn FileSource> = Rc::new(Dummy);
        let mut set = VmaSet::default();
        let mut v = anon(0x10000, 0x20000, Prot::READ);
        v.backing = Backing::File {
            file: file.clone(),
            offset: 0x3000,
        };
        set.insert(v);
        set.split_at(0x14000);
        let upper = set.find(0x14000).unwrap();
        assert!(matches!(
            upper.backing,
            Backing::File { offset: 0x7000, .. }
        ));
        assert_eq!(upper.file_page(0x15000), Some(((1, 2), 8)));
        set.update_range(0x10000, 0x14000, |v| v.prot = Prot::READ_EXEC);
        assert_eq!(set.len(), 2);
        set.update_range(0x10000, 0x14000, |v| v.prot = Prot::READ);
        set.merge_range(0x10000, 0x14000);
        assert_eq!(ranges(&set), [(0x10000, 0x20000)]);
    }

    #[test]
    fn lookups() {
        let mut set = VmaSet::default();
        set.insert(anon(0x1000, 0x2000, Prot::READ));
        set.insert(anon(0x4000, 0x5000, Prot::READ_WRITE));
        assert_eq!(set.find(0x1fff).map(|v| v.start), Some(0x1000));
        assert!(set.find(0x2000).is_none());
        assert_eq!(set.next_above(0x2000).map(|v| v.start), Some(0x4000));
        assert_eq!(set.prev_below(0x4000).map(|v| v.start), Some(0x1000));
        assert_eq!(
            set.first_ending_above(0x4800).map(|v| v.start),
            Some(0x4000)
        );
        assert!(set.first_ending_above(0x5000).is_none());
    }
}
