//! Sv39 page tables stored in frames, in the real format (RISC-V privileged
//! spec, "Sv39: Page-Based 39-bit Virtual-Memory System").
//!
//! Low-level: these functions maintain the tree and the page-table frames'
//! references, but not the refcounts of the data frames that leaves point to
//! (their callers do, like xv6's `mappages`/`uvmunmap`). Only 4 KiB leaves
//! are ever created; finding a superpage leaf is a kernel bug. The address
//! and PTE layouts are drawn above [`walk`].

use std::fmt;

use crate::frame::{FrameId, FrameKind, PhysMem};
use crate::{MmError, PAGE_SIZE, USER_TOP};

/// Number of PTEs in a table.
pub const PTES_PER_TABLE: usize = 512;
pub(crate) const LEVELS: usize = 3;
const PPN_SHIFT: u32 = 10;
const PPN_MASK: u64 = (1 << 44) - 1;

/// A page-table entry.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Pte(u64);

impl Pte {
    pub const V: u64 = 1 << 0;
    pub const R: u64 = 1 << 1;
    pub const W: u64 = 1 << 2;
    pub const X: u64 = 1 << 3;
    pub const U: u64 = 1 << 4;
    pub const G: u64 = 1 << 5;
    pub const A: u64 = 1 << 6;
    pub const D: u64 = 1 << 7;
    /// RSW bit 8: copy-on-write.
    pub const COW: u64 = 1 << 8;
    /// RSW bit 9: unused.
    pub const SOFT2: u64 = 1 << 9;
    /// On a *non-valid* level-0 entry (V=0, G=0): a swap entry, whose PPN
    /// field holds the swap slot (see [`Pte::swap`]). Never set on a valid PTE.
    pub const SWAP_MARK: u64 = 1 << 9;
    const FLAGS: u64 = (1 << PPN_SHIFT) - 1;

    /// The empty entry.
    pub const EMPTY: Pte = Pte(0);

    /// A leaf mapping `frame` with `flags` (V, R, W, X, U, A, D, COW, ...).
    pub fn leaf(frame: FrameId, flags: u64) -> Pte {
        assert_eq!(
            flags & !Self::FLAGS,
            0,
            "Pte::leaf: flags outside the flag bits"
        );
        assert!(
            flags & Self::V == 0 || flags & (Self::R | Self::W | Self::X) != 0,
            "Pte::leaf: valid leaf without R/W/X"
        );
        Pte((u64::from(frame.index()) << PPN_SHIFT) | flags)
    }

    /// A PROT_NONE leaf keeping `frame` (V=0, G=1).
    pub fn prot_none(frame: FrameId) -> Pte {
        Pte((u64::from(frame.index()) << PPN_SHIFT) | Self::G)
    }

    /// A pointer to the next-level table `frame`.
    pub fn table(frame: FrameId) -> Pte {
        Pte((u64::from(frame.index()) << PPN_SHIFT) | Self::V)
    }

    pub fn from_raw(raw: u64) -> Pte {
        Pte(raw)
    }

    pub fn raw(self) -> u64 {
        self.0
    }

    /// The low ten flag bits.
    pub fn flags(self) -> u64 {
        self.0 & Self::FLAGS
    }

    pub fn has(self, bits: u64) -> bool {
        self.0 & bits == bits
    }

    pub fn with(self, bits: u64) -> Pte {
        Pte(self.0 | bits)
    }

    pub fn without(self, bits: u64) -> Pte {
        Pte(self.0 & !bits)
    }

    pub fn is_valid(self) -> bool {
        self.has(Self::V)
    }

    /// A valid leaf (some of R, W, X set).
    pub fn is_leaf(self) -> bool {
        self.is_valid() && self.0 & (Self::R | Self::W | Self::X) != 0
    }

    /// A valid pointer to the next level.
    pub fn is_table(self) -> bool {
        self.is_valid() && !self.is_leaf()
    }

