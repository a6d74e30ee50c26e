//! Swap, reclaim, write-back, mincore and smaps, told as scenarios and
//! checked with the whole-system invariants after each step.

mod common;

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use common::*;
use cowix_mm::pagetable::{self, Pte};
use cowix_mm::{
    check_invariants, reclaim, Access, AddressSpace, Backing, FaultError, FaultKind, FileSource,
    MemEvent, PhysMem, Prot, SwapFile, VmaName, PAGE_SIZE,
};

fn swap_pm(max_frames: u64, swap_pages: u64) -> PhysMem {
    let mut pm = PhysMem::new(max_frames);
    let dev = SwapFile::create(&std::env::temp_dir(), swap_pages * PAGE_SIZE).unwrap();
    pm.enable_swap(Box::new(dev));
    pm
}

/// A `swap_pm` and one empty address space in it.
fn swap_setup(max_frames: u64, swap_pages: u64) -> (PhysMem, AddressSpace) {
    let mut pm = swap_pm(max_frames, swap_pages);
    let asp = AddressSpace::new(&mut pm).unwrap();
    (pm, asp)
}

fn entry(pm: &PhysMem, asp: &AddressSpace, va: u64) -> Pte {
    pagetable::read_pte(
        pm,
        pagetable::walk(pm, asp.root(), va).expect("entry: no table"),
    )
}

fn fill(asp: &mut AddressSpace, pm: &mut PhysMem, va: u64, seed: u8) {
    let data: Vec<u8> = (0..PAGE_SIZE as usize)
        .map(|i| (i as u8).wrapping_mul(seed) ^ seed)
        .collect();
    asp.write_bytes(pm, va, &data).unwrap();
}

fn check_fill(asp: &mut AddressSpace, pm: &mut PhysMem, va: u64, seed: u8) {
    let mut got = vec![0u8; PAGE_SIZE as usize];
    asp.read_bytes(pm, va, &mut got).unwrap();
    let want: Vec<u8> = (0..PAGE_SIZE as usize)
        .map(|i| (i as u8).wrapping_mul(seed) ^ seed)
        .collect();
    assert!(got == want, "page {va:#x} lost its contents (seed {seed})");
}

fn release_all(mut pm: PhysMem, spaces: Vec<AddressSpace>) {
    for asp in spaces {
        asp.release(&mut pm);
    }
    check_invariants(&pm, &[]);
    assert_eq!(pm.swap_info().used_slots, 0, "every slot freed");
    pm.drop_clean_cache();
    assert_eq!(pm.stats().frames_in_use, 0, "every frame returned");
}

#[test]
fn cow_shared_page_is_swapped_once_and_comes_back_shared() {
    let (mut pm, mut parent) = swap_setup(100, 64);
    let a = map_anon(&mut parent, &mut pm, pages(1), Prot::READ_WRITE);
    fill(&mut parent, &mut pm, a, 7);
    let mut child = parent.fork_cow(&mut pm).unwrap();
    let frame = entry(&pm, &parent, a).frame();
    assert_eq!(pm.refcount(frame), 2);
    check_invariants(&pm, &[&parent, &child]);

    pm.enable_trace();
    let freed = reclaim(&mut pm, &mut [&mut parent, &mut child], 1000);
    check_invariants(&pm, &[&parent, &child]);
    assert!(freed >= 1);
    assert_eq!(pm.stats().swap_outs, 1, "written out once");
    // One event per PTE moved to the slot, each naming its space and
    // address: the first visited (the child's: its PTE was not accessed
    // since fork) wrote the page, the other found it in the swap cache.
    let outs: Vec<_> = pm
        .take_trace_events()
        .into_iter()
        .filter_map(|e| match e {
            MemEvent::SwapOut {
                frame: f,
                written,
                mapping,
                ..
            } => Some((f, written, mapping)),
            _ => None,
        })
        .collect();
    assert_eq!(
        outs,
        [
            (frame, true, Some((child.root(), a))),
            (frame, false, Some((parent.root(), a)))
        ]
    );
    let (pe, ce) = (entry(&pm, &parent, a), entry(&pm, &child, a));
    assert!(pe.is_swap() && ce.is_swap() && pe.swap_slot() == ce.swap_slot());
    assert!(!pe.has(Pte::COW), "a swap entry is distinct from COW");
    assert_eq!(pm.swap_info().used_slots, 1);
    assert_eq!(pm.swap_info().cached_pages, 0, "frame freed");

    assert_eq!(
        child.handle_fault(&mut pm, a, Access::Read),
        Ok(FaultKind::SwapIn)
    );
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(pm.swap_info().cached_pages, 1, "the parent finds it there");
    assert_eq!(
        parent.handle_fault(&mut pm, a, Access::Read),
        Ok(FaultKind::SwapIn)
    );
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(pm.stats().swap_ins, 1, "read in once");
    let (pf, cf) = (entry(&pm, &parent, a), entry(&pm, &child, a));
    assert_eq!(pf.frame(), cf.frame(), "one frame, shared again");
    assert_eq!(pm.refcount(pf.frame()), 2, "count restored");
    assert_eq!(pm.swap_info().used_slots, 0, "slot freed");
    assert!(pf.has(Pte::COW) && !pf.has(Pte::W));

    // A write still follows COW: the parent copies, the child keeps the bytes.
    assert_eq!(
        parent.handle_fault(&mut pm, a, Access::Write),
        Ok(FaultKind::CowCopy)
    );
    write_u8(&mut parent, &mut pm, a, 0xee);
    check_fill(&mut child, &mut pm, a, 7);
    check_invariants(&pm, &[&parent, &child]);
    release_all(pm, vec![parent, child]);
}

