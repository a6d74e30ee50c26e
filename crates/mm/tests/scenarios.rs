//! Scenarios told step by step, checking the whole system after each step.

mod common;

use common::*;
use cowix_mm::pagetable::{self, Pte};
use cowix_mm::{
    check_invariants, Access, AddressSpace, Advice, Backing, FaultError, FaultKind, ForkMode,
    FrameId, FrameKind, MapFlags, MmError, PhysMem, Prot, RemapFlags, SegvCode, VmaName,
    MMAP_MIN_ADDR, PAGE_SIZE, SHARED_ANON_DEV, STACK_GUARD_GAP, USER_TOP,
};

const MAPERR: FaultError = FaultError::Segv(SegvCode::MapErr);
const ACCERR: FaultError = FaultError::Segv(SegvCode::AccErr);

fn setup(max_frames: u64) -> (PhysMem, AddressSpace) {
    let mut pm = PhysMem::new(max_frames);
    let asp = AddressSpace::new(&mut pm).unwrap();
    check_invariants(&pm, &[&asp]);
    (pm, asp)
}

/// Like [`setup`], with two unrelated address spaces sharing the memory.
fn setup_pair(max_frames: u64) -> (PhysMem, AddressSpace, AddressSpace) {
    let (mut pm, a) = setup(max_frames);
    let b = AddressSpace::new(&mut pm).unwrap();
    check_invariants(&pm, &[&a, &b]);
    (pm, a, b)
}

fn teardown(mut pm: PhysMem, spaces: Vec<AddressSpace>) {
    for asp in spaces {
        asp.release(&mut pm);
    }
    check_invariants(&pm, &[]);
    assert_eq!(
        pm.stats().frames_in_use,
        pm.page_cache().len() as u64,
        "only cached pages survive"
    );
    pm.drop_clean_cache();
    check_invariants(&pm, &[]);
    assert_eq!(pm.stats().frames_in_use, 0, "every frame returned");
}

fn pte(pm: &PhysMem, asp: &AddressSpace, va: u64) -> Pte {
    pagetable::translate(pm, asp.root(), va).expect("pte: not mapped")
}

#[test]
fn bss_read_costs_only_the_zero_frame() {
    let (mut pm, mut asp) = setup(1000);
    let bss = map_anon(&mut asp, &mut pm, pages(16), Prot::READ_WRITE);
    check_invariants(&pm, &[&asp]);
    for i in 0..16 {
        assert_eq!(read_u8(&mut asp, &mut pm, bss + pages(i) + 7), 0);
        check_invariants(&pm, &[&asp]);
    }
    // Root, one level-1 and one level-0 table; no data frame at all.
    assert_eq!(pm.stats().frames_in_use, 3);
    assert_eq!(pm.stats().page_table_frames, 3);
    assert_eq!(pm.refcount(pm.zero_frame()), 1 + 16);
    assert_eq!(pm.stats().faults.zero_page, 16);
    let p = pte(&pm, &asp, bss);
    assert_eq!(p.frame(), pm.zero_frame());
    assert!(
        !p.has(Pte::W) && p.has(Pte::COW),
        "zero page is write-protected for COW"
    );
    assert_eq!(asp.resident_pages(&pm), 16);
    teardown(pm, vec![asp]);
}