    /// A PROT_NONE leaf (holds a frame but grants nothing).
    pub fn is_prot_none(self) -> bool {
        !self.is_valid() && self.has(Self::G)
    }

    /// A level-0 entry holding a frame: a valid leaf or a PROT_NONE leaf.
    pub fn is_present(self) -> bool {
        self.is_leaf() || self.is_prot_none()
    }

    /// A swap entry for `slot`: V=0, G=0, [`SWAP_MARK`](Self::SWAP_MARK), the
    /// slot in the PPN field (Linux's swp_entry_t in a non-present pte,
    /// arch/riscv/include/asm/pgtable.h:__swp_entry()). The hardware ignores
    /// it (V=0); distinct from a PROT_NONE entry (G=1) and from COW (bit 8,
    /// only on valid leaves).
    pub fn swap(slot: u32) -> Pte {
        Pte((u64::from(slot) << PPN_SHIFT) | Self::SWAP_MARK)
    }

    /// A swap entry (not valid, not PROT_NONE, swap mark set).
    pub fn is_swap(self) -> bool {
        self.0 & (Self::V | Self::G | Self::SWAP_MARK) == Self::SWAP_MARK
    }

    /// The swap slot of a swap entry. Panics on any other entry.
    pub fn swap_slot(self) -> u32 {
        assert!(
            self.is_swap(),
            "Pte::swap_slot: {self:?} is not a swap entry"
        );
        u32::try_from((self.0 >> PPN_SHIFT) & PPN_MASK).expect("Pte::swap_slot: slot beyond u32")
    }

    /// The frame (PPN) of this entry.
    pub fn frame(self) -> FrameId {
        let ppn = (self.0 >> PPN_SHIFT) & PPN_MASK;
        FrameId::from_index(u32::try_from(ppn).expect("Pte::frame: PPN beyond the frame pool"))
    }
}

impl fmt::Debug for Pte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_swap() {
            return write!(f, "Pte(swap slot {})", self.swap_slot());
        }
        let bit = |b: u64, c: char| if self.has(b) { c } else { '-' };
        write!(
            f,
            "Pte({}{}{}{}{}{}{}{}{} frame {})",
            bit(Pte::V, 'V'),
            bit(Pte::R, 'R'),
            bit(Pte::W, 'W'),
            bit(Pte::X, 'X'),
            bit(Pte::U, 'U'),
            bit(Pte::G, 'G'),
            bit(Pte::A, 'A'),
            bit(Pte::D, 'D'),
            if self.has(Pte::COW) { " cow" } else { "" },
            (self.0 >> PPN_SHIFT) & PPN_MASK
        )
    }
}

/// Where a level-0 PTE lives: its table frame and index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PteSlot {
    pub table: FrameId,
    pub index: usize,
}

pub(crate) fn vpn(va: u64, level: usize) -> usize {
    ((va >> (12 + 9 * level)) & 0x1ff) as usize
}

/// Bytes covered by one entry of a level-`level` table.
pub(crate) fn span(level: usize) -> u64 {
    PAGE_SIZE << (9 * level)
}

pub(crate) fn read_entry(pm: &PhysMem, table: FrameId, index: usize) -> Pte {
    let bytes = pm.bytes(table);
    let raw: [u8; 8] = bytes[index * 8..index * 8 + 8]
        .try_into()
        .expect("read_entry: slice of 8");
    Pte(u64::from_le_bytes(raw))
}

pub(crate) fn write_entry(pm: &mut PhysMem, table: FrameId, index: usize, pte: Pte) {
    pm.bytes_mut(table)[index * 8..index * 8 + 8].copy_from_slice(&pte.0.to_le_bytes());
}

/// Reads the PTE at `slot`.
pub fn read_pte(pm: &PhysMem, slot: PteSlot) -> Pte {
    read_entry(pm, slot.table, slot.index)
}

/// Writes the PTE at `slot` (no refcounting: the caller moves references).
pub fn write_pte(pm: &mut PhysMem, slot: PteSlot, pte: Pte) {
    write_entry(pm, slot.table, slot.index, pte);
}

