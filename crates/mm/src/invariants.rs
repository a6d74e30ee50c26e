//! The whole-system invariant check (expensive: walks every table). Tests
//! run it after every operation; it panics with the first violation found.

use std::collections::HashMap;

use crate::address_space::AddressSpace;
use crate::frame::{FrameId, FrameKind, PhysMem};
use crate::pagetable::{self, Pte};
use crate::vma::{Backing, Vma};
use crate::{is_page_aligned, USER_TOP};

/// Checks that `pm` and the address spaces in `spaces` (which must be all
/// the live ones) agree:
///
/// * the frame pool is consistent and its statistics are right;
/// * every allocated frame's refcount equals the references to it: PTEs,
///   parent table entries (or the owning space, for a root), page-cache
///   entries, plus the zero frame's own one; so no frame is leaked;
/// * page-table frames belong to exactly one tree; data frames are never
///   page tables; page-cache frames are where the cache says;
/// * VMAs are sorted, page aligned, inside user space, not overlapping and
///   never two mergeable ones adjacent;
/// * every present PTE lies in a VMA and its permissions are the VMA's:
///   R iff readable (write implies read), X iff exec, W only if writable
///   and, in a private mapping, only on an anonymous frame nobody else
///   holds, in a shared one only on a dirty cache page; COW exactly on the
///   write-protected pages of private writable VMAs; PROT_NONE entries
///   exactly in PROT_NONE VMAs;
/// * the zero frame is all zeros and never mapped writable;
/// * swap: every slot's count equals the swap PTEs naming it plus one if
///   the swap cache holds it; a slot is free iff its count is 0; swap
///   entries lie in private VMAs; swap-cache frames are anonymous, counted
///   as a reference, and never mapped writable.
/// * a leaf table shared between spaces (share-tables fork) has a refcount
///   equal to the entries pointing at it, maps each of its frames once (a
///   frame's refcount counts the table, not the spaces), holds no
///   writable private PTE and agrees with every sharer's VMAs.
///
/// Panics describing the first violation.
pub fn check_invariants(pm: &PhysMem, spaces: &[&AddressSpace]) {
    pm.check_pool();
    let mut expected: HashMap<FrameId, u32> = HashMap::new();
    *expected.entry(pm.zero_frame()).or_default() += 1;

    for (file, index, page) in pm.page_cache().pages() {
        let key = (file.0, file.1, index);
        assert_eq!(
            pm.frame_kind(page.frame),
            FrameKind::PageCache,
            "check_invariants: cache page {key:?} kind"
        );
        assert_eq!(
            pm.cache_key(page.frame),
            Some(key),
            "check_invariants: cache page {key:?} back-pointer"
        );
        *expected.entry(page.frame).or_default() += 1;
    }

    let slots = pm.swap_slots();
    let info = pm.swap_info();
    let s = pm.stats();
    assert_eq!(
        (s.swap_total, s.swap_used, s.swap_cache_frames),
        (info.total_slots, info.used_slots, info.cached_pages),
        "check_invariants: swap statistics are wrong"
    );
    for &(slot, _, cached) in &slots {
        if let Some(frame) = cached {
            assert_eq!(
                pm.frame_kind(frame),
                FrameKind::Anon,
                "check_invariants: swap cache slot {slot} holds a non-anonymous frame"
            );
            *expected.entry(frame).or_default() += 1;
        }
    }
    let mut swap_refs: HashMap<u32, u32> = HashMap::new();
    for (key, slot) in pm.page_cache().swapped() {
        assert_eq!(
            key.0,
            crate::SHARED_ANON_DEV,
            "check_invariants: swap record {key:?} for a file page"
        );
        assert!(
            pm.page_cache().lookup((key.0, key.1), key.2).is_none(),
            "check_invariants: page {key:?} both cached and swapped"
        );
        *swap_refs.entry(slot).or_default() += 1;
    }

    // Upper tables belong to one space; a leaf table may be shared by
    // several (share-tables fork), its entries then counted once.
    let mut table_owner: HashMap<FrameId, usize> = HashMap::new();
    let mut leaf_tables_seen: HashMap<FrameId, u64> = HashMap::new();
    for (n, space) in spaces.iter().enumerate() {
        check_vmas(space);
        let (uppers, leaf_tables) = pagetable::collect_tables(pm, space.root);
        for table in uppers {
            assert_eq!(
                pm.frame_kind(table),
                FrameKind::PageTable,
                "check_invariants: space {n}: table {table:?} kind"
            );
            if let Some(other) = table_owner.insert(table, n) {
                panic!("check_invariants: table {table:?} in spaces {other} and {n}");
            }
            *expected.entry(table).or_default() += 1;
        }
        for (base, table) in leaf_tables {
            assert_eq!(
                pm.frame_kind(table),
                FrameKind::PageTable,
                "check_invariants: space {n}: leaf table {table:?} kind"
            );
            *expected.entry(table).or_default() += 1;
            let first_visit = match leaf_tables_seen.insert(table, base) {
                None => true,
                Some(other) => {
                    assert_eq!(
                        other, base,
                        "check_invariants: leaf table {table:?} shared at two addresses"
                    );
                    false
                }
            };
            let shared = pm.refcount(table) > 1;
            for (i, pte) in pagetable::read_table(pm, table).into_iter().enumerate() {
                let va = base + i as u64 * crate::PAGE_SIZE;
                if pte.is_swap() {
                    let vma = space.vmas.find(va).unwrap_or_else(|| {
                        panic!("check_invariants: space {n}: swap entry at {va:#x} outside any vma")
                    });
                    assert!(
                        !vma.shared,
                        "check_invariants: space {n}: swap entry at {va:#x} in a shared vma"
                    );
                    let slot = pte.swap_slot();
                    assert!(
                        (slot as usize) < slots.len(),
                        "check_invariants: space {n}: swap entry at {va:#x} names slot {slot} beyond the area"
                    );
                    if first_visit {
                        *swap_refs.entry(slot).or_default() += 1;
                    }
                    continue;
                }
                if !pte.is_present() {
                    assert_eq!(pte, Pte::EMPTY, "check_invariants: junk at {va:#x}");
                    continue;
                }
                if first_visit {
                    *expected.entry(pte.frame()).or_default() += 1;
                }
                check_leaf(pm, space, n, va, pte, shared);
            }
        }
    }

    for &(slot, count, cached) in &slots {
        let refs = swap_refs.get(&slot).copied().unwrap_or(0) + u32::from(cached.is_some());
        assert_eq!(
            count, refs,
            "check_invariants: swap slot {slot} has count {count} but {refs} references (PTEs + swap cache)"
        );
        assert!(
            cached.is_none() || count >= 2,
            "check_invariants: swap slot {slot} is cached but no swap PTE names it"
        );
    }
    for table in table_owner.keys() {
        assert!(
            !leaf_tables_seen.contains_key(table),
            "check_invariants: table {table:?} is both an upper and a leaf table"
        );
    }

    for (frame, refcount, kind) in pm.allocated_frames() {
        let refs = expected.remove(&frame).unwrap_or(0);
        assert_eq!(refcount, refs, "check_invariants: {kind:?} frame {frame:?} has refcount {refcount} but {refs} references");
    }
    if let Some((frame, refs)) = expected.into_iter().next() {
        panic!("check_invariants: free frame {frame:?} has {refs} references");
    }
}