#[test]
fn write_to_swapped_in_page_still_swapped_elsewhere_copies() {
    let (mut pm, mut parent) = swap_setup(100, 64);
    let a = map_anon(&mut parent, &mut pm, pages(1), Prot::READ_WRITE);
    fill(&mut parent, &mut pm, a, 3);
    let mut child = parent.fork_cow(&mut pm).unwrap();
    reclaim(&mut pm, &mut [&mut parent, &mut child], 1000);
    assert_eq!(
        parent.handle_fault(&mut pm, a, Access::Write),
        Ok(FaultKind::SwapIn)
    );
    check_invariants(&pm, &[&parent, &child]);
    write_u8(&mut parent, &mut pm, a, 0);
    assert!(entry(&pm, &child, a).is_swap());
    check_fill(&mut child, &mut pm, a, 3);
    check_invariants(&pm, &[&parent, &child]);
    release_all(pm, vec![parent, child]);
}

#[test]
fn data_survives_memory_smaller_than_the_working_set() {
    let (mut pm, mut asp) = swap_setup(24, 256);
    let n = 80;
    let base = map_anon(&mut asp, &mut pm, pages(n), Prot::READ_WRITE);
    let touch = |asp: &mut AddressSpace, pm: &mut PhysMem, va: u64, access: Access| loop {
        if asp.translate(pm, va, access).is_some() {
            return;
        }
        match asp.handle_fault(pm, va, access) {
            Ok(_) => return,
            Err(FaultError::OutOfMemory) => {
                assert!(reclaim(pm, &mut [asp], 4) > 0, "reclaim found nothing");
            }
            Err(e) => panic!("touch: {e}"),
        }
    };
    for i in 0..n {
        let va = base + pages(i);
        touch(&mut asp, &mut pm, va, Access::Write);
        fill(&mut asp, &mut pm, va, i as u8 + 1);
    }
    check_invariants(&pm, &[&asp]);
    assert!(pm.stats().swap_outs >= n - 24);
    assert!(pm.stats().peak_frames_in_use <= 24, "never above the cap");
    for i in (0..n).rev() {
        let va = base + pages(i);
        touch(&mut asp, &mut pm, va, Access::Read);
        check_fill(&mut asp, &mut pm, va, i as u8 + 1);
    }
    check_invariants(&pm, &[&asp]);
    assert!(pm.stats().faults.swap_in > 0);
    release_all(pm, vec![asp]);
}