/// Allocates an empty root table (refcount 1: the address space's reference).
pub fn new_root(pm: &mut PhysMem) -> Result<FrameId, MmError> {
    pm.alloc_kind(FrameKind::PageTable)
}

fn check_va(va: u64, who: &str) {
    assert!(va < USER_TOP, "{who}: address {va:#x} outside user space");
}

// Sv39 virtual address (39 bits used; user addresses are below 2^38):
//
//   38        30 29        21 20        12 11                   0
//  +------------+------------+------------+----------------------+
//  |   VPN[2]   |   VPN[1]   |   VPN[0]   |     page offset      |
//  +------------+------------+------------+----------------------+
//   index into    index into   index into
//   the root      a level-1    a level-0 (leaf) table
//
// A table is one frame of 512 little-endian u64 PTEs:
//
//   63     54 53                          10 9   8 7 6 5 4 3 2 1 0
//  +---------+------------------------------+-----+-+-+-+-+-+-+-+-+
//  |reserved |             PPN              | RSW |D|A|G|U|X|W|R|V|
//  +---------+------------------------------+-----+-+-+-+-+-+-+-+-+
//
//  V   valid.  V=1 and R=W=X=0: pointer to the next-level table.
//  R W X       leaf permissions (W without R is reserved by the spec).
//  U   user-accessible (set on every leaf here).   G  global (see below).
//  A D accessed / dirty, set by `translate` like hardware with Svadu.
//  RSW bit 8: COW — the page is write-protected because a write must copy
//             (or reuse) it: set only in private writable mappings.
//  RSW bit 9: on a non-valid entry (V=0, G=0), marks a swap entry: the PPN
//             field holds the swap slot (`Pte::swap`).
//  PPN = the FrameId.
//
//  A level-0 entry with V=0 and G=1 is a PROT_NONE page: not accessible, but
//  its PPN still holds the frame (Linux's _PAGE_PROT_NONE is _PAGE_GLOBAL on
//  riscv, arch/riscv/include/asm/pgtable-bits.h). User leaves are never global.

/// Finds the level-0 slot for `va` without allocating; `None` if an
/// intermediate table is missing. Precondition: `va < USER_TOP`.
pub fn walk(pm: &PhysMem, root: FrameId, va: u64) -> Option<PteSlot> {
    check_va(va, "walk");
    let mut table = root;
    for level in (1..LEVELS).rev() {
        let pte = read_entry(pm, table, vpn(va, level));
        if !pte.is_valid() {
            return None;
        }
        assert!(
            pte.is_table(),
            "walk: superpage leaf at level {level} for {va:#x}"
        );
        table = pte.frame();
    }
    Some(PteSlot {
        table,
        index: vpn(va, 0),
    })
}

/// Finds the level-0 slot for `va`, allocating missing intermediate tables.
/// On `Err(OutOfMemory)` tables allocated so far stay in the tree (empty;
/// [`prune`] or [`free_tree`] frees them). Precondition: `va < USER_TOP`.
pub fn walk_alloc(pm: &mut PhysMem, root: FrameId, va: u64) -> Result<PteSlot, MmError> {
    check_va(va, "walk_alloc");
    let mut table = root;
    for level in (1..LEVELS).rev() {
        let index = vpn(va, level);
        let pte = read_entry(pm, table, index);
        if pte.is_valid() {
            assert!(
                pte.is_table(),
                "walk_alloc: superpage leaf at level {level} for {va:#x}"
            );
            table = pte.frame();
        } else {
            let next = pm.alloc_kind(FrameKind::PageTable)?;
            write_entry(pm, table, index, Pte::table(next));
            table = next;
        }
    }
    Ok(PteSlot {
        table,
        index: vpn(va, 0),
    })
}