#[test]
fn write_after_zero_page_read_gets_private_frame() {
    let (mut pm, mut asp) = setup(1000);
    let a = map_anon(&mut asp, &mut pm, pages(2), Prot::READ_WRITE);
    assert_eq!(
        asp.handle_fault(&mut pm, a, Access::Read),
        Ok(FaultKind::ZeroPage)
    );
    assert_eq!(
        asp.translate(&mut pm, a, Access::Read),
        Some(pm.zero_frame())
    );
    assert_eq!(
        asp.translate(&mut pm, a, Access::Write),
        None,
        "the zero page is never writable"
    );
    let gen = asp.tlb_generation();
    assert_eq!(
        asp.handle_fault(&mut pm, a + 5, Access::Write),
        Ok(FaultKind::ZeroFill)
    );
    check_invariants(&pm, &[&asp]);
    assert!(
        asp.tlb_generation() > gen,
        "the page changed frame: TLBs must flush"
    );
    let frame = asp
        .translate(&mut pm, a, Access::Write)
        .expect("now writable");
    assert_ne!(frame, pm.zero_frame());
    assert_eq!(pm.frame_kind(frame), FrameKind::Anon);
    assert_eq!(
        pm.refcount(pm.zero_frame()),
        1,
        "the zero frame's mapping was dropped"
    );
    write_u8(&mut asp, &mut pm, a + 5, 0xab);
    assert_eq!(read_u8(&mut asp, &mut pm, a + 5), 0xab);
    // A write to a never-touched page goes straight to a fresh frame.
    assert_eq!(
        asp.handle_fault(&mut pm, a + PAGE_SIZE, Access::Write),
        Ok(FaultKind::ZeroFill)
    );
    assert_eq!(pm.stats().faults.zero_fill, 2);
    assert!(
        pte(&pm, &asp, a).has(Pte::D | Pte::A),
        "translate set accessed and dirty"
    );
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn private_file_page_write_copies_and_cache_keeps_original() {
    let (mut pm, mut asp) = setup(1000);
    let file = MemFile::patterned(7, 2 * PAGE_SIZE as usize, 3);
    let a = map_file(
        &mut asp,
        &mut pm,
        pages(2),
        Prot::READ_WRITE,
        PRIVATE,
        &file,
        VmaName::Path("/data".into()),
    );
    // A read maps the page-cache frame itself, read-only and COW.
    assert_eq!(read_u8(&mut asp, &mut pm, a + 10), file.data[10]);
    check_invariants(&pm, &[&asp]);
    let cached = pm.page_cache().lookup(file.id, 0).expect("page 0 cached");
    assert_eq!(pte(&pm, &asp, a).frame(), cached.frame);
    assert!(pte(&pm, &asp, a).has(Pte::COW));
    assert_eq!(pm.refcount(cached.frame), 2, "cache + one PTE");
    // The write copies into an anonymous frame: the page now belongs to us.
    assert_eq!(
        asp.handle_fault(&mut pm, a + 10, Access::Write),
        Ok(FaultKind::FileCow)
    );
    write_u8(&mut asp, &mut pm, a + 10, !file.data[10]);
    check_invariants(&pm, &[&asp]);
    let mine = pte(&pm, &asp, a).frame();
    assert_ne!(mine, cached.frame);
    assert_eq!(pm.frame_kind(mine), FrameKind::Anon);
    assert_eq!(
        pm.bytes(cached.frame)[10],
        file.data[10],
        "the cache keeps the file's bytes"
    );
    assert_eq!(
        pm.bytes(mine)[11],
        file.data[11],
        "the copy kept the rest of the page"
    );
    assert_eq!(pm.refcount(cached.frame), 1, "only the cache holds it now");
    assert!(
        !pm.page_cache().lookup(file.id, 0).unwrap().dirty,
        "private writes never dirty the cache"
    );
    // Writing a page never read loads it into the cache first, then copies.
    assert_eq!(
        asp.handle_fault(&mut pm, a + PAGE_SIZE, Access::Write),
        Ok(FaultKind::FileCow)
    );
    assert!(pm.page_cache().lookup(file.id, 1).is_some());
    assert_eq!(
        read_u8(&mut asp, &mut pm, a + PAGE_SIZE + 3),
        file.data[PAGE_SIZE as usize + 3]
    );
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn two_spaces_share_page_cache_frame() {
    let (mut pm, mut a, mut b) = setup_pair(1000);
    let file = MemFile::patterned(9, 3 * PAGE_SIZE as usize, 1);
    let name = || VmaName::Path("/lib/libc.so".into());
    let va = map_file(
        &mut a,
        &mut pm,
        pages(3),
        Prot::READ_EXEC,
        PRIVATE,
        &file,
        name(),
    );
    let vb = map_backing(
        &mut b,
        &mut pm,
        pages(2),
        Prot::READ_EXEC,
        PRIVATE,
        file_backing(&file, PAGE_SIZE),
        name(),
    );
    assert_eq!(
        a.handle_fault(&mut pm, va + PAGE_SIZE, Access::Execute),
        Ok(FaultKind::File)
    );
    let reads = file.reads.get();
    assert_eq!(
        b.handle_fault(&mut pm, vb, Access::Read),
        Ok(FaultKind::File)
    );
    assert_eq!(file.reads.get(), reads, "the second space hits the cache");
    check_invariants(&pm, &[&a, &b]);
    let fa = a
        .translate(&mut pm, va + PAGE_SIZE, Access::Execute)
        .unwrap();
    let fb = b.translate(&mut pm, vb, Access::Execute).unwrap();
    assert_eq!(fa, fb, "one frame for file page 1 in both spaces");
    assert_eq!(pm.refcount(fa), 3, "cache + two PTEs");
    assert!(
        !pte(&pm, &a, va + PAGE_SIZE).has(Pte::COW),
        "read-only mapping: not COW"
    );
    a.release(&mut pm);
    check_invariants(&pm, &[&b]);
    assert_eq!(pm.refcount(fb), 2);
    teardown(pm, vec![b]);
}

#[test]
fn cow_write_with_sole_owner_reuses_frame() {
    let (mut pm, mut parent) = setup(1000);
    let a = map_anon(&mut parent, &mut pm, pages(1), Prot::READ_WRITE);
    write_u8(&mut parent, &mut pm, a, 1);
    let frame = pte(&pm, &parent, a).frame();
    let child = parent.fork_cow(&mut pm).unwrap();
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(pm.refcount(frame), 2);
    assert!(pte(&pm, &parent, a).has(Pte::COW) && !pte(&pm, &parent, a).has(Pte::W));
    assert!(pte(&pm, &child, a).has(Pte::COW) && !pte(&pm, &child, a).has(Pte::W));
    // The child exits (as after exec): the parent is the only owner again.
    child.release(&mut pm);
    check_invariants(&pm, &[&parent]);
    assert_eq!(pm.refcount(frame), 1);
    let in_use = pm.stats().frames_in_use;
    assert_eq!(
        parent.handle_fault(&mut pm, a, Access::Write),
        Ok(FaultKind::CowReuse)
    );
    check_invariants(&pm, &[&parent]);
    assert_eq!(pte(&pm, &parent, a).frame(), frame, "no copy");
    assert_eq!(pm.stats().frames_in_use, in_use, "no frame allocated");
    assert_eq!(read_u8(&mut parent, &mut pm, a), 1);
    teardown(pm, vec![parent]);
}

#[test]
fn cow_write_after_fork_copies_and_the_other_side_keeps_the_old_bytes() {
    let (mut pm, mut parent) = setup(1000);
    let a = map_anon(&mut parent, &mut pm, pages(4), Prot::READ_WRITE);
    for i in 0..4 {
        write_u8(&mut parent, &mut pm, a + pages(i), 10 + i as u8);
    }
    let _ = read_u8(&mut parent, &mut pm, a); // just touching
    let gen = parent.tlb_generation();
    let mut child = parent.fork_cow(&mut pm).unwrap();
    assert!(
        parent.tlb_generation() > gen,
        "fork write-protected the parent"
    );
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(
        child.handle_fault(&mut pm, a, Access::Write),
        Ok(FaultKind::CowCopy)
    );
    write_u8(&mut child, &mut pm, a, 99);
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(
        read_u8(&mut parent, &mut pm, a),
        10,
        "the parent still sees its byte"
    );
    assert_eq!(read_u8(&mut child, &mut pm, a), 99);
    // The parent is now the sole owner of the original: reuse, no copy.
    assert_eq!(
        parent.handle_fault(&mut pm, a, Access::Write),
        Ok(FaultKind::CowReuse)
    );
    // Untouched pages are still shared.
    assert_eq!(
        parent.translate(&mut pm, a + pages(3), Access::Read),
        child.translate(&mut pm, a + pages(3), Access::Read)
    );
    assert_eq!(read_u8(&mut child, &mut pm, a + pages(3)), 13);
    // A grandchild shares with both.
    let grandchild = child.fork_cow(&mut pm).unwrap();
    check_invariants(&pm, &[&parent, &child, &grandchild]);
    let shared = child
        .translate(&mut pm, a + pages(2), Access::Read)
        .unwrap();
    assert_eq!(pm.refcount(shared), 3);
    teardown(pm, vec![parent, child, grandchild]);
}

#[test]
fn fork_rolls_back_when_frames_run_out() {
    let (mut pm, mut parent) = setup(1000);
    // Pages in three different 1 GiB regions need three level-1 + three level-0 tables in a child.
    let mut addrs = Vec::new();
    for i in 1..=3u64 {
        let va = i << 30;
        map_anon_at(&mut parent, &mut pm, va, pages(1), Prot::READ_WRITE, FIXED);
        write_u8(&mut parent, &mut pm, va, i as u8);
        addrs.push(va);
    }
    check_invariants(&pm, &[&parent]);
    let used = pm.stats().frames_in_use;
    let before: Vec<Pte> = addrs.iter().map(|&va| pte(&pm, &parent, va)).collect();
    let gen = parent.tlb_generation();
    // A child needs 1 + 6 table frames; allow fewer, every count from 0 to 6.
    for extra in 0..7 {
        pm.set_max_frames(used + extra);
        assert_eq!(
            parent.fork_cow(&mut pm).err(),
            Some(MmError::OutOfMemory),
            "with {extra} spare frames"
        );
        check_invariants(&pm, &[&parent]);
        assert_eq!(
            pm.stats().frames_in_use,
            used,
            "the partial child was returned"
        );
        let after: Vec<Pte> = addrs.iter().map(|&va| pte(&pm, &parent, va)).collect();
        assert_eq!(before, after, "the parent's PTEs are untouched");
        assert_eq!(parent.tlb_generation(), gen);
    }
    pm.set_max_frames(used + 7);
    let child = parent.fork_cow(&mut pm).expect("exactly enough frames");
    check_invariants(&pm, &[&parent, &child]);
    teardown(pm, vec![parent, child]);
}

#[test]
fn munmap_middle_splits_vma() {
    let (mut pm, mut asp) = setup(1000);
    let a = map_anon(&mut asp, &mut pm, pages(8), Prot::READ_WRITE);
    for i in 0..8 {
        write_u8(&mut asp, &mut pm, a + pages(i), i as u8 + 1);
    }
    let data_frames = pm.stats().frames_in_use - pm.stats().page_table_frames;
    assert_eq!(data_frames, 8);
    let gen = asp.tlb_generation();
    asp.munmap(&mut pm, a + pages(3), pages(2)).unwrap();
    check_invariants(&pm, &[&asp]);
    assert!(asp.tlb_generation() > gen);
    let ranges: Vec<(u64, u64)> = asp.vmas().map(|v| (v.start, v.end)).collect();
    assert_eq!(ranges, [(a, a + pages(3)), (a + pages(5), a + pages(8))]);
    assert_eq!(
        pm.stats().frames_in_use - pm.stats().page_table_frames,
        6,
        "two frames freed"
    );
    assert_eq!(asp.read_bytes(&mut pm, a + pages(3), &mut [0]), Err(MAPERR));
    assert_eq!(read_u8(&mut asp, &mut pm, a + pages(2)), 3);
    assert_eq!(read_u8(&mut asp, &mut pm, a + pages(5)), 6);
    // Unmapping nothing is fine; bad arguments are EINVAL.
    asp.munmap(&mut pm, a + pages(3), pages(2)).unwrap();
    assert_eq!(
        asp.munmap(&mut pm, a + 1, pages(1)),
        Err(MmError::InvalidArgument)
    );
    assert_eq!(asp.munmap(&mut pm, a, 0), Err(MmError::InvalidArgument));
    assert_eq!(
        asp.munmap(&mut pm, USER_TOP - PAGE_SIZE, pages(2)),
        Err(MmError::InvalidArgument)
    );
    // Unmapping everything frees the page tables too (all but the root).
    asp.munmap(&mut pm, a, pages(8)).unwrap();
    check_invariants(&pm, &[&asp]);
    assert_eq!(pm.stats().frames_in_use, 1);
    teardown(pm, vec![asp]);
}

#[test]
fn mprotect_readonly_then_write_faults_accerr() {
    let (mut pm, mut asp) = setup(1000);
    let a = map_anon(&mut asp, &mut pm, pages(3), Prot::READ_WRITE);
    for i in 0..3 {
        write_u8(&mut asp, &mut pm, a + pages(i), 7);
    }
    let gen = asp.tlb_generation();
    asp.mprotect(&mut pm, a + pages(1), pages(1), Prot::READ)
        .unwrap();
    check_invariants(&pm, &[&asp]);
    assert!(asp.tlb_generation() > gen, "write permission was revoked");
    assert_eq!(asp.vma_count(), 3);
    assert_eq!(asp.translate(&mut pm, a + pages(1), Access::Write), None);
    assert_eq!(
        asp.handle_fault(&mut pm, a + pages(1), Access::Write),
        Err(ACCERR)
    );
    assert_eq!(read_u8(&mut asp, &mut pm, a + pages(1)), 7);
    assert_eq!(pm.stats().faults.segv, 1);
    // Giving write back: the page is ours alone, so it is writable at once.
    let gen = asp.tlb_generation();
    asp.mprotect(&mut pm, a + pages(1), pages(1), Prot::READ_WRITE)
        .unwrap();
    check_invariants(&pm, &[&asp]);
    assert_eq!(
        asp.tlb_generation(),
        gen,
        "adding permission needs no flush"
    );
    assert_eq!(asp.vma_count(), 1, "the pieces merged back");
    assert!(asp
        .translate(&mut pm, a + pages(1), Access::Write)
        .is_some());
    teardown(pm, vec![asp]);
}

#[test]
fn mprotect_adding_write_leaves_shared_frames_to_fault() {
    let (mut pm, mut asp) = setup(1000);
    let file = MemFile::patterned(3, pages(1) as usize, 0);
    let a = map_anon(&mut asp, &mut pm, pages(3), Prot::READ);
    let f = map_file(
        &mut asp,
        &mut pm,
        pages(1),
        Prot::READ,
        PRIVATE,
        &file,
        VmaName::Anonymous,
    );
    let _ = read_u8(&mut asp, &mut pm, a); // zero page
    let _ = read_u8(&mut asp, &mut pm, f); // page-cache page
    asp.mprotect(&mut pm, a, pages(3), Prot::READ_WRITE)
        .unwrap();
    write_u8(&mut asp, &mut pm, a + pages(1), 5);
    asp.mprotect(&mut pm, a, pages(3), Prot::READ).unwrap();
    let child = asp.fork_cow(&mut pm).unwrap(); // page 1 now shared with the child
    asp.mprotect(&mut pm, a, pages(3), Prot::READ_WRITE)
        .unwrap();
    asp.mprotect(&mut pm, f, pages(1), Prot::READ_WRITE)
        .unwrap();
    check_invariants(&pm, &[&asp, &child]);
    for va in [a, a + pages(1), f] {
        let p = pte(&pm, &asp, va);
        assert!(
            !p.has(Pte::W) && p.has(Pte::COW),
            "{va:#x} must stay write-protected: {p:?}"
        );
    }
    assert_eq!(
        asp.handle_fault(&mut pm, a, Access::Write),
        Ok(FaultKind::ZeroFill)
    );
    assert_eq!(
        asp.handle_fault(&mut pm, a + pages(1), Access::Write),
        Ok(FaultKind::CowCopy)
    );
    assert_eq!(
        asp.handle_fault(&mut pm, f, Access::Write),
        Ok(FaultKind::FileCow)
    );
    check_invariants(&pm, &[&asp, &child]);
    teardown(pm, vec![asp, child]);
}

#[test]
fn mprotect_over_a_hole_is_enomem_and_changes_nothing() {
    let (mut pm, mut asp) = setup(1000);
    let a = map_anon(&mut asp, &mut pm, pages(4), Prot::READ_WRITE);
    asp.munmap(&mut pm, a + pages(2), pages(1)).unwrap();
    assert_eq!(
        asp.mprotect(&mut pm, a, pages(4), Prot::READ),
        Err(MmError::NoMemory)
    );
    assert!(asp.vmas().all(|v| v.prot == Prot::READ_WRITE));
    assert_eq!(
        asp.mprotect(&mut pm, a + 3, pages(1), Prot::READ),
        Err(MmError::InvalidArgument)
    );
    assert_eq!(asp.mprotect(&mut pm, a, 0, Prot::READ), Ok(()));
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn prot_none_keeps_the_data_until_access_returns() {
    let (mut pm, mut asp) = setup(1000);
    let a = map_anon(&mut asp, &mut pm, pages(1), Prot::READ_WRITE);
    write_u8(&mut asp, &mut pm, a + 9, 0x5a);
    asp.mprotect(&mut pm, a, pages(1), Prot::NONE).unwrap();
    check_invariants(&pm, &[&asp]);
    assert!(pte(&pm, &asp, a).is_prot_none());
    assert_eq!(asp.translate(&mut pm, a, Access::Read), None);
    assert_eq!(asp.read_bytes(&mut pm, a, &mut [0]), Err(ACCERR));
    asp.mprotect(&mut pm, a, pages(1), Prot::READ_WRITE)
        .unwrap();
    check_invariants(&pm, &[&asp]);
    assert_eq!(read_u8(&mut asp, &mut pm, a + 9), 0x5a);
    assert!(
        asp.translate(&mut pm, a, Access::Write).is_some(),
        "still exclusively ours"
    );
    teardown(pm, vec![asp]);
}

#[test]
fn permissions_follow_riscv_linux() {
    let (mut pm, mut asp) = setup(1000);
    let x = map_anon(&mut asp, &mut pm, pages(1), Prot::EXEC);
    let w = map_anon(
        &mut asp,
        &mut pm,
        pages(1),
        Prot {
            read: false,
            write: true,
            exec: false,
        },
    );
    // Exec-only is not readable; write-only is (riscv maps it PAGE_COPY).
    assert_eq!(asp.handle_fault(&mut pm, x, Access::Read), Err(ACCERR));
    assert_eq!(
        asp.handle_fault(&mut pm, x, Access::Execute),
        Ok(FaultKind::ZeroPage)
    );
    assert_eq!(asp.translate(&mut pm, x, Access::Read), None);
    assert_eq!(
        asp.handle_fault(&mut pm, w, Access::Read),
        Ok(FaultKind::ZeroPage)
    );
    assert_eq!(asp.handle_fault(&mut pm, w, Access::Execute), Err(ACCERR));
    write_u8(&mut asp, &mut pm, w, 1);
    assert_eq!(read_u8(&mut asp, &mut pm, w), 1);
    // Nothing at or above USER_TOP, nothing unmapped.
    assert_eq!(
        asp.handle_fault(&mut pm, USER_TOP, Access::Read),
        Err(MAPERR)
    );
    assert_eq!(
        asp.handle_fault(&mut pm, u64::MAX, Access::Write),
        Err(MAPERR)
    );
    assert_eq!(asp.translate(&mut pm, u64::MAX, Access::Read), None);
    assert_eq!(asp.handle_fault(&mut pm, 0, Access::Read), Err(MAPERR));
    check_invariants(&pm, &[&asp]);
    assert_eq!(asp.fault_counters().segv, 5);
    teardown(pm, vec![asp]);
}

/// Maps the one read-write page below `top` as a `MAP_GROWSDOWN` stack, the
/// way exec leaves the main thread's stack.
fn map_stack_page(asp: &mut AddressSpace, pm: &mut PhysMem, top: u64) {
    let flags = MapFlags {
        grows_down: true,
        ..FIXED
    };
    asp.mmap(
        pm,
        top - pages(1),
        pages(1),
        Prot::READ_WRITE,
        flags,
        Backing::Anonymous,
        VmaName::Stack,
    )
    .expect("map_stack_page");
}

#[test]
fn stack_grows_down_to_limit_then_segv() {
    let (mut pm, mut asp) = setup(1000);
    asp.set_stack_limit(pages(16));
    let top = USER_TOP;
    map_stack_page(&mut asp, &mut pm, top);
    write_u8(&mut asp, &mut pm, top - 1, 1);
    // A push far below the current bottom, but within the limit, grows the stack.
    let deep = top - pages(16);
    assert_eq!(
        asp.handle_fault(&mut pm, deep + 8, Access::Write),
        Ok(FaultKind::ZeroFill)
    );
    check_invariants(&pm, &[&asp]);
    assert_eq!(pm.stats().faults.stack_growth, 1);
    let stack = asp.find_vma(top - 1).unwrap();
    assert_eq!(
        (stack.start, stack.end, stack.name.clone()),
        (deep, top, VmaName::Stack)
    );
    assert_eq!(asp.vma_count(), 1);
    // The pages in between read as zeros, without more growth.
    assert_eq!(read_u8(&mut asp, &mut pm, deep + pages(5)), 0);
    assert_eq!(pm.stats().faults.stack_growth, 1);
    // One page more than RLIMIT_STACK: SIGSEGV, and the VMA stays.
    assert_eq!(
        asp.handle_fault(&mut pm, deep - 1, Access::Write),
        Err(MAPERR)
    );
    assert_eq!(asp.find_vma(top - 1).unwrap().start, deep);
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn stack_growth_keeps_the_guard_gap() {
    let (mut pm, mut asp) = setup(1000);
    asp.set_stack_limit(64 << 20);
    let top = USER_TOP;
    map_stack_page(&mut asp, &mut pm, top);
    let below_end = top - (4 << 20);
    map_anon_at(
        &mut asp,
        &mut pm,
        below_end - pages(1),
        pages(1),
        Prot::READ,
        FIXED,
    );
    assert_eq!(
        asp.handle_fault(&mut pm, below_end + STACK_GUARD_GAP - 1, Access::Read),
        Err(MAPERR)
    );
    assert_eq!(
        asp.handle_fault(&mut pm, below_end + STACK_GUARD_GAP, Access::Read),
        Ok(FaultKind::ZeroPage)
    );
    check_invariants(&pm, &[&asp]);
    // Non-fixed mmap never lands in the guard gap below the stack either.
    asp.munmap(&mut pm, below_end - pages(1), pages(1)).unwrap();
    let stack_start = asp.find_vma(top - 1).unwrap().start;
    let hint = stack_start - pages(1);
    let got = map_anon(&mut asp, &mut pm, pages(1), Prot::READ_WRITE);
    let got_hinted = map_anon_at(&mut asp, &mut pm, hint, pages(1), Prot::READ_WRITE, PRIVATE);
    assert_ne!(got_hinted, hint, "hint inside the guard gap is refused");
    assert!(got + pages(1) <= stack_start - STACK_GUARD_GAP);
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn brk_grows_and_shrinks_heap() {
    let (mut pm, mut asp) = setup(1000);
    assert_eq!(
        asp.brk(&mut pm, 0x20_0000),
        0,
        "brk before exec set it fails"
    );
    let base = 0x10_0123;
    asp.set_brk_base(base);
    let start = 0x10_1000;
    assert_eq!(asp.brk_range(), (start, start));
    assert_eq!(
        asp.brk(&mut pm, 0),
        start,
        "brk(0) asks for the current break"
    );
    assert_eq!(
        asp.brk(&mut pm, start - 1),
        start,
        "below start_brk: unchanged"
    );
    let end = start + 10_000;
    assert_eq!(asp.brk(&mut pm, end), end, "the exact value is kept");
    check_invariants(&pm, &[&asp]);
    let heap = asp.find_vma(start).unwrap();
    assert_eq!(
        (heap.start, heap.end, heap.name.clone()),
        (start, start + pages(3), VmaName::Heap)
    );
    asp.write_bytes(&mut pm, start, &[1; 10_000]).unwrap();
    assert_eq!(
        asp.read_bytes(&mut pm, end, &mut [0]),
        Ok(()),
        "the page is mapped past the break"
    );
    assert_eq!(asp.brk(&mut pm, end + 100), end + 100);
    assert_eq!(asp.vma_count(), 1);
    // Shrinking frees the pages above the new break.
    let before = pm.stats().frames_in_use;
    assert_eq!(asp.brk(&mut pm, start + 100), start + 100);
    check_invariants(&pm, &[&asp]);
    assert_eq!(before - pm.stats().frames_in_use, 2);
    assert_eq!(
        asp.read_bytes(&mut pm, start + PAGE_SIZE, &mut [0]),
        Err(MAPERR)
    );
    assert_eq!(read_u8(&mut asp, &mut pm, start + 99), 1);
    // Growing again gives fresh zeros above the old data.
    assert_eq!(asp.brk(&mut pm, start + pages(2)), start + pages(2));
    assert_eq!(read_u8(&mut asp, &mut pm, start + PAGE_SIZE), 0);
    // A mapping above stops the heap one page short of it.
    map_anon_at(
        &mut asp,
        &mut pm,
        start + pages(5),
        pages(1),
        Prot::READ,
        FIXED,
    );
    assert_eq!(
        asp.brk(&mut pm, start + pages(4) + 1),
        start + pages(2),
        "would touch the mapping"
    );
    assert_eq!(asp.brk(&mut pm, start + pages(4)), start + pages(4));
    assert_eq!(asp.brk(&mut pm, start), start);
    assert!(asp.find_vma(start).is_none(), "the heap is empty");
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn out_of_frames_fault_reports_oom() {
    // Root + level-1 + level-0 fit; the data frame does not.
    let (mut pm, mut asp) = setup(3);
    let a = map_anon(&mut asp, &mut pm, pages(2), Prot::READ_WRITE);
    assert_eq!(
        asp.handle_fault(&mut pm, a, Access::Write),
        Err(FaultError::OutOfMemory)
    );
    check_invariants(&pm, &[&asp]);
    assert_eq!(pm.stats().faults.oom, 1);
    assert_eq!(
        asp.translate(&mut pm, a, Access::Read),
        None,
        "nothing was mapped"
    );
    // Reading still works: the zero frame costs nothing.
    assert_eq!(
        asp.handle_fault(&mut pm, a, Access::Read),
        Ok(FaultKind::ZeroPage)
    );
    assert_eq!(
        asp.write_bytes(&mut pm, a, &[1]),
        Err(FaultError::OutOfMemory)
    );
    check_invariants(&pm, &[&asp]);
    pm.set_max_frames(4);
    write_u8(&mut asp, &mut pm, a, 1);
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn file_page_beyond_eof_is_sigbus_and_the_tail_reads_zero() {
    let (mut pm, mut asp) = setup(1000);
    let file = MemFile::patterned(11, PAGE_SIZE as usize + 100, 5);
    let a = map_file(
        &mut asp,
        &mut pm,
        pages(3),
        Prot::READ_WRITE,
        PRIVATE,
        &file,
        VmaName::Anonymous,
    );
    assert_eq!(
        read_u8(&mut asp, &mut pm, a + PAGE_SIZE + 99),
        file.data[PAGE_SIZE as usize + 99]
    );
    assert_eq!(
        read_u8(&mut asp, &mut pm, a + PAGE_SIZE + 100),
        0,
        "past EOF within the last page"
    );
    assert_eq!(
        asp.handle_fault(&mut pm, a + pages(2), Access::Read),
        Err(FaultError::Bus)
    );
    assert_eq!(
        asp.handle_fault(&mut pm, a + pages(2), Access::Write),
        Err(FaultError::Bus)
    );
    assert_eq!(pm.stats().faults.bus, 2);
    // An offset wholly beyond EOF: every page is SIGBUS.
    let b = map_backing(
        &mut asp,
        &mut pm,
        pages(1),
        Prot::READ,
        SHARED,
        file_backing(&file, pages(4)),
        VmaName::Anonymous,
    );
    assert_eq!(
        asp.handle_fault(&mut pm, b, Access::Read),
        Err(FaultError::Bus)
    );
    // An I/O error reading the file is SIGBUS too, and caches nothing.
    asp.munmap(&mut pm, a, pages(3)).unwrap();
    pm.drop_clean_cache();
    file.fail.set(true);
    let c = map_file(
        &mut asp,
        &mut pm,
        pages(1),
        Prot::READ,
        PRIVATE,
        &file,
        VmaName::Anonymous,
    );
    assert_eq!(
        asp.handle_fault(&mut pm, c, Access::Read),
        Err(FaultError::Bus)
    );
    assert!(pm.page_cache().is_empty());
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn shared_file_write_marks_the_page_dirty_and_every_mapping_sees_it() {
    let (mut pm, mut a, mut b) = setup_pair(1000);
    let file = MemFile::patterned(21, 2 * PAGE_SIZE as usize, 0);
    let name = || VmaName::Path("/shm".into());
    let va = map_file(
        &mut a,
        &mut pm,
        pages(2),
        Prot::READ_WRITE,
        SHARED,
        &file,
        name(),
    );
    let vb = map_file(&mut b, &mut pm, pages(2), Prot::READ, SHARED, &file, name());
    let vp = map_file(
        &mut b,
        &mut pm,
        pages(2),
        Prot::READ_WRITE,
        PRIVATE,
        &file,
        name(),
    );
    // A read maps the cache page read-only, so the first write is noticed.
    assert_eq!(read_u8(&mut a, &mut pm, va), file.data[0]);
    assert!(!pte(&pm, &a, va).has(Pte::W | Pte::COW));
    assert_eq!(
        a.handle_fault(&mut pm, va, Access::Write),
        Ok(FaultKind::SharedWrite)
    );
    write_u8(&mut a, &mut pm, va, 0xee);
    assert!(pm.page_cache().lookup(file.id, 0).unwrap().dirty);
    // A write to a not-present shared page maps it writable and dirty at once.
    assert_eq!(
        a.handle_fault(&mut pm, va + PAGE_SIZE, Access::Write),
        Ok(FaultKind::File)
    );
    write_u8(&mut a, &mut pm, va + PAGE_SIZE, 0xdd);
    check_invariants(&pm, &[&a, &b]);
    assert_eq!(
        read_u8(&mut b, &mut pm, vb),
        0xee,
        "another process sees the write"
    );
    assert_eq!(
        read_u8(&mut b, &mut pm, vp + PAGE_SIZE),
        0xdd,
        "a private mapping sees it until it writes"
    );
    write_u8(&mut b, &mut pm, vp + PAGE_SIZE, 1);
    write_u8(&mut a, &mut pm, va + PAGE_SIZE, 2);
    assert_eq!(
        read_u8(&mut b, &mut pm, vp + PAGE_SIZE),
        1,
        "after its write the private copy is its own"
    );
    check_invariants(&pm, &[&a, &b]);
    // Dirty pages survive unmapping and cache pressure.
    a.release(&mut pm);
    b.release(&mut pm);
    pm.drop_clean_cache();
    check_invariants(&pm, &[]);
    let mut c = AddressSpace::new(&mut pm).unwrap();
    let vc = map_file(&mut c, &mut pm, pages(2), Prot::READ, SHARED, &file, name());
    assert_eq!(read_u8(&mut c, &mut pm, vc), 0xee);
    assert_eq!(read_u8(&mut c, &mut pm, vc + PAGE_SIZE), 2);
    check_invariants(&pm, &[&c]);
    c.release(&mut pm);
    assert_eq!(
        pm.stats().frames_in_use,
        2,
        "the two dirty pages stay cached"
    );
}

#[test]
fn shared_anonymous_memory_is_shared_across_fork_even_for_pages_touched_later() {
    let (mut pm, mut parent) = setup(1000);
    let a = map_anon_at(&mut parent, &mut pm, 0, pages(2), Prot::READ_WRITE, SHARED);
    write_u8(&mut parent, &mut pm, a, 1);
    let mut child = parent.fork_cow(&mut pm).unwrap();
    check_invariants(&pm, &[&parent, &child]);
    write_u8(&mut child, &mut pm, a, 2);
    assert_eq!(read_u8(&mut parent, &mut pm, a), 2);
    // Page 1 was never touched before the fork.
    write_u8(&mut parent, &mut pm, a + PAGE_SIZE, 3);
    assert_eq!(read_u8(&mut child, &mut pm, a + PAGE_SIZE), 3);
    check_invariants(&pm, &[&parent, &child]);
    assert!(pm
        .page_cache()
        .pages()
        .all(|(id, _, _)| id.0 == SHARED_ANON_DEV));
    assert_eq!(pm.page_cache().len(), 2);
    // The object's pages go when its last mapping does.
    parent.munmap(&mut pm, a, pages(2)).unwrap();
    assert_eq!(pm.page_cache().len(), 2, "the child still maps it");
    assert_eq!(read_u8(&mut child, &mut pm, a), 2);
    child.munmap(&mut pm, a, pages(2)).unwrap();
    assert!(pm.page_cache().is_empty());
    check_invariants(&pm, &[&parent, &child]);
    teardown(pm, vec![parent, child]);
}

#[test]
fn mmap_placement_follows_linux() {
    let (mut pm, mut asp) = setup(1000);
    let base = asp.mmap_base();
    assert_eq!(base, USER_TOP - (128 << 20));
    let a = map_anon(&mut asp, &mut pm, 3 * PAGE_SIZE - 5, Prot::READ);
    assert_eq!(
        a,
        base - pages(3),
        "top-down from mmap_base, length rounded up"
    );
    let b = map_anon(&mut asp, &mut pm, pages(1), Prot::READ);
    assert_eq!(b, a - pages(1));
    assert_eq!(
        asp.vma_count(),
        1,
        "adjacent compatible anonymous VMAs merge"
    );
    let c = map_anon(&mut asp, &mut pm, pages(1), Prot::READ_WRITE);
    assert_eq!(c, b - pages(1));
    assert_eq!(asp.vma_count(), 2);
    // A free hint is honoured (rounded down); a low one is raised to mmap_min_addr.
    let hinted = asp.mmap(
        &mut pm,
        0x1000_0123,
        pages(1),
        Prot::READ,
        PRIVATE,
        Backing::Anonymous,
        VmaName::Anonymous,
    );
    assert_eq!(hinted, Ok(0x1000_0000));
    let low = asp.mmap(
        &mut pm,
        0x1000,
        pages(1),
        Prot::READ,
        PRIVATE,
        Backing::Anonymous,
        VmaName::Anonymous,
    );
    assert_eq!(low, Ok(MMAP_MIN_ADDR));
    // A busy hint falls back to top-down.
    let busy = asp.mmap(
        &mut pm,
        0x1000_0000,
        pages(1),
        Prot::READ,
        PRIVATE,
        Backing::Anonymous,
        VmaName::Anonymous,
    );
    assert_eq!(busy, Ok(c - pages(1)));
    // A hole left by munmap is reused top-down.
    asp.munmap(&mut pm, b, pages(1)).unwrap();
    assert_eq!(map_anon(&mut asp, &mut pm, pages(1), Prot::EXEC), b);
    check_invariants(&pm, &[&asp]);
    // Errors.
    let anon = || Backing::Anonymous;
    let name = || VmaName::Anonymous;
    assert_eq!(
        asp.mmap(&mut pm, 0, 0, Prot::READ, PRIVATE, anon(), name()),
        Err(MmError::InvalidArgument)
    );
    assert_eq!(
        asp.mmap(&mut pm, 0x1001, 1, Prot::READ, FIXED, anon(), name()),
        Err(MmError::InvalidArgument)
    );
    assert_eq!(
        asp.mmap(
            &mut pm,
            USER_TOP - PAGE_SIZE,
            pages(2),
            Prot::READ,
            FIXED,
            anon(),
            name()
        ),
        Err(MmError::NoMemory)
    );
    assert_eq!(
        asp.mmap(
            &mut pm,
            0,
            USER_TOP + 1,
            Prot::READ,
            PRIVATE,
            anon(),
            name()
        ),
        Err(MmError::NoMemory)
    );
    assert_eq!(
        asp.mmap(&mut pm, 0, u64::MAX, Prot::READ, PRIVATE, anon(), name()),
        Err(MmError::NoMemory)
    );
    let file = MemFile::patterned(1, 100, 0);
    assert_eq!(
        asp.mmap(
            &mut pm,
            0,
            1,
            Prot::READ,
            PRIVATE,
            file_backing(&file, 100),
            name()
        ),
        Err(MmError::InvalidArgument)
    );
    let growsdown_shared = MapFlags {
        grows_down: true,
        ..SHARED
    };
    assert_eq!(
        asp.mmap(&mut pm, 0, 1, Prot::READ, growsdown_shared, anon(), name()),
        Err(MmError::InvalidArgument)
    );
    let noreplace = MapFlags {
        fixed_noreplace: true,
        ..PRIVATE
    };
    assert_eq!(
        asp.mmap(&mut pm, a, 1, Prot::READ, noreplace, anon(), name()),
        Err(MmError::Exists)
    );
    assert_eq!(
        asp.mmap(
            &mut pm,
            0x2000_0000,
            1,
            Prot::READ,
            noreplace,
            anon(),
            name()
        ),
        Ok(0x2000_0000)
    );
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn fixed_mapping_replaces_what_was_there() {
    let (mut pm, mut asp) = setup(1000);
    let a = map_anon(&mut asp, &mut pm, pages(4), Prot::READ_WRITE);
    for i in 0..4 {
        write_u8(&mut asp, &mut pm, a + pages(i), 0xff);
    }
    let file = MemFile::patterned(4, pages(8) as usize, 9);
    let name = VmaName::Path("/bin/x".into());
    let got = asp.mmap(
        &mut pm,
        a + pages(1),
        pages(2),
        Prot::READ,
        FIXED,
        file_backing(&file, pages(5)),
        name.clone(),
    );
    assert_eq!(got, Ok(a + pages(1)));
    check_invariants(&pm, &[&asp]);
    assert_eq!(asp.vma_count(), 3);
    assert_eq!(
        pm.stats().frames_in_use - pm.stats().page_table_frames,
        2,
        "two anonymous frames were freed"
    );
    assert_eq!(
        read_u8(&mut asp, &mut pm, a + pages(2) + 1),
        file.data[pages(6) as usize + 1]
    );
    assert_eq!(read_u8(&mut asp, &mut pm, a + pages(3)), 0xff);
    // File VMAs with continuing offsets merge too.
    let next = asp.mmap(
        &mut pm,
        a + pages(3),
        pages(1),
        Prot::READ,
        FIXED,
        file_backing(&file, pages(7)),
        name.clone(),
    );
    assert_eq!(next, Ok(a + pages(3)));
    assert_eq!(asp.vma_count(), 2);
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn clean_cache_pages_are_evicted_when_frames_run_out() {
    let (mut pm, mut asp) = setup(8);
    let file = MemFile::patterned(5, pages(16) as usize, 2);
    let a = map_file(
        &mut asp,
        &mut pm,
        pages(16),
        Prot::READ,
        PRIVATE,
        &file,
        VmaName::Anonymous,
    );
    // 3 table frames + 5 for pages; then each new page needs an eviction,
    // which only an unmapped page allows.
    for i in 0..5 {
        assert_eq!(
            read_u8(&mut asp, &mut pm, a + pages(i)),
            file.data[pages(i) as usize]
        );
    }
    assert_eq!(
        asp.handle_fault(&mut pm, a + pages(5), Access::Read),
        Err(FaultError::OutOfMemory)
    );
    asp.munmap(&mut pm, a, pages(2)).unwrap();
    for i in 5..7 {
        assert_eq!(
            read_u8(&mut asp, &mut pm, a + pages(i)),
            file.data[pages(i) as usize]
        );
        check_invariants(&pm, &[&asp]);
    }
    assert_eq!(pm.stats().page_cache_evictions, 2);
    assert!(pm.page_cache().lookup(file.id, 0).is_none());
    assert!(
        pm.page_cache().lookup(file.id, 2).is_some(),
        "mapped pages are never evicted"
    );
    teardown(pm, vec![asp]);
}

#[test]
fn populate_faults_everything_in_up_front() {
    let (mut pm, mut asp) = setup(1000);
    let flags = MapFlags {
        populate: true,
        ..PRIVATE
    };
    let a = map_anon_at(&mut asp, &mut pm, 0, pages(4), Prot::READ_WRITE, flags);
    assert_eq!(
        pm.stats().faults.zero_fill,
        4,
        "private writable: write faults"
    );
    assert!(asp
        .translate(&mut pm, a + pages(3), Access::Write)
        .is_some());
    let file = MemFile::patterned(6, pages(2) as usize, 0);
    map_file(
        &mut asp,
        &mut pm,
        pages(2),
        Prot::READ,
        flags,
        &file,
        VmaName::Anonymous,
    );
    assert_eq!(pm.stats().faults.file, 2);
    assert_eq!(pm.page_cache().len(), 2);
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

#[test]
fn translate_is_pure_and_tracks_accessed_dirty() {
    let (mut pm, mut asp) = setup(1000);
    let a = map_anon(&mut asp, &mut pm, pages(1), Prot::READ_WRITE);
    assert_eq!(
        asp.translate(&mut pm, a, Access::Read),
        None,
        "no fault fixing in translate"
    );
    assert_eq!(pm.stats().frames_in_use, 1, "and no allocation");
    asp.handle_fault(&mut pm, a, Access::Write).unwrap();
    let root = asp.root();
    let slot = pagetable::walk(&pm, root, a).unwrap();
    let cleared = pagetable::read_pte(&pm, slot).without(Pte::A | Pte::D);
    pagetable::write_pte(&mut pm, slot, cleared);
    asp.translate(&mut pm, a, Access::Read).unwrap();
    assert!(pte(&pm, &asp, a).has(Pte::A) && !pte(&pm, &asp, a).has(Pte::D));
    asp.translate(&mut pm, a, Access::Write).unwrap();
    assert!(pte(&pm, &asp, a).has(Pte::A | Pte::D));
    assert_eq!(
        asp.handle_fault(&mut pm, a, Access::Write),
        Ok(FaultKind::Spurious)
    );
    teardown(pm, vec![asp]);
}

#[test]
fn release_returns_every_frame() {
    let (mut pm, mut asp) = setup(1000);
    let file = MemFile::patterned(8, pages(3) as usize, 0);
    let a = map_anon(&mut asp, &mut pm, pages(64), Prot::READ_WRITE);
    asp.write_bytes(&mut pm, a, &vec![3; pages(64) as usize])
        .unwrap();
    let f = asp.mmap(
        &mut pm,
        1 << 30,
        pages(3),
        Prot::READ_WRITE,
        FIXED,
        file_backing(&file, 0),
        VmaName::Anonymous,
    );
    let f = f.unwrap();
    asp.write_bytes(&mut pm, f, &[1; 10]).unwrap();
    let _ = read_u8(&mut asp, &mut pm, f + PAGE_SIZE);
    let s = map_anon_at(&mut asp, &mut pm, 0, pages(2), Prot::READ_WRITE, SHARED);
    write_u8(&mut asp, &mut pm, s, 1);
    let child = asp.fork_cow(&mut pm).unwrap();
    check_invariants(&pm, &[&asp, &child]);
    asp.release(&mut pm);
    check_invariants(&pm, &[&child]);
    teardown(pm, vec![child]);
}

// ---- fork in three modes, madvise, mremap (seed 002) ----

/// The fault a write at `va` takes (None: the PTE already allowed it).
fn write_fault(asp: &mut AddressSpace, pm: &mut PhysMem, va: u64, value: u8) -> Option<FaultKind> {
    let kind = match asp.translate(pm, va, Access::Write) {
        Some(_) => None,
        None => Some(
            asp.handle_fault(pm, va, Access::Write)
                .expect("write_fault"),
        ),
    };
    write_u8(asp, pm, va, value);
    kind
}

fn frame_at(pm: &mut PhysMem, asp: &mut AddressSpace, va: u64) -> FrameId {
    asp.translate(pm, va, Access::Read)
        .expect("frame_at: not mapped")
}

/// Seed 002's testwritecopytech: after fork the child sets `p = 'C'` and
/// the parent `number = 14`, on different pages. Each side sees only its
/// own write; with COW each write copies one page, with an eager copy
/// nothing is copied on write (the fork copied everything already).
#[test]
fn parent_and_child_write_different_variables_in_every_fork_mode() {
    for mode in ForkMode::ALL {
        let (mut pm, mut parent) = setup(1000);
        let data = map_anon(&mut parent, &mut pm, pages(2), Prot::READ_WRITE);
        let (p, number) = (data, data + pages(1));
        write_u8(&mut parent, &mut pm, p, b'P');
        write_u8(&mut parent, &mut pm, number, 11);
        let mut child = parent.fork(&mut pm, mode).unwrap();
        check_invariants(&pm, &[&parent, &child]);
        let child_fault = write_fault(&mut child, &mut pm, p, b'C');
        let parent_fault = write_fault(&mut parent, &mut pm, number, 14);
        check_invariants(&pm, &[&parent, &child]);
        let expected = match mode {
            ForkMode::Copy => None,
            ForkMode::Cow | ForkMode::ShareTables => Some(FaultKind::CowCopy),
        };
        assert_eq!((child_fault, parent_fault), (expected, expected), "{mode}");
        assert_eq!(read_u8(&mut parent, &mut pm, p), b'P', "{mode}");
        assert_eq!(read_u8(&mut parent, &mut pm, number), 14, "{mode}");
        assert_eq!(read_u8(&mut child, &mut pm, p), b'C', "{mode}");
        assert_eq!(read_u8(&mut child, &mut pm, number), 11, "{mode}");
        let copies = pm.stats().faults.cow_copy;
        assert_eq!(copies, if mode == ForkMode::Copy { 0 } else { 2 }, "{mode}");
        // The eager fork copied both written pages up front, the others none.
        let at_fork = pm.stats().fork_pages_copied;
        assert_eq!(
            at_fork,
            if mode == ForkMode::Copy { 2 } else { 0 },
            "{mode}"
        );
        assert_eq!(pm.stats().forks, 1);
        teardown(pm, vec![parent, child]);
    }
}

/// The child exits (or execs) before the parent writes: the parent is the
/// sole owner again and its write reuses the frame without a copy.
#[test]
fn child_exits_then_the_parents_write_is_a_sole_owner_reuse() {
    for mode in ForkMode::ALL {
        let (mut pm, mut parent) = setup(1000);
        let a = map_anon(&mut parent, &mut pm, pages(3), Prot::READ_WRITE);
        for i in 0..3 {
            write_u8(&mut parent, &mut pm, a + pages(i), i as u8);
        }
        let before = frame_at(&mut pm, &mut parent, a);
        let child = parent.fork(&mut pm, mode).unwrap();
        child.release(&mut pm);
        check_invariants(&pm, &[&parent]);
        let fault = write_fault(&mut parent, &mut pm, a, 7);
        let expected = match mode {
            ForkMode::Copy => None,
            _ => Some(FaultKind::CowReuse),
        };
        assert_eq!(fault, expected, "{mode}");
        assert_eq!(frame_at(&mut pm, &mut parent, a), before, "{mode}: no copy");
        assert_eq!(pm.stats().faults.cow_copy, 0, "{mode}");
        assert_eq!(pm.stats().leaf_table_copies, 0, "{mode}: no table copied");
        check_invariants(&pm, &[&parent]);
        teardown(pm, vec![parent]);
    }
}

/// On-demand-fork's point: forking a large touched address space with
/// shared leaf tables allocates only the upper tables; reading allocates
/// nothing; the first write in a 2 MiB range copies that one leaf table;
/// the other side, sole owner now, writes in the same range without one.
#[test]
fn share_tables_fork_of_a_large_touched_space_allocates_no_leaf_tables_until_a_write() {
    let (mut pm, mut parent) = setup(10_000);
    const MIB: u64 = 1 << 20;
    let a = map_anon_at(
        &mut parent,
        &mut pm,
        0x4000_0000,
        16 * MIB,
        Prot::READ_WRITE,
        FIXED,
    );
    for i in 0..16 * MIB / PAGE_SIZE {
        write_u8(&mut parent, &mut pm, a + pages(i), 1);
    }
    let tables = pm.stats().page_table_frames;
    let frames = pm.stats().frames_in_use;
    let faults = pm.stats().faults.resolved();
    let mut child = parent.fork(&mut pm, ForkMode::ShareTables).unwrap();
    check_invariants(&pm, &[&parent, &child]);
    assert_eq!(pm.stats().leaf_tables_shared, 8);
    assert_eq!(
        pm.stats().page_table_frames,
        tables + 2,
        "only the child's root and one level-1 table"
    );
    assert_eq!(pm.stats().frames_in_use, frames + 2);
    for i in (0..16 * MIB / PAGE_SIZE).step_by(7) {
        assert_eq!(read_u8(&mut child, &mut pm, a + pages(i)), 1);
    }
    assert_eq!(
        pm.stats().faults.resolved(),
        faults,
        "reads of mapped pages never fault"
    );
    assert_eq!(
        pm.stats().page_table_frames,
        tables + 2,
        "reads never unshare"
    );
    // The child's first write in the third 2 MiB range.
    let va = a + 2 * 2 * MIB;
    assert_eq!(
        write_fault(&mut child, &mut pm, va, 2),
        Some(FaultKind::CowCopy)
    );
    assert_eq!(pm.stats().leaf_table_copies, 1);
    assert_eq!(pm.stats().page_table_frames, tables + 3);
    check_invariants(&pm, &[&parent, &child]);
    // The parent owns the old table alone now: no table copy. The page the
    // child copied is the parent's alone (reuse); its neighbour is still
    // mapped by the child's copy of the table (copy).
    assert_eq!(
        write_fault(&mut parent, &mut pm, va, 3),
        Some(FaultKind::CowReuse)
    );
    assert_eq!(
        write_fault(&mut parent, &mut pm, va + pages(1), 3),
        Some(FaultKind::CowCopy)
    );
    assert_eq!(pm.stats().leaf_table_copies, 1);
    assert_eq!(read_u8(&mut child, &mut pm, va), 2);
    assert_eq!(read_u8(&mut child, &mut pm, va + pages(1)), 1);
    check_invariants(&pm, &[&parent, &child]);
    // The child exits: it drops its 7 remaining shares without copying.
    child.release(&mut pm);
    assert_eq!(pm.stats().leaf_table_drops, 7);
    assert_eq!(pm.stats().leaf_table_copies, 1);
    check_invariants(&pm, &[&parent]);
    assert_eq!(
        write_fault(&mut parent, &mut pm, a, 4),
        Some(FaultKind::CowReuse)
    );
    assert_eq!(pm.stats().leaf_table_copies, 1);
    teardown(pm, vec![parent]);
}

/// Changing one side's mappings in a 2 MiB range whose leaf table is
/// shared must never show on the other side.
#[test]
fn munmap_mprotect_madvise_and_mremap_unshare_before_they_change_a_shared_table() {
    let (mut pm, mut parent) = setup(1000);
    let a = map_anon(&mut parent, &mut pm, pages(8), Prot::READ_WRITE);
    for i in 0..8 {
        write_u8(&mut parent, &mut pm, a + pages(i), 10 + i as u8);
    }
    let mut child = parent.fork(&mut pm, ForkMode::ShareTables).unwrap();
    child.munmap(&mut pm, a, pages(1)).unwrap();
    assert_eq!(pm.stats().leaf_table_copies, 1);
    child
        .mprotect(&mut pm, a + pages(1), pages(1), Prot::READ)
        .unwrap();
    child
        .madvise(&mut pm, a + pages(2), pages(1), Advice::DontNeed)
        .unwrap();
    let moved = child
        .mremap(
            &mut pm,
            a + pages(3),
            pages(1),
            pages(1),
            RemapFlags {
                may_move: true,
                fixed: true,
                dont_unmap: false,
            },
            a + pages(64),
        )
        .unwrap();
    check_invariants(&pm, &[&parent, &child]);
    for i in 0..8 {
        assert_eq!(read_u8(&mut parent, &mut pm, a + pages(i)), 10 + i as u8);
    }
    assert_eq!(
        write_fault(&mut parent, &mut pm, a + pages(1), 1),
        Some(FaultKind::CowCopy)
    );
    assert_eq!(
        read_u8(&mut child, &mut pm, a + pages(2)),
        0,
        "DONTNEED: zeros"
    );
    assert_eq!(read_u8(&mut child, &mut pm, moved), 13);
    assert_eq!(read_u8(&mut child, &mut pm, a + pages(1)), 11);
    assert_eq!(
        child.handle_fault(&mut pm, a + pages(1), Access::Write),
        Err(ACCERR)
    );
    assert_eq!(child.translate(&mut pm, a, Access::Read), None);
    check_invariants(&pm, &[&parent, &child]);
    teardown(pm, vec![parent, child]);
}

/// A parent with every kind of page, some of its leaf tables already
/// shared with a sibling: the states fork must copy, share or skip.
fn varied_parent(pm: &mut PhysMem) -> (AddressSpace, AddressSpace, Vec<u64>) {
    let mut parent = AddressSpace::new(pm).unwrap();
    let file = MemFile::patterned(7, pages(4) as usize, 3);
    let mut probes = Vec::new();
    // Private anonymous in two 2 MiB ranges and two 1 GiB regions.
    for base in [0x4000_0000u64, 0x4020_0000, 0x8000_0000] {
        let a = map_anon_at(&mut parent, pm, base, pages(3), Prot::READ_WRITE, FIXED);
        write_u8(&mut parent, pm, a, 1);
        let _ = read_u8(&mut parent, pm, a + pages(1)); // zero frame
        probes.extend([a, a + pages(1), a + pages(2)]);
    }
    let f = parent
        .mmap(
            pm,
            0x4040_0000,
            pages(4),
            Prot::READ_WRITE,
            FIXED,
            file_backing(&file, 0),
            VmaName::Anonymous,
        )
        .unwrap();
    write_u8(&mut parent, pm, f, 9); // private file page turned anonymous
    let _ = read_u8(&mut parent, pm, f + pages(1)); // cache page
    let s = map_anon_at(
        &mut parent,
        pm,
        0x4060_0000,
        pages(2),
        Prot::READ_WRITE,
        MapFlags {
            fixed: true,
            ..SHARED
        },
    );
    write_u8(&mut parent, pm, s, 5);
    let w = map_anon_at(
        &mut parent,
        pm,
        0x4080_0000,
        pages(2),
        Prot::READ_WRITE,
        FIXED,
    );
    write_u8(&mut parent, pm, w, 6);
    parent.madvise(pm, w, pages(2), Advice::WipeOnFork).unwrap();
    let d = map_anon_at(
        &mut parent,
        pm,
        0x4081_0000,
        pages(2),
        Prot::READ_WRITE,
        FIXED,
    );
    write_u8(&mut parent, pm, d, 7);
    parent.madvise(pm, d, pages(1), Advice::DontFork).unwrap();
    let n = map_anon_at(
        &mut parent,
        pm,
        0x40a0_0000,
        pages(1),
        Prot::READ_WRITE,
        FIXED,
    );
    write_u8(&mut parent, pm, n, 8);
    parent.mprotect(pm, n, pages(1), Prot::NONE).unwrap();
    probes.extend([f, f + pages(1), s, w, d, d + pages(1)]);
    let sibling = parent.fork(pm, ForkMode::ShareTables).unwrap();
    (parent, sibling, probes)
}

/// What must not change in a parent whose fork failed.
fn snapshot(pm: &PhysMem, asp: &AddressSpace) -> (Vec<(u64, Pte, u32)>, u64, u64) {
    let (_, leaves) = pagetable::collect(pm, asp.root());
    let leaves = leaves
        .into_iter()
        .map(|(va, p)| (va, p, pm.refcount(p.frame())))
        .collect();
    (leaves, asp.tlb_generation(), pm.stats().frames_in_use)
}

/// Out of frames at any point of a fork, in any mode: the partial child
/// is returned and the parent (PTEs, refcounts, TLB generation) and its
/// sibling are as before.
#[test]
fn fork_out_of_memory_after_any_number_of_frames_changes_nothing() {
    for mode in ForkMode::ALL {
        let mut pm = PhysMem::new(10_000);
        let (mut parent, sibling, probes) = varied_parent(&mut pm);
        check_invariants(&pm, &[&parent, &sibling]);
        pm.drop_clean_cache(); // so that no allocation can evict a page
        let before = snapshot(&pm, &parent);
        let used = pm.stats().frames_in_use;
        let copied_before = pm.stats().fork_pages_copied;
        let mut failures = 0;
        let child = loop {
            pm.set_max_frames(used + failures);
            match parent.fork(&mut pm, mode) {
                Ok(child) => break child,
                Err(e) => {
                    assert_eq!(e, MmError::OutOfMemory);
                    check_invariants(&pm, &[&parent, &sibling]);
                    assert_eq!(snapshot(&pm, &parent), before, "{mode}, {failures} frames");
                    // A failed fork copied nothing that counts.
                    assert_eq!(pm.stats().fork_pages_copied, copied_before, "{mode}");
                    failures += 1;
                }
            }
        };
        assert!(failures >= 3, "{mode}: only {failures} failure points");
        // The private anonymous pages present in the parent: the three
        // written ones, the written private file page, the PROT_NONE one.
        let copied = pm.stats().fork_pages_copied - copied_before;
        assert_eq!(copied, if mode == ForkMode::Copy { 5 } else { 0 }, "{mode}");
        pm.set_max_frames(10_000);
        check_invariants(&pm, &[&parent, &sibling, &child]);
        let mut child = child;
        for &va in &probes[..probes.len() - 2] {
            let want = if (0x4080_0000..0x4080_2000).contains(&va) {
                0
            } else {
                read_u8(&mut parent, &mut pm, va)
            };
            assert_eq!(read_u8(&mut child, &mut pm, va), want, "{mode} at {va:#x}");
        }
        assert!(
            child.find_vma(0x4081_0000).is_none(),
            "{mode}: DONTFORK page"
        );
        assert!(
            child.find_vma(0x4081_1000).is_some(),
            "{mode}: the rest of that vma"
        );
        check_invariants(&pm, &[&parent, &sibling, &child]);
        teardown(pm, vec![parent, sibling, child]);
    }
}

/// madvise(MADV_DONTNEED): private anonymous memory reads zeros again, a
/// private file page the file's bytes, a shared page what the object holds;
/// holes give ENOMEM after the mapped parts were done.
#[test]
fn madvise_dontneed_drops_pages_back_to_their_backing() {
    let (mut pm, mut asp) = setup(1000);
    let file = MemFile::patterned(9, pages(2) as usize, 4);
    let a = map_anon(&mut asp, &mut pm, pages(2), Prot::READ_WRITE);
    write_u8(&mut asp, &mut pm, a, 1);
    let f = map_file(
        &mut asp,
        &mut pm,
        pages(2),
        Prot::READ_WRITE,
        PRIVATE,
        &file,
        VmaName::Anonymous,
    );
    let original = read_u8(&mut asp, &mut pm, f);
    write_u8(&mut asp, &mut pm, f, original.wrapping_add(1));
    let s = map_anon_at(&mut asp, &mut pm, 0, pages(1), Prot::READ_WRITE, SHARED);
    write_u8(&mut asp, &mut pm, s, 3);
    for (va, want) in [(a, 0), (f, original), (s, 3)] {
        asp.madvise(&mut pm, va, pages(1), Advice::DontNeed)
            .unwrap();
        assert_eq!(
            asp.translate(&mut pm, va, Access::Read),
            None,
            "the PTE is gone"
        );
        assert_eq!(read_u8(&mut asp, &mut pm, va), want);
        check_invariants(&pm, &[&asp]);
    }
    write_u8(&mut asp, &mut pm, a + pages(1), 5);
    assert_eq!(
        asp.madvise(&mut pm, a + pages(1), pages(3), Advice::DontNeed),
        Err(MmError::NoMemory)
    );
    assert_eq!(
        read_u8(&mut asp, &mut pm, a + pages(1)),
        0,
        "mapped part done"
    );
    assert_eq!(
        asp.madvise(&mut pm, a + 1, pages(1), Advice::DontNeed),
        Err(MmError::InvalidArgument)
    );
    assert_eq!(
        asp.madvise(&mut pm, s, pages(1), Advice::WipeOnFork),
        Err(MmError::InvalidArgument)
    );
    assert_eq!(
        asp.madvise(&mut pm, f, pages(1), Advice::Free),
        Err(MmError::InvalidArgument)
    );
    teardown(pm, vec![asp]);
}

/// mremap moves PTEs with their frames: no page is copied.
#[test]
fn mremap_moves_frames_without_copying_and_follows_linux_errors() {
    let (mut pm, mut asp) = setup(1000);
    let a = map_anon(&mut asp, &mut pm, pages(4), Prot::READ_WRITE);
    for i in 0..4 {
        write_u8(&mut asp, &mut pm, a + pages(i), 20 + i as u8);
    }
    let frames: Vec<FrameId> = (0..4)
        .map(|i| frame_at(&mut pm, &mut asp, a + pages(i)))
        .collect();
    map_anon_at(&mut asp, &mut pm, a + pages(4), pages(1), Prot::READ, FIXED);
    let grow = RemapFlags::default();
    assert_eq!(
        asp.mremap(&mut pm, a, pages(4), pages(8), grow, 0),
        Err(MmError::NoMemory)
    );
    let used = pm.stats().frames_in_use;
    let may_move = RemapFlags {
        may_move: true,
        ..grow
    };
    let b = asp
        .mremap(&mut pm, a, pages(4), pages(8), may_move, 0)
        .unwrap();
    assert_ne!(a, b);
    check_invariants(&pm, &[&asp]);
    let moved: Vec<FrameId> = (0..4)
        .map(|i| frame_at(&mut pm, &mut asp, b + pages(i)))
        .collect();
    assert_eq!(moved, frames, "the same frames");
    assert!(pm.stats().frames_in_use <= used + 1, "no page copied");
    assert_eq!(read_u8(&mut asp, &mut pm, b + pages(7)), 0);
    assert!(asp.find_vma(a).is_none());
    // Shrink in place, grow back in place.
    assert_eq!(asp.mremap(&mut pm, b, pages(8), pages(2), grow, 0), Ok(b));
    assert_eq!(asp.mremap(&mut pm, b, pages(2), pages(3), grow, 0), Ok(b));
    assert_eq!(
        read_u8(&mut asp, &mut pm, b + pages(2)),
        0,
        "the dropped page is gone"
    );
    assert_eq!(read_u8(&mut asp, &mut pm, b + pages(1)), 21);
    // Errors.
    assert_eq!(
        asp.mremap(&mut pm, b + 1, pages(1), pages(1), grow, 0),
        Err(MmError::InvalidArgument)
    );
    assert_eq!(
        asp.mremap(&mut pm, b, pages(1), 0, grow, 0),
        Err(MmError::InvalidArgument)
    );
    assert_eq!(
        asp.mremap(
            &mut pm,
            b,
            pages(1),
            pages(1),
            RemapFlags {
                fixed: true,
                ..grow
            },
            a
        ),
        Err(MmError::InvalidArgument)
    );
    assert_eq!(
        asp.mremap(&mut pm, a, pages(1), pages(2), may_move, 0),
        Err(MmError::Fault)
    );
    assert_eq!(
        asp.mremap(&mut pm, b, pages(4), pages(5), may_move, 0),
        Err(MmError::Fault),
        "beyond the vma"
    );
    // DONTUNMAP: the old range stays mapped, empty.
    let dont_unmap = RemapFlags {
        may_move: true,
        dont_unmap: true,
        ..grow
    };
    let c = asp
        .mremap(&mut pm, b, pages(3), pages(3), dont_unmap, 0)
        .unwrap();
    assert_eq!(read_u8(&mut asp, &mut pm, c + pages(1)), 21);
    assert_eq!(read_u8(&mut asp, &mut pm, b + pages(1)), 0);
    check_invariants(&pm, &[&asp]);
    teardown(pm, vec![asp]);
}

/// A COW copy changes one PTE's frame: the TLB generation moves and names
/// that page alone, so a TLB one generation behind may drop just it; any
/// other change (munmap here) names no page.
#[test]
fn a_cow_copy_flushes_one_page_and_an_unmap_everything() {
    let (mut pm, mut parent) = setup(100);
    let a = map_anon(&mut parent, &mut pm, pages(2), Prot::READ_WRITE);
    write_u8(&mut parent, &mut pm, a, 1);
    write_u8(&mut parent, &mut pm, a + pages(1), 1);
    let child = parent.fork(&mut pm, ForkMode::Cow).unwrap();
    let gen = parent.tlb_generation();
    assert_ne!(
        gen >> 32,
        child.tlb_generation() >> 32,
        "spaces' generations start apart"
    );
    assert_eq!(
        write_fault(&mut parent, &mut pm, a + pages(1), 2),
        Some(FaultKind::CowCopy)
    );
    assert_eq!(parent.tlb_generation(), gen + 1);
    assert_eq!(parent.flushed_page(), Some(a + pages(1)));
    parent.munmap(&mut pm, a, pages(1)).unwrap();
    assert_eq!(parent.tlb_generation(), gen + 2);
    assert_eq!(parent.flushed_page(), None);
    check_invariants(&pm, &[&parent, &child]);
    teardown(pm, vec![parent, child]);
}