#[test]
fn clean_file_pages_go_before_anonymous_pages() {
    let (mut pm, mut asp) = swap_setup(100, 64);
    let file = MemFile::patterned(9, pages(4) as usize, 1);
    let f = map_file(
        &mut asp,
        &mut pm,
        pages(4),
        Prot::READ,
        PRIVATE,
        &file,
        VmaName::Path("/f".into()),
    );
    for i in 0..4 {
        read_u8(&mut asp, &mut pm, f + pages(i));
    }
    let a = map_anon(&mut asp, &mut pm, pages(4), Prot::READ_WRITE);
    for i in 0..4 {
        fill(&mut asp, &mut pm, a + pages(i), 5);
    }
    let freed = reclaim(&mut pm, &mut [&mut asp], 4);
    check_invariants(&pm, &[&asp]);
    assert!(freed >= 4);
    assert_eq!(pm.stats().swap_outs, 0, "no anonymous page went out");
    assert_eq!(pm.page_cache().len(), 0, "the file pages were dropped");
    assert_eq!(asp.mincore(&pm, f, pages(4)).unwrap(), vec![0; 4]);
    assert_eq!(
        read_u8(&mut asp, &mut pm, f),
        file.data[0],
        "read back from the file"
    );
    release_all(pm, vec![asp]);
}