/// Maps page `va` to `frame` with leaf `flags`, moving one reference the
/// caller holds on `frame` into the table. Preconditions: `va` page aligned,
/// below `USER_TOP`, not mapped. On error nothing is mapped and the caller
/// still owns its reference.
pub fn map_page(
    pm: &mut PhysMem,
    root: FrameId,
    va: u64,
    frame: FrameId,
    flags: u64,
) -> Result<(), MmError> {
    assert!(va % PAGE_SIZE == 0, "map_page: not aligned");
    let slot = walk_alloc(pm, root, va)?;
    assert!(
        !read_pte(pm, slot).is_present(),
        "map_page: remap of {va:#x}"
    );
    write_pte(pm, slot, Pte::leaf(frame, flags));
    Ok(())
}

/// Unmaps page `va`, returning the old PTE, a present leaf or a swap
/// entry, whose reference (on the frame, or a count of the swap slot) now
/// belongs to the caller; `None` if nothing was mapped.
pub fn unmap_page(pm: &mut PhysMem, root: FrameId, va: u64) -> Option<Pte> {
    assert!(va % PAGE_SIZE == 0, "unmap_page: not aligned");
    let slot = walk(pm, root, va)?;
    let pte = read_pte(pm, slot);
    if !pte.is_present() && !pte.is_swap() {
        return None;
    }
    write_pte(pm, slot, Pte::EMPTY);
    Some(pte)
}

/// The present leaf (valid or PROT_NONE) mapping `va`, if any.
pub fn translate(pm: &PhysMem, root: FrameId, va: u64) -> Option<Pte> {
    let pte = read_pte(pm, walk(pm, root, va)?);
    pte.is_present().then_some(pte)
}

/// Callback of [`for_each_leaf`]: (pm, page address, slot, current PTE).
pub type LeafVisitor<'a> = dyn FnMut(&mut PhysMem, u64, PteSlot, Pte) -> Result<(), MmError> + 'a;

/// Calls `f` on every present leaf in `[start, end)` in address order,
/// skipping missing subtrees. `f` may rewrite the visited PTE but must not
/// free tables. Stops at the first error and returns it.
pub fn for_each_leaf(
    pm: &mut PhysMem,
    root: FrameId,
    start: u64,
    end: u64,
    f: &mut LeafVisitor<'_>,
) -> Result<(), MmError> {
    visit_range(pm, root, start, end, false, f)
}

/// [`for_each_leaf`], visiting swap entries ([`Pte::is_swap`]) as well as
/// present leaves.
pub fn for_each_entry(
    pm: &mut PhysMem,
    root: FrameId,
    start: u64,
    end: u64,
    f: &mut LeafVisitor<'_>,
) -> Result<(), MmError> {
    visit_range(pm, root, start, end, true, f)
}

/// The walk behind [`for_each_leaf`] (`swap` false) and
/// [`for_each_entry`] (`swap` true).
fn visit_range(
    pm: &mut PhysMem,
    root: FrameId,
    start: u64,
    end: u64,
    swap: bool,
    f: &mut LeafVisitor<'_>,
) -> Result<(), MmError> {
    assert!(
        start <= end && end <= USER_TOP,
        "for_each_leaf/for_each_entry: bad range {start:#x}..{end:#x}"
    );
    if start == end {
        return Ok(());
    }
    visit(pm, root, LEVELS - 1, 0, start, end, swap, f)
}

#[allow(clippy::too_many_arguments)]
fn visit(
    pm: &mut PhysMem,
    table: FrameId,
    level: usize,
    base: u64,
    start: u64,
    end: u64,
    swap: bool,
    f: &mut LeafVisitor<'_>,
) -> Result<(), MmError> {
    let span = span(level);
    let first = ((start - base) / span) as usize;
    let last = ((end - 1 - base) / span) as usize;
    for index in first..=last {
        let va = base + index as u64 * span;
        let pte = read_entry(pm, table, index);
        if level == 0 {
            if pte.is_present() || (swap && pte.is_swap()) {
                f(pm, va, PteSlot { table, index }, pte)?;
            }
        } else if pte.is_valid() {
            assert!(
                pte.is_table(),
                "for_each_leaf: superpage leaf at level {level} for {va:#x}"
            );
            visit(
                pm,
                pte.frame(),
                level - 1,
                va,
                start.max(va),
                end.min(va + span),
                swap,
                f,
            )?;
        }
    }
    Ok(())
}