fn check_vmas(space: &AddressSpace) {
    let mut prev: Option<&Vma> = None;
    for vma in space.vmas.iter() {
        let r = format!("{:#x}..{:#x}", vma.start, vma.end);
        assert!(vma.start < vma.end, "check_vmas: empty vma {r}");
        assert!(
            is_page_aligned(vma.start) && is_page_aligned(vma.end),
            "check_vmas: unaligned vma {r}"
        );
        assert!(vma.end <= USER_TOP, "check_vmas: vma {r} beyond user space");
        assert!(
            !vma.shared || !vma.backing.is_anonymous(),
            "check_vmas: shared anonymous vma {r} without an object"
        );
        assert!(
            !vma.grows_down || (!vma.shared && vma.backing.is_anonymous()),
            "check_vmas: odd grows-down vma {r}"
        );
        if let Backing::File { offset, .. } = &vma.backing {
            assert!(
                is_page_aligned(*offset),
                "check_vmas: unaligned offset in {r}"
            );
        }
        if let Some(p) = prev {
            assert!(
                p.end <= vma.start,
                "check_vmas: {:#x}..{:#x} overlaps {r}",
                p.start,
                p.end
            );
            assert!(
                !p.can_merge_with(vma),
                "check_vmas: {:#x}..{:#x} and {r} should have merged",
                p.start,
                p.end
            );
        }
        prev = Some(vma);
    }
    assert!(
        space.brk_start <= space.brk_end,
        "check_vmas: brk below start_brk"
    );
    assert!(
        is_page_aligned(space.brk_start),
        "check_vmas: start_brk unaligned"
    );
}