#[test]
fn without_swap_anonymous_memory_cannot_be_reclaimed() {
    let mut pm = PhysMem::new(12);
    let mut asp = AddressSpace::new(&mut pm).unwrap();
    let a = map_anon(&mut asp, &mut pm, pages(32), Prot::READ_WRITE);
    let mut i = 0;
    let err = loop {
        match asp.handle_fault(&mut pm, a + pages(i), Access::Write) {
            Ok(_) => i += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err, FaultError::OutOfMemory);
    assert_eq!(reclaim(&mut pm, &mut [&mut asp], 1), 0);
    assert!(asp.usage(&pm).oom_badness() >= i);
    check_invariants(&pm, &[&asp]);
    release_all(pm, vec![asp]);
}

#[test]
fn failed_allocation_during_swap_in_changes_nothing() {
    let (mut pm, mut asp) = swap_setup(100, 64);
    let a = map_anon(&mut asp, &mut pm, pages(3), Prot::READ_WRITE);
    for i in 0..3 {
        fill(&mut asp, &mut pm, a + pages(i), 11 + i as u8);
    }
    reclaim(&mut pm, &mut [&mut asp], 1000);
    assert!(entry(&pm, &asp, a + pages(1)).is_swap());
    let used = pm.stats().frames_in_use;
    pm.set_max_frames(used);
    let slots = pm.swap_info();
    assert_eq!(
        asp.handle_fault(&mut pm, a + pages(1), Access::Read),
        Err(FaultError::OutOfMemory)
    );
    check_invariants(&pm, &[&asp]);
    assert!(entry(&pm, &asp, a + pages(1)).is_swap(), "entry kept");
    assert_eq!(pm.swap_info(), slots);
    pm.set_max_frames(100);
    for i in 0..3 {
        check_fill(&mut asp, &mut pm, a + pages(i), 11 + i as u8);
    }
    check_invariants(&pm, &[&asp]);
    release_all(pm, vec![asp]);
}

#[test]
fn fork_copies_swap_entries_and_munmap_frees_slots() {
    let (mut pm, mut parent) = swap_setup(100, 64);
    let a = map_anon(&mut parent, &mut pm, pages(4), Prot::READ_WRITE);
    for i in 0..4 {
        fill(&mut parent, &mut pm, a + pages(i), 20 + i as u8);
    }
    reclaim(&mut pm, &mut [&mut parent], 1000);
    assert_eq!(parent.swap_pages(&pm), 4);
    let mut child = parent.fork_cow(&mut pm).unwrap();
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(child.swap_pages(&pm), 4);
    assert_eq!(pm.swap_info().used_slots, 4, "shared, not copied");
    parent.munmap(&mut pm, a, pages(2)).unwrap();
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(pm.swap_info().used_slots, 4, "the child still names them");
    child.munmap(&mut pm, a, pages(2)).unwrap();
    assert_eq!(pm.swap_info().used_slots, 2);
    check_invariants(&pm, &[&parent, &child]);
    for i in 2..4 {
        check_fill(&mut child, &mut pm, a + pages(i), 20 + i as u8);
        check_fill(&mut parent, &mut pm, a + pages(i), 20 + i as u8);
    }
    check_invariants(&pm, &[&parent, &child]);
    release_all(pm, vec![parent, child]);
}

#[test]
fn written_private_file_page_goes_to_swap_not_to_the_file() {
    let (mut pm, mut asp) = swap_setup(100, 64);
    let file = MemFile::patterned(4, pages(1) as usize, 2);
    let f = map_file(
        &mut asp,
        &mut pm,
        pages(1),
        Prot::READ_WRITE,
        PRIVATE,
        &file,
        VmaName::Path("/g".into()),
    );
    write_u8(&mut asp, &mut pm, f, 0x5a);
    reclaim(&mut pm, &mut [&mut asp], 1000);
    check_invariants(&pm, &[&asp]);
    assert!(
        entry(&pm, &asp, f).is_swap(),
        "its backing store is swap now"
    );
    assert_eq!(read_u8(&mut asp, &mut pm, f), 0x5a);
    assert_eq!(read_u8(&mut asp, &mut pm, f + 1), file.data[1]);
    release_all(pm, vec![asp]);
}

/// A file whose writes land in memory, to watch write-back.
#[derive(Debug)]
struct RwFile {
    data: RefCell<Vec<u8>>,
}

impl FileSource for RwFile {
    fn id(&self) -> (u64, u64) {
        (2, 77)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let data = self.data.borrow();
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.data.borrow().len() as u64)
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> io::Result<usize> {
        let mut data = self.data.borrow_mut();
        let end = offset as usize + buf.len();
        assert!(end <= data.len(), "write-back extends the file");
        data[offset as usize..end].copy_from_slice(buf);
        Ok(buf.len())
    }
}

fn map_rw_file(asp: &mut AddressSpace, pm: &mut PhysMem, file: &Rc<RwFile>, len: u64) -> u64 {
    let f: Rc<dyn FileSource> = file.clone();
    map_backing(
        asp,
        pm,
        len,
        Prot::READ_WRITE,
        SHARED,
        Backing::File { file: f, offset: 0 },
        VmaName::Path("/rw".into()),
    )
}

#[test]
fn msync_writes_dirty_shared_pages_back_and_cleans_them() {
    let mut pm = PhysMem::new(100);
    let mut asp = AddressSpace::new(&mut pm).unwrap();
    let file = Rc::new(RwFile {
        data: RefCell::new(vec![0; 6000]),
    });
    let m = map_rw_file(&mut asp, &mut pm, &file, 6000);
    write_u8(&mut asp, &mut pm, m + 10, 42);
    write_u8(&mut asp, &mut pm, m + 5000, 43);
    assert_eq!(file.data.borrow()[10], 0, "not yet written back");
    assert_eq!(
        asp.msync(&mut pm, m + 1, 10),
        Err(cowix_mm::MmError::InvalidArgument)
    );
    asp.msync(&mut pm, m, 6000).unwrap();
    check_invariants(&pm, &[&asp]);
    assert_eq!(file.data.borrow()[10], 42);
    assert_eq!(file.data.borrow()[5000], 43);
    assert_eq!(
        file.data.borrow().len(),
        6000,
        "not extended to the page end"
    );
    assert!(!pm.page_cache().lookup((2, 77), 0).unwrap().dirty);
    // The next write dirties the page again; munmap writes it back.
    write_u8(&mut asp, &mut pm, m + 11, 44);
    assert!(pm.page_cache().lookup((2, 77), 0).unwrap().dirty);
    assert_eq!(
        asp.msync(&mut pm, m, pages(8)),
        Err(cowix_mm::MmError::NoMemory),
        "a hole in the range"
    );
    assert_eq!(
        asp.msync(&mut pm, cowix_mm::USER_TOP + pages(1), pages(1)),
        Err(cowix_mm::MmError::NoMemory),
        "a range above user space"
    );
    write_u8(&mut asp, &mut pm, m + 12, 45);
    asp.munmap(&mut pm, m, 6000).unwrap();
    check_invariants(&pm, &[&asp]);
    assert_eq!(file.data.borrow()[12], 45);
    release_all(pm, vec![asp]);
}

#[test]
fn reclaim_writes_dirty_shared_pages_before_dropping_them() {
    let mut pm = PhysMem::new(100);
    let mut asp = AddressSpace::new(&mut pm).unwrap();
    let file = Rc::new(RwFile {
        data: RefCell::new(vec![1; pages(3) as usize]),
    });
    let m = map_rw_file(&mut asp, &mut pm, &file, pages(3));
    for i in 0..3 {
        write_u8(&mut asp, &mut pm, m + pages(i), 9);
    }
    let freed = reclaim(&mut pm, &mut [&mut asp], 1000);
    check_invariants(&pm, &[&asp]);
    assert!(freed >= 3);
    assert_eq!(pm.page_cache().len(), 0);
    assert_eq!(file.data.borrow()[pages(2) as usize], 9);
    assert_eq!(read_u8(&mut asp, &mut pm, m + pages(1)), 9);
    release_all(pm, vec![asp]);
}

#[test]
fn mincore_reports_residency_like_linux() {
    let (mut pm, mut asp) = swap_setup(100, 64);
    let a = map_anon(&mut asp, &mut pm, pages(4), Prot::READ_WRITE);
    write_u8(&mut asp, &mut pm, a, 1);
    read_u8(&mut asp, &mut pm, a + pages(1)); // the zero frame is mapped: resident
    assert_eq!(asp.mincore(&pm, a, pages(4)).unwrap(), vec![1, 1, 0, 0]);
    assert_eq!(
        asp.mincore(&pm, a, 1).unwrap(),
        vec![1],
        "length rounded up"
    );
    assert_eq!(
        asp.mincore(&pm, a + 1, 1),
        Err(cowix_mm::MmError::InvalidArgument)
    );
    assert_eq!(
        asp.mincore(&pm, a, pages(5)),
        Err(cowix_mm::MmError::NoMemory),
        "unmapped page"
    );
    // A file page cached by another space counts though unmapped here.
    let file = MemFile::patterned(3, pages(2) as usize, 0);
    let mut other = AddressSpace::new(&mut pm).unwrap();
    for space in [&mut asp, &mut other] {
        space
            .mmap(
                &mut pm,
                0x5000_0000,
                pages(2),
                Prot::READ,
                FIXED,
                file_backing(&file, 0),
                VmaName::Path("/m".into()),
            )
            .unwrap();
    }
    read_u8(&mut other, &mut pm, 0x5000_0000 + pages(1));
    assert_eq!(asp.mincore(&pm, 0x5000_0000, pages(2)).unwrap(), vec![0, 1]);
    reclaim(&mut pm, &mut [&mut asp, &mut other], 1000);
    assert_eq!(
        asp.mincore(&pm, a, pages(1)).unwrap(),
        vec![0],
        "swapped out"
    );
    check_invariants(&pm, &[&asp, &other]);
    release_all(pm, vec![asp, other]);
}

#[test]
fn smaps_after_fork_shows_half_pss_then_private_dirty_after_a_copy() {
    let mut pm = PhysMem::new(100);
    let mut parent = AddressSpace::new(&mut pm).unwrap();
    let a = map_anon(&mut parent, &mut pm, pages(4), Prot::READ_WRITE);
    for i in 0..2 {
        write_u8(&mut parent, &mut pm, a + pages(i), 1);
    }
    let before = parent.smaps(&pm);
    assert_eq!(before.len(), 1);
    let c = before[0].1;
    assert_eq!((c.size, c.rss, c.pss), (pages(4), pages(2), pages(2)));
    assert_eq!(
        (c.private_dirty, c.shared_dirty, c.anonymous),
        (pages(2), 0, pages(2))
    );

    let mut child = parent.fork_cow(&mut pm).unwrap();
    for side in [&parent, &child] {
        let c = side.smaps(&pm)[0].1;
        assert_eq!(c.rss, pages(2));
        assert_eq!(c.pss, pages(1), "each side pays half");
        assert_eq!(c.shared_dirty, pages(2));
        assert_eq!(c.private_dirty, 0);
    }
    write_u8(&mut child, &mut pm, a, 2); // COW copy
    let c = child.smaps(&pm)[0].1;
    assert_eq!(c.private_dirty, pages(1), "the copy is private dirty");
    assert_eq!(c.shared_dirty, pages(1));
    assert_eq!(c.pss, pages(1) + pages(1) / 2);
    let p = parent.smaps_rollup(&pm);
    assert_eq!(p.pss, pages(1) + pages(1) / 2);

    let (mut pm2, mut s) = swap_setup(100, 16);
    let b = map_anon(&mut s, &mut pm2, pages(1), Prot::READ_WRITE);
    write_u8(&mut s, &mut pm2, b, 1);
    let mut t = s.fork_cow(&mut pm2).unwrap();
    reclaim(&mut pm2, &mut [&mut s, &mut t], 1000);
    let r = s.smaps_rollup(&pm2);
    assert_eq!((r.rss, r.swap, r.swap_pss), (0, pages(1), pages(1) / 2));
    release_all(pm2, vec![s, t]);
    release_all(pm, vec![parent, child]);
}

#[test]
fn reclaim_gives_recently_used_pages_a_second_chance() {
    let (mut pm, mut asp) = swap_setup(100, 64);
    let a = map_anon(&mut asp, &mut pm, pages(4), Prot::READ_WRITE);
    for i in 0..4 {
        fill(&mut asp, &mut pm, a + pages(i), 30 + i as u8);
    }
    let generation = asp.tlb_generation();
    // Every page was just used: the cold-only scan takes none, clearing A.
    assert_eq!(cowix_mm::reclaim_cold(&mut pm, &mut [&mut asp], 2), 0);
    assert_eq!(pm.stats().swap_outs, 0);
    assert!(!entry(&pm, &asp, a).has(Pte::A));
    assert_ne!(
        asp.tlb_generation(),
        generation,
        "TLB flushed so A is set again"
    );
    // Page 0 is used again; the next scan takes the others.
    asp.translate(&mut pm, a, Access::Read).unwrap();
    assert!(cowix_mm::reclaim_cold(&mut pm, &mut [&mut asp], 3) >= 3);
    check_invariants(&pm, &[&asp]);
    assert!(entry(&pm, &asp, a).is_present(), "the used page stays");
    for i in 1..4 {
        assert!(entry(&pm, &asp, a + pages(i)).is_swap());
    }
    assert_eq!(pm.stats().swap_used, 3);
    for i in 0..4 {
        check_fill(&mut asp, &mut pm, a + pages(i), 30 + i as u8);
    }
    release_all(pm, vec![asp]);
}

#[test]
fn failed_copy_after_a_shared_swap_in_leaves_the_page_mapped_read_only() {
    let (mut pm, mut parent) = swap_setup(100, 64);
    let a = map_anon(&mut parent, &mut pm, pages(1), Prot::READ_WRITE);
    fill(&mut parent, &mut pm, a, 17);
    let mut child = parent.fork_cow(&mut pm).unwrap();
    reclaim(&mut pm, &mut [&mut parent, &mut child], 1000);
    // Room for the frame read back, none for the copy the write needs.
    let used = pm.stats().frames_in_use;
    pm.set_max_frames(used + 1);
    assert_eq!(
        parent.handle_fault(&mut pm, a, Access::Write),
        Err(FaultError::OutOfMemory)
    );
    check_invariants(&pm, &[&parent, &child]);
    let p = entry(&pm, &parent, a);
    assert!(p.is_present() && !p.has(Pte::W) && p.has(Pte::COW));
    assert!(entry(&pm, &child, a).is_swap());
    pm.set_max_frames(100);
    assert_eq!(
        parent.handle_fault(&mut pm, a, Access::Write),
        Ok(FaultKind::CowCopy)
    );
    write_u8(&mut parent, &mut pm, a, 1);
    check_fill(&mut child, &mut pm, a, 17);
    check_invariants(&pm, &[&parent, &child]);
    release_all(pm, vec![parent, child]);
}

/// A swap device whose writes or reads can be made to fail.
#[derive(Debug)]
struct FlakySwap {
    pages: Vec<Vec<u8>>,
    fail_writes: Rc<std::cell::Cell<bool>>,
    fail_reads: Rc<std::cell::Cell<bool>>,
}

impl cowix_mm::SwapDevice for FlakySwap {
    fn slots(&self) -> u32 {
        self.pages.len() as u32
    }
    fn read_slot(&mut self, slot: u32, buf: &mut [u8]) -> io::Result<()> {
        if self.fail_reads.get() {
            return Err(io::Error::other("injected read failure"));
        }
        buf.copy_from_slice(&self.pages[slot as usize]);
        Ok(())
    }
    fn write_slot(&mut self, slot: u32, buf: &[u8]) -> io::Result<()> {
        if self.fail_writes.get() {
            return Err(io::Error::other("injected write failure"));
        }
        self.pages[slot as usize] = buf.to_vec();
        Ok(())
    }
}

#[test]
fn swap_io_errors_keep_pages_resident_or_give_sigbus() {
    let fail_writes = Rc::new(std::cell::Cell::new(true));
    let fail_reads = Rc::new(std::cell::Cell::new(false));
    let mut pm = PhysMem::new(100);
    pm.enable_swap(Box::new(FlakySwap {
        pages: vec![vec![0; PAGE_SIZE as usize]; 8],
        fail_writes: fail_writes.clone(),
        fail_reads: fail_reads.clone(),
    }));
    let mut asp = AddressSpace::new(&mut pm).unwrap();
    let a = map_anon(&mut asp, &mut pm, pages(2), Prot::READ_WRITE);
    fill(&mut asp, &mut pm, a, 40);
    fill(&mut asp, &mut pm, a + pages(1), 41);
    assert_eq!(
        reclaim(&mut pm, &mut [&mut asp], 1000),
        0,
        "nothing written"
    );
    check_invariants(&pm, &[&asp]);
    assert_eq!(pm.stats().swap_used, 0);
    fail_writes.set(false);
    assert!(reclaim(&mut pm, &mut [&mut asp], 1000) >= 2);
    fail_reads.set(true);
    assert_eq!(
        asp.handle_fault(&mut pm, a, Access::Read),
        Err(FaultError::Bus),
        "a swap read error is SIGBUS, as do_swap_page() gives"
    );
    check_invariants(&pm, &[&asp]);
    assert!(entry(&pm, &asp, a).is_swap());
    fail_reads.set(false);
    check_fill(&mut asp, &mut pm, a, 40);
    check_fill(&mut asp, &mut pm, a + pages(1), 41);
    release_all(pm, vec![asp]);
}

#[test]
fn shared_anonymous_memory_is_swapped_once_and_stays_shared() {
    let (mut pm, mut parent) = swap_setup(100, 64);
    let s = map_anon_at(&mut parent, &mut pm, 0, pages(2), Prot::READ_WRITE, SHARED);
    fill(&mut parent, &mut pm, s, 50);
    let mut child = parent.fork_cow(&mut pm).unwrap();
    check_fill(&mut child, &mut pm, s, 50);
    let outs = pm.stats().swap_outs;
    reclaim(&mut pm, &mut [&mut parent, &mut child], 1000);
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(pm.stats().swap_outs, outs + 1, "written once");
    assert_eq!(pm.stats().swap_used, 1);
    assert!(!entry(&pm, &parent, s).is_present() && !entry(&pm, &child, s).is_present());
    // The child writes; the parent sees it: one frame again.
    write_u8(&mut child, &mut pm, s, 0x77);
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(pm.stats().swap_used, 0, "slot freed at swap-in");
    assert_eq!(read_u8(&mut parent, &mut pm, s), 0x77);
    assert_eq!(
        entry(&pm, &parent, s).frame(),
        entry(&pm, &child, s).frame()
    );
    // Swapped again, then the object dies with its last mapping: slot freed.
    reclaim(&mut pm, &mut [&mut parent, &mut child], 1000);
    assert!(pm.stats().swap_used >= 1);
    parent.munmap(&mut pm, s, pages(2)).unwrap();
    child.munmap(&mut pm, s, pages(2)).unwrap();
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(pm.stats().swap_used, 0);
    release_all(pm, vec![parent, child]);
}

#[test]
fn every_fork_mode_shares_swapped_pages_through_their_slots() {
    for mode in cowix_mm::ForkMode::ALL {
        let (mut pm, mut parent) = swap_setup(200, 64);
        let a = map_anon(&mut parent, &mut pm, pages(4), Prot::READ_WRITE);
        for i in 0..4 {
            fill(&mut parent, &mut pm, a + pages(i), 60 + i as u8);
        }
        reclaim(&mut pm, &mut [&mut parent], 1000);
        assert_eq!(parent.swap_pages(&pm), 4, "{mode}");
        let mut child = parent.fork(&mut pm, mode).unwrap();
        check_invariants(&pm, &[&parent, &child]);
        assert_eq!(pm.stats().swap_used, 4, "{mode}: slots shared, not copied");
        // The child writes one page, reads another; the parent sees its own.
        write_u8(&mut child, &mut pm, a, 0xcc);
        check_fill(&mut child, &mut pm, a + pages(1), 61);
        check_invariants(&pm, &[&parent, &child]);
        check_fill(&mut parent, &mut pm, a, 60);
        check_fill(&mut parent, &mut pm, a + pages(1), 61);
        check_invariants(&pm, &[&parent, &child]);
        // Reclaim again with both alive (through a shared leaf table in
        // share-tables mode), then exit the parent: the child keeps its data.
        reclaim(&mut pm, &mut [&mut parent, &mut child], 1000);
        check_invariants(&pm, &[&parent, &child]);
        parent.release(&mut pm);
        check_invariants(&pm, &[&child]);
        assert_eq!(read_u8(&mut child, &mut pm, a), 0xcc, "{mode}");
        for i in 1..4 {
            check_fill(&mut child, &mut pm, a + pages(i), 60 + i as u8);
        }
        release_all(pm, vec![child]);
    }
}

#[test]
fn mremap_moves_swap_entries_and_madvise_dontneed_frees_them() {
    let (mut pm, mut asp) = swap_setup(100, 64);
    let a = map_anon(&mut asp, &mut pm, pages(3), Prot::READ_WRITE);
    for i in 0..3 {
        fill(&mut asp, &mut pm, a + pages(i), 70 + i as u8);
    }
    reclaim(&mut pm, &mut [&mut asp], 1000);
    let flags = cowix_mm::RemapFlags {
        may_move: true,
        fixed: true,
        dont_unmap: false,
    };
    let b = asp
        .mremap(&mut pm, a, pages(3), pages(3), flags, 0x7000_0000)
        .unwrap();
    check_invariants(&pm, &[&asp]);
    assert_eq!(asp.swap_pages(&pm), 3, "the entries moved");
    assert_eq!(pm.stats().swap_used, 3);
    check_fill(&mut asp, &mut pm, b + pages(2), 72);
    asp.madvise(&mut pm, b, pages(2), cowix_mm::Advice::DontNeed)
        .unwrap();
    check_invariants(&pm, &[&asp]);
    assert_eq!(pm.stats().swap_used, 0, "DONTNEED freed the slots");
    assert_eq!(read_u8(&mut asp, &mut pm, b), 0, "and the pages read zeros");
    release_all(pm, vec![asp]);
}

#[test]
fn smaps_counts_every_sharer_of_a_shared_leaf_table() {
    let (mut pm, mut parent) = swap_setup(100, 16);
    let a = map_anon(&mut parent, &mut pm, pages(2), Prot::READ_WRITE);
    write_u8(&mut parent, &mut pm, a, 1);
    write_u8(&mut parent, &mut pm, a + pages(1), 1);
    let mut child = parent
        .fork(&mut pm, cowix_mm::ForkMode::ShareTables)
        .unwrap();
    assert!(pm.stats().leaf_tables_shared > 0);
    for side in [&parent, &child] {
        let c = side.smaps_rollup(&pm);
        assert_eq!(c.rss, pages(2));
        assert_eq!(c.pss, pages(1), "each sharer pays half");
        assert_eq!((c.shared_dirty, c.private_dirty), (pages(2), 0));
    }
    // Swapped through the shared table: SwapPss is halved the same way.
    reclaim(&mut pm, &mut [&mut parent, &mut child], 1000);
    check_invariants(&pm, &[&parent, &child]);
    let c = child.smaps_rollup(&pm);
    assert_eq!((c.rss, c.swap, c.swap_pss), (0, pages(2), pages(1)));
    release_all(pm, vec![parent, child]);
}