/// Callback of [`for_each_leaf_table`]: (pm, address the table maps from,
/// the level-1 table and index pointing at it, the leaf table, the first
/// and last index of the range inside it).
pub type LeafTableVisitor<'a> =
    dyn FnMut(&mut PhysMem, u64, PteSlot, FrameId, usize, usize) -> Result<(), MmError> + 'a;

/// Calls `f` on every present level-0 (leaf) table meeting `[start, end)`
/// in address order, with the index range of the part inside the range.
/// The level-1 entry pointing at the table is given as a [`PteSlot`] (its
/// `table` is the level-1 table). `f` may rewrite the level-1 entry (to
/// share or replace the leaf table) but must not free upper tables. Stops
/// at the first error. Whole tables at a time, so callers can move 512
/// entries in one pass (fork).
pub fn for_each_leaf_table(
    pm: &mut PhysMem,
    root: FrameId,
    start: u64,
    end: u64,
    f: &mut LeafTableVisitor<'_>,
) -> Result<(), MmError> {
    assert!(
        start <= end && end <= USER_TOP,
        "for_each_leaf_table: bad range {start:#x}..{end:#x}"
    );
    if start == end {
        return Ok(());
    }
    let (l2, l1) = (span(2), span(1));
    for i2 in vpn(start, 2)..=vpn(end - 1, 2) {
        let top = read_entry(pm, root, i2);
        if !top.is_valid() {
            continue;
        }
        assert!(
            top.is_table(),
            "for_each_leaf_table: superpage leaf at level 2"
        );
        let base2 = i2 as u64 * l2;
        let (lo, hi) = (start.max(base2), end.min(base2 + l2));
        for i1 in vpn(lo, 1)..=vpn(hi - 1, 1) {
            let mid = read_entry(pm, top.frame(), i1);
            if !mid.is_valid() {
                continue;
            }
            assert!(
                mid.is_table(),
                "for_each_leaf_table: superpage leaf at level 1"
            );
            let base1 = base2 + i1 as u64 * l1;
            let (a, b) = (lo.max(base1), hi.min(base1 + l1));
            let slot = PteSlot {
                table: top.frame(),
                index: i1,
            };
            f(pm, base1, slot, mid.frame(), vpn(a, 0), vpn(b - 1, 0))?;
        }
    }
    Ok(())
}

/// The level-1 entry for `va` (whose value points at the leaf table
/// covering `va`), allocating a missing level-1 table; the entry itself is
/// left as it is. On `Err(OutOfMemory)` nothing changed.
pub fn walk_alloc_level1(pm: &mut PhysMem, root: FrameId, va: u64) -> Result<PteSlot, MmError> {
    check_va(va, "walk_alloc_level1");
    let index = vpn(va, 2);
    let top = read_entry(pm, root, index);
    let table = if top.is_valid() {
        assert!(
            top.is_table(),
            "walk_alloc_level1: superpage leaf at level 2"
        );
        top.frame()
    } else {
        let next = pm.alloc_kind(FrameKind::PageTable)?;
        write_entry(pm, root, index, Pte::table(next));
        next
    };
    Ok(PteSlot {
        table,
        index: vpn(va, 1),
    })
}

/// The level-1 entry for `va` if the level-1 table exists.
pub fn walk_level1(pm: &PhysMem, root: FrameId, va: u64) -> Option<PteSlot> {
    check_va(va, "walk_level1");
    let top = read_entry(pm, root, vpn(va, 2));
    if !top.is_valid() {
        return None;
    }
    assert!(top.is_table(), "walk_level1: superpage leaf at level 2");
    Some(PteSlot {
        table: top.frame(),
        index: vpn(va, 1),
    })
}