/// `table_shared`: the leaf table holding `pte` is shared between spaces.
fn check_leaf(pm: &PhysMem, space: &AddressSpace, n: usize, va: u64, pte: Pte, table_shared: bool) {
    let here = format!("space {n} page {va:#x} {pte:?}");
    let vma = space
        .vmas
        .find(va)
        .unwrap_or_else(|| panic!("check_leaf: {here} outside any vma"));
    let frame = pte.frame();
    let kind = pm.frame_kind(frame);
    assert!(
        matches!(
            kind,
            FrameKind::Anon | FrameKind::PageCache | FrameKind::Zero
        ),
        "check_leaf: {here} maps a {kind:?} frame"
    );
    if kind == FrameKind::Zero {
        assert!(
            vma.backing.is_anonymous() && !vma.shared,
            "check_leaf: {here}: zero frame outside private anonymous memory"
        );
        assert!(
            !pte.has(Pte::W),
            "check_leaf: {here}: zero frame mapped writable"
        );
    }
    if vma.prot.is_none() {
        assert!(
            pte.is_prot_none(),
            "check_leaf: {here} in a PROT_NONE vma is not PROT_NONE"
        );
        assert_eq!(
            pte.flags() & !Pte::G,
            0,
            "check_leaf: {here}: stray bits on a PROT_NONE entry"
        );
    } else {
        assert!(
            pte.is_leaf(),
            "check_leaf: {here} in an accessible vma is not a valid leaf"
        );
        assert!(
            pte.has(Pte::U) && !pte.has(Pte::G),
            "check_leaf: {here}: U/G wrong"
        );
        assert_eq!(
            pte.has(Pte::R),
            vma.prot.read || vma.prot.write,
            "check_leaf: {here}: R disagrees with {:?}",
            vma.prot
        );
        assert_eq!(
            pte.has(Pte::X),
            vma.prot.exec,
            "check_leaf: {here}: X disagrees with {:?}",
            vma.prot
        );
        assert!(
            !pte.has(Pte::W) || vma.prot.write,
            "check_leaf: {here}: W in a read-only vma"
        );
        assert!(
            !pte.has(Pte::W) || pm.swap_cache_slot(frame).is_none(),
            "check_leaf: {here}: a swap-cache frame mapped writable"
        );
        let cow_expected = !vma.shared && vma.prot.write && !pte.has(Pte::W);
        assert_eq!(
            pte.has(Pte::COW),
            cow_expected,
            "check_leaf: {here}: COW bit wrong"
        );
        if pte.has(Pte::W) && !vma.shared {
            assert_eq!(
                kind,
                FrameKind::Anon,
                "check_leaf: {here}: private writable page is not anonymous"
            );
            assert_eq!(
                pm.refcount(frame),
                1,
                "check_leaf: {here}: private writable page is shared"
            );
            assert!(
                !table_shared,
                "check_leaf: {here}: private writable page in a shared leaf table"
            );
        }
    }
    if let Some((id, index)) = vma.file_page(va) {
        let cached = pm.page_cache().lookup(id, index);
        if vma.shared {
            let page = cached
                .unwrap_or_else(|| panic!("check_leaf: {here}: shared page not in the cache"));
            assert_eq!(
                page.frame, frame,
                "check_leaf: {here}: shared page is not the cache page"
            );
            assert!(
                !pte.has(Pte::W) || page.dirty,
                "check_leaf: {here}: writable shared page not dirty"
            );
        } else if kind == FrameKind::PageCache {
            assert_eq!(
                cached.map(|p| p.frame),
                Some(frame),
                "check_leaf: {here}: private file page maps the wrong cache page"
            );
        } else {
            assert_eq!(
                kind,
                FrameKind::Anon,
                "check_leaf: {here}: private file page neither cached nor anonymous"
            );
        }
    } else {
        assert_ne!(
            kind,
            FrameKind::PageCache,
            "check_leaf: {here}: anonymous vma maps a cache page"
        );
    }
}