/// The 512 entries of a table, decoded.
pub fn read_table(pm: &PhysMem, table: FrameId) -> [Pte; PTES_PER_TABLE] {
    let bytes = pm.bytes(table);
    let mut out = [Pte::EMPTY; PTES_PER_TABLE];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        out[i] = Pte(u64::from_le_bytes(
            chunk.try_into().expect("read_table: chunk of 8"),
        ));
    }
    out
}

/// Whether any entry `first..=last` of the leaf table `table` is writable,
/// read in place. At level 0 an entry with W set is always a writable leaf
/// (PROT_NONE entries carry only G), so OR-ing the raw entries suffices,
/// which the compiler vectorizes.
pub fn any_writable(pm: &PhysMem, table: FrameId, first: usize, last: usize) -> bool {
    let acc = pm.bytes(table)[first * 8..(last + 1) * 8]
        .chunks_exact(8)
        .fold(0u64, |acc, c| {
            acc | u64::from_le_bytes(c.try_into().expect("any_writable: chunk of 8"))
        });
    acc & Pte::W != 0
}

/// Writes all 512 entries of a table (no refcounting).
pub fn write_table(pm: &mut PhysMem, table: FrameId, entries: &[Pte; PTES_PER_TABLE]) {
    let bytes = pm.bytes_mut(table);
    for (chunk, pte) in bytes.chunks_exact_mut(8).zip(entries) {
        chunk.copy_from_slice(&pte.0.to_le_bytes());
    }
}

/// The upper (root and level-1) tables of a tree, root first, and its leaf
/// tables with the address each maps from, read-only. For the invariant
/// checker, which must tell leaf tables (that may be shared between trees)
/// from upper ones.
pub fn collect_tables(pm: &PhysMem, root: FrameId) -> (Vec<FrameId>, Vec<(u64, FrameId)>) {
    let mut upper = vec![root];
    let mut leaf = Vec::new();
    for i2 in 0..PTES_PER_TABLE {
        let top = read_entry(pm, root, i2);
        if !top.is_valid() {
            assert_eq!(top, Pte::EMPTY, "collect_tables: junk in the root");
            continue;
        }
        let base2 = i2 as u64 * span(2);
        assert!(
            top.is_table() && base2 < USER_TOP,
            "collect_tables: bad root entry {i2}"
        );
        upper.push(top.frame());
        for i1 in 0..PTES_PER_TABLE {
            let mid = read_entry(pm, top.frame(), i1);
            if !mid.is_valid() {
                assert_eq!(mid, Pte::EMPTY, "collect_tables: junk in a level-1 table");
                continue;
            }
            assert!(mid.is_table(), "collect_tables: superpage leaf at level 1");
            leaf.push((base2 + i1 as u64 * span(1), mid.frame()));
        }
    }
    (upper, leaf)
}

/// Frees the intermediate tables in `[start, end)` that hold no entries
/// (after an unmap), like Linux's free_pgtables(). The root stays.
pub fn prune(pm: &mut PhysMem, root: FrameId, start: u64, end: u64) {
    assert!(
        start <= end && end <= USER_TOP,
        "prune: bad range {start:#x}..{end:#x}"
    );
    if start < end {
        prune_level(pm, root, LEVELS - 1, 0, start, end);
    }
}

/// Prunes below `table`; returns true if `table` is now entirely empty.
fn prune_level(
    pm: &mut PhysMem,
    table: FrameId,
    level: usize,
    base: u64,
    start: u64,
    end: u64,
) -> bool {
    if level > 0 {
        let span = span(level);
        let first = ((start - base) / span) as usize;
        let last = ((end - 1 - base) / span) as usize;
        for index in first..=last {
            let pte = read_entry(pm, table, index);
            if !pte.is_valid() {
                continue;
            }
            assert!(pte.is_table(), "prune: superpage leaf at level {level}");
            let va = base + index as u64 * span;
            if prune_level(
                pm,
                pte.frame(),
                level - 1,
                va,
                start.max(va),
                end.min(va + span),
            ) {
                write_entry(pm, table, index, Pte::EMPTY);
                pm.put(pte.frame());
            }
        }
    }
    pm.bytes(table).iter().all(|&b| b == 0)
}

/// Frees a whole tree, root included. Precondition: no leaf is present
/// (the caller unmapped everything first), like xv6's freewalk().
pub fn free_tree(pm: &mut PhysMem, root: FrameId) {
    free_level(pm, root, LEVELS - 1);
}

fn free_level(pm: &mut PhysMem, table: FrameId, level: usize) {
    for index in 0..PTES_PER_TABLE {
        let pte = read_entry(pm, table, index);
        if level == 0 {
            assert!(
                !pte.is_present() && !pte.is_swap(),
                "free_tree: leaf still mapped"
            );
        } else if pte.is_valid() {
            assert!(pte.is_table(), "free_tree: superpage leaf at level {level}");
            free_level(pm, pte.frame(), level - 1);
        }
    }
    pm.put(table);
}

/// Every table frame of the tree (root first) and every present leaf as
/// (address, PTE), read-only. For the invariant checker and statistics.
/// Swap entries are skipped (see [`collect_swap`]).
pub fn collect(pm: &PhysMem, root: FrameId) -> (Vec<FrameId>, Vec<(u64, Pte)>) {
    let mut tables = Vec::new();
    let mut leaves = Vec::new();
    collect_level(pm, root, LEVELS - 1, 0, &mut tables, &mut leaves);
    leaves.retain(|(_, pte)| pte.is_present());
    (tables, leaves)
}

/// Every swap entry of the tree as (address, PTE), read-only.
pub fn collect_swap(pm: &PhysMem, root: FrameId) -> Vec<(u64, Pte)> {
    let mut tables = Vec::new();
    let mut leaves = Vec::new();
    collect_level(pm, root, LEVELS - 1, 0, &mut tables, &mut leaves);
    leaves.retain(|(_, pte)| pte.is_swap());
    leaves
}

fn collect_level(
    pm: &PhysMem,
    table: FrameId,
    level: usize,
    base: u64,
    tables: &mut Vec<FrameId>,
    leaves: &mut Vec<(u64, Pte)>,
) {
    tables.push(table);
    for index in 0..PTES_PER_TABLE {
        let va = base + index as u64 * span(level);
        let pte = read_entry(pm, table, index);
        if level == 0 {
            if pte.is_present() || pte.is_swap() {
                leaves.push((va, pte));
            } else {
                assert_eq!(
                    pte,
                    Pte::EMPTY,
                    "collect: junk in an empty leaf entry at {va:#x}"
                );
            }
        } else if pte.is_valid() {
            assert!(
                pte.is_table(),
                "collect: superpage leaf at level {level} for {va:#x}"
            );
            assert!(
                level < LEVELS - 1 || va < USER_TOP,
                "collect: table above USER_TOP"
            );
            collect_level(pm, pte.frame(), level - 1, va, tables, leaves);
        } else {
            assert_eq!(
                pte,
                Pte::EMPTY,
                "collect: junk in an empty table entry at level {level}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: u64 = Pte::V | Pte::R | Pte::W | Pte::U;

    #[test]
    fn map_translate_unmap_one_page() {
        let mut pm = PhysMem::new(16);
        let root = new_root(&mut pm).unwrap();
        let frame = pm.alloc().unwrap();
        map_page(&mut pm, root, 0x1234_5000, frame, RW).unwrap();
        assert_eq!(pm.stats().page_table_frames, 3, "root + level-1 + level-0");
        let pte = translate(&pm, root, 0x1234_5000).unwrap();
        assert_eq!(pte.frame(), frame);
        assert!(pte.has(Pte::R | Pte::W));
        assert_eq!(translate(&pm, root, 0x1234_6000), None);
        let old = unmap_page(&mut pm, root, 0x1234_5000).unwrap();
        pm.put(old.frame());
        assert_eq!(translate(&pm, root, 0x1234_5000), None);
        prune(&mut pm, root, 0, USER_TOP);
        assert_eq!(
            pm.stats().page_table_frames,
            1,
            "empty tables freed, root kept"
        );
        free_tree(&mut pm, root);
        assert_eq!(pm.stats().frames_in_use, 0);
        pm.check_pool();
    }

    #[test]
    fn ptes_are_little_endian_sv39() {
        let mut pm = PhysMem::new(16);
        let root = new_root(&mut pm).unwrap();
        let frame = pm.alloc().unwrap();
        // VPN[2]=1, VPN[1]=2, VPN[0]=3
        let va = (1 << 30) | (2 << 21) | (3 << 12);
        map_page(&mut pm, root, va, frame, RW).unwrap();
        let l1 = read_entry(&pm, root, 1);
        assert!(l1.is_table());
        let l0 = read_entry(&pm, l1.frame(), 2);
        let slot = PteSlot {
            table: l0.frame(),
            index: 3,
        };
        let raw = &pm.bytes(slot.table)[24..32];
        let expected = (u64::from(frame.index()) << 10) | RW;
        assert_eq!(raw, &expected.to_le_bytes());
        let old = unmap_page(&mut pm, root, va).unwrap();
        pm.put(old.frame());
        prune(&mut pm, root, 0, USER_TOP);
        free_tree(&mut pm, root);
        pm.check_pool();
    }

    #[test]
    fn walk_alloc_out_of_frames_leaves_a_consistent_tree() {
        let mut pm = PhysMem::new(2);
        let root = new_root(&mut pm).unwrap();
        assert_eq!(
            walk_alloc(&mut pm, root, 0x4000_0000),
            Err(MmError::OutOfMemory)
        );
        assert_eq!(pm.stats().page_table_frames, 2);
        free_tree(&mut pm, root);
        assert_eq!(pm.stats().frames_in_use, 0);
    }

    #[test]
    fn for_each_leaf_visits_only_the_range_in_order() {
        let mut pm = PhysMem::new(64);
        let root = new_root(&mut pm).unwrap();
        let vas = [0x1000u64, 0x20_0000, 0x4000_0000, 0x3f_ffff_f000];
        for &va in &vas {
            let f = pm.alloc().unwrap();
            map_page(&mut pm, root, va, f, RW).unwrap();
        }
        let mut seen = Vec::new();
        for_each_leaf(&mut pm, root, 0x2000, USER_TOP, &mut |_, va, _, _| {
            seen.push(va);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, &vas[1..]);
        for_each_leaf(&mut pm, root, 0, USER_TOP, &mut |pm, _, slot, pte| {
            write_pte(pm, slot, Pte::EMPTY);
            pm.put(pte.frame());
            Ok(())
        })
        .unwrap();
        free_tree(&mut pm, root);
        assert_eq!(pm.stats().frames_in_use, 0);
    }

    #[test]
    fn prot_none_entry_keeps_its_frame_but_is_not_valid() {
        let frame = FrameId::from_index(77);
        let pte = Pte::prot_none(frame);
        assert!(pte.is_present() && !pte.is_valid() && !pte.is_leaf());
        assert_eq!(pte.frame(), frame);
    }

    #[test]
    #[should_panic(expected = "map_page: remap")]
    fn mapping_twice_panics() {
        let mut pm = PhysMem::new(16);
        let root = new_root(&mut pm).unwrap();
        let f = pm.alloc().unwrap();
        map_page(&mut pm, root, 0x1000, f, RW).unwrap();
        map_page(&mut pm, root, 0x1000, f, RW).unwrap();
    }

    #[test]
    #[should_panic(expected = "free_tree: leaf still mapped")]
    fn freeing_a_tree_with_leaves_panics() {
        let mut pm = PhysMem::new(16);
        let root = new_root(&mut pm).unwrap();
        let f = pm.alloc().unwrap();
        map_page(&mut pm, root, 0x1000, f, RW).unwrap();
        free_tree(&mut pm, root);
    }
}
