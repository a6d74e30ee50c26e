//! mmap, munmap, mprotect and brk (gVisor's `syscalls.go`; Linux's
//! mm/mmap.c, mm/mprotect.c, mm/vma.c). Each checks its arguments first,
//! then changes the VMAs, then makes the PTEs agree.
//!
//! None of these allocates frames (pages arrive lazily by faults), except
//! `MAP_POPULATE`, which is best effort; so once the arguments are accepted
//! they cannot fail half way.

use crate::address_space::AddressSpace;
use crate::fault::leaf_flags;
use crate::frame::{FrameKind, PhysMem};
use crate::pagetable::{self, Pte};
use crate::vma::{Backing, OnFork, Prot, Vma, VmaName};
use crate::{is_page_aligned, page_down, page_up, MmError, MMAP_MIN_ADDR, PAGE_SIZE, USER_TOP};

/// The `MAP_*` flags the memory system acts on (the kernel translates the
/// syscall's bits; `MAP_PRIVATE` is `shared: false`, `MAP_ANONYMOUS` is
/// [`Backing::Anonymous`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MapFlags {
    /// `MAP_FIXED`: place exactly at `addr`, replacing what is there.
    pub fixed: bool,
    /// `MAP_FIXED_NOREPLACE`: place exactly at `addr`, fail with `Exists` if
    /// anything is there.
    pub fixed_noreplace: bool,
    /// `MAP_SHARED` (otherwise `MAP_PRIVATE`).
    pub shared: bool,
    /// `MAP_GROWSDOWN`: a stack that grows on faults just below it.
    pub grows_down: bool,
    /// `MAP_POPULATE`: fault every page in now (best effort).
    pub populate: bool,
}

impl AddressSpace {
    /// Maps `len` bytes (> 0, rounded up to pages) with `prot`, backed by
    /// `backing` (a file offset must be page aligned). Placement: at `addr`
    /// if fixed (replacing what is there, like `MAP_FIXED`); else at the
    /// hint `addr` if that range is free; else the highest free range below
    /// `mmap_base` (mm/mmap.c:unmapped_area_topdown(), falling back to a
    /// bottom-up search from a third of the space like Linux). Returns the
    /// start.
    ///
    /// Errors (nothing changed): `InvalidArgument` for a zero length, an
    /// unaligned fixed address or offset, an offset overflowing, or
    /// `grows_down` on anything but private anonymous memory (Linux rejects
    /// it for shared anonymous); `NoMemory` if the range does not fit in
    /// user space or no room is left; `Exists` for `fixed_noreplace` over an
    /// existing mapping; `OutOfMemory` if a leaf table shared by a
    /// share-tables fork, which the range covers in part, cannot be copied.
    ///
    /// A shared anonymous mapping is backed by a new shared anonymous object
    /// (its `backing` in [`vmas`](Self::vmas) shows as that object).
    #[allow(clippy::too_many_arguments)]
    pub fn mmap(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        len: u64,
        prot: Prot,
        flags: MapFlags,
        backing: Backing,
        name: VmaName,
    ) -> Result<u64, MmError> {
        if len == 0 {
            return Err(MmError::InvalidArgument);
        }
        let len = page_up(len).ok_or(MmError::NoMemory)?;
        if len > USER_TOP {
            return Err(MmError::NoMemory);
        }
        if let Backing::File { offset, .. } = &backing {
            if !is_page_aligned(*offset) || offset.checked_add(len).is_none() {
                return Err(MmError::InvalidArgument);
            }
        }
        if flags.grows_down && (flags.shared || !backing.is_anonymous()) {
            return Err(MmError::InvalidArgument);
        }
        let start = if flags.fixed || flags.fixed_noreplace {
            if !is_page_aligned(addr) {
                return Err(MmError::InvalidArgument);
            }
            if addr > USER_TOP - len {
                return Err(MmError::NoMemory);
            }
            if flags.fixed_noreplace && self.vmas.overlaps(addr, addr + len) {
                return Err(MmError::Exists);
            }
            addr
        } else {
            self.find_free_area(addr, len).ok_or(MmError::NoMemory)?
        };
        self.unshare_range(pm, start, start + len, false)?;
        let backing = if flags.shared && backing.is_anonymous() {
            Backing::File {
                file: pm.new_shared_anon(len),
                offset: 0,
            }
        } else {
            backing
        };
        self.unmap_range(pm, start, start + len)?;
        let vma = Vma {
            start,
            end: start + len,
            prot,
            shared: flags.shared,
            backing,
            grows_down: flags.grows_down,
            name,
            on_fork: OnFork::Copy,
        };
        self.vmas.insert(vma);
        if flags.populate {
            self.populate(pm, start, start + len);
        }
        Ok(start)
    }

    /// Unmaps `[addr, addr + len)`, splitting VMAs at the edges and freeing
    /// the pages' frames. Unmapping a range with nothing mapped succeeds.
    /// `InvalidArgument` for an unaligned `addr`, a zero length or a range
    /// outside user space (mm/mmap.c:do_vmi_munmap()); `OutOfMemory`
    /// (nothing changed) if a shared leaf table must be copied and cannot.
    pub fn munmap(&mut self, pm: &mut PhysMem, addr: u64, len: u64) -> Result<(), MmError> {
        if !is_page_aligned(addr) || len == 0 {
            return Err(MmError::InvalidArgument);
        }
        let end = Self::user_range_end(addr, len).ok_or(MmError::InvalidArgument)?;
        self.unmap_range(pm, addr, end)
    }

    /// Removes `[start, end)` from the VMAs and the page tables.
    /// `Err(OutOfMemory)` (nothing changed) only if a shared leaf table the
    /// range covers in part cannot be copied (share-tables fork).
    pub(crate) fn unmap_range(
        &mut self,
        pm: &mut PhysMem,
        start: u64,
        end: u64,
    ) -> Result<(), MmError> {
        self.unshare_range(pm, start, end, false)?;
        let removed = self.vmas.remove_range(start, end);
        if removed.is_empty() {
            return Ok(());
        }
        self.unmap_ptes(pm, start, end);
        self.writeback_unmapped(pm, &removed);
        drop(removed);
        pm.reap_shared_anon();
        Ok(())
    }

    /// Changes the protection of `[addr, addr + len)` to `prot`, splitting
    /// and re-merging VMAs, and makes present PTEs agree: removing a
    /// permission revokes it (flushing the TLB); adding write makes a
    /// private page writable only if it is an anonymous frame nobody else
    /// holds; zero-frame, page-cache and shared COW pages stay read-only
    /// (marked COW) and fault on the next write, as do pages of shared
    /// mappings (so the write marks them dirty).
    ///
    /// A zero `len` succeeds. Errors (nothing changed): `InvalidArgument` for
    /// an unaligned `addr`; `NoMemory` if any page in the range is unmapped
    /// (mm/mprotect.c:do_mprotect_pkey(); unlike Linux, which changes the
    /// VMAs before the hole, this changes nothing); `OutOfMemory` (nothing
    /// changed) if a shared leaf table in the range cannot be copied.
    pub fn mprotect(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        len: u64,
        prot: Prot,
    ) -> Result<(), MmError> {
        if !is_page_aligned(addr) {
            return Err(MmError::InvalidArgument);
        }
        if len == 0 {
            return Ok(());
        }
        let end = Self::user_range_end(addr, len).ok_or(MmError::NoMemory)?;
        if !self.vmas.covers(addr, end) {
            return Err(MmError::NoMemory);
        }
        self.unshare_range(pm, addr, end, true)?;
        self.vmas.split_at(addr);
        self.vmas.split_at(end);
        let mut pieces = Vec::new();
        self.vmas.update_range(addr, end, |vma| {
            vma.prot = prot;
            pieces.push((vma.start, vma.end, vma.shared));
        });
        for (start, end, shared) in pieces {
            self.reprotect_ptes(pm, start, end, prot, shared);
        }
        self.vmas.merge_range(addr, end);
        Ok(())
    }

    /// Rewrites the present PTEs of `[start, end)` (one VMA) for `prot`.
    fn reprotect_ptes(&mut self, pm: &mut PhysMem, start: u64, end: u64, prot: Prot, shared: bool) {
        let mut revoked = false;
        pagetable::for_each_leaf(pm, self.root, start, end, &mut |pm, _va, slot, pte| {
            let frame = pte.frame();
            let new = if prot.is_none() {
                Pte::prot_none(frame)
            } else {
                let exclusive_anon =
                    pm.frame_kind(frame) == FrameKind::Anon && pm.refcount(frame) == 1;
                let writable = prot.write && (pte.has(Pte::W) || (!shared && exclusive_anon));
                let accessed_dirty = pte.flags() & (Pte::A | Pte::D);
                let flags =
                    (leaf_flags(prot, shared, writable) & !(Pte::A | Pte::D)) | accessed_dirty;
                Pte::leaf(frame, flags)
            };
            revoked |= pte.flags() & (Pte::R | Pte::W | Pte::X) & !new.flags() != 0;
            pagetable::write_pte(pm, slot, new);
            Ok(())
        })
        .expect("reprotect_ptes: the visitor cannot fail");
        if revoked {
            self.flush_tlb();
        }
    }

    /// Sets the program break's base once at exec: `start_brk = brk =` the
    /// page-aligned end of the bss (load_elf_binary()). Panics if `base` is
    /// beyond user space (a kernel bug).
    pub fn set_brk_base(&mut self, base: u64) {
        let base = page_up(base)
            .filter(|&b| b <= USER_TOP)
            .expect("set_brk_base: base beyond user space");
        self.brk_start = base;
        self.brk_end = base;
        self.brk_set = true;
    }

    /// The brk system call (mm/mmap.c): returns the new break on success and
    /// the current one on failure. `new_end` below `start_brk` (0 included)
    /// just returns the current break, as does any call before
    /// [`set_brk_base`](Self::set_brk_base). Growing extends the `[heap]` VMA and
    /// fails if it would come within a page (plus the stack guard gap) of
    /// the next mapping; shrinking unmaps the pages above the new break.
    pub fn brk(&mut self, pm: &mut PhysMem, new_end: u64) -> u64 {
        if !self.brk_set || new_end < self.brk_start || new_end > USER_TOP {
            return self.brk_end;
        }
        let old_top = page_up(self.brk_end).expect("brk: break beyond user space");
        let new_top = page_up(new_end).expect("brk: checked against USER_TOP");
        if new_top < old_top {
            if self.unmap_range(pm, new_top, old_top).is_err() {
                return self.brk_end;
            }
        } else if new_top > old_top {
            if let Some(next) = self.vmas.first_ending_above(old_top) {
                if new_top + PAGE_SIZE > next.start_gap() {
                    return self.brk_end;
                }
            }
            let heap = Vma {
                start: old_top,
                end: new_top,
                prot: Prot::READ_WRITE,
                shared: false,
                backing: Backing::Anonymous,
                grows_down: false,
                name: VmaName::Heap,
                on_fork: OnFork::Copy,
            };
            self.vmas.insert(heap);
        }
        self.brk_end = new_end;
        new_end
    }

    /// Chooses where a non-fixed mapping of `len` bytes goes: the hint if
    /// free, else top-down below `mmap_base`, else bottom-up.
    pub(crate) fn find_free_area(&self, hint: u64, len: u64) -> Option<u64> {
        // mm/mmap.c:round_hint_to_min()
        let hint = match page_down(hint) {
            0 => 0,
            h if h < MMAP_MIN_ADDR => MMAP_MIN_ADDR,
            h => h,
        };
        if hint != 0 && self.range_is_free(hint, len) {
            return Some(hint);
        }
        self.free_area_top_down(len)
            .or_else(|| self.free_area_bottom_up(len))
    }

    /// Whether `[start, start + len)` is inside the mmap-able space and
    /// clear of every VMA (and of the guard gap below a stack).
    fn range_is_free(&self, start: u64, len: u64) -> bool {
        let Some(end) = start.checked_add(len) else {
            return false;
        };
        if start < MMAP_MIN_ADDR || end > USER_TOP {
            return false;
        }
        self.vmas
            .first_ending_above(start)
            .is_none_or(|next| end <= next.start_gap())
    }

    /// The highest free range of `len` bytes below `mmap_base`.
    fn free_area_top_down(&self, len: u64) -> Option<u64> {
        let mut upper = self.mmap_base;
        for vma in self.vmas.iter().rev() {
            if vma.end <= upper {
                let lower = vma.end.max(MMAP_MIN_ADDR);
                if upper >= lower && upper - lower >= len {
                    return Some(upper - len);
                }
            }
            upper = upper.min(vma.start_gap());
            if upper <= MMAP_MIN_ADDR {
                return None;
            }
        }
        (upper >= MMAP_MIN_ADDR && upper - MMAP_MIN_ADDR >= len).then(|| upper - len)
    }

    /// The lowest free range of `len` bytes from `TASK_UNMAPPED_BASE`
    /// (a third of the space) up: Linux's fallback when top-down fails.
    fn free_area_bottom_up(&self, len: u64) -> Option<u64> {
        let mut lower = page_up(USER_TOP / 3).expect("free_area_bottom_up: constant");
        for vma in self.vmas.iter() {
            if vma.end <= lower {
                continue;
            }
            let upper = vma.start_gap();
            if upper >= lower && upper - lower >= len {
                return Some(lower);
            }
            lower = lower.max(vma.end);
        }
        (USER_TOP - lower >= len).then_some(lower)
    }
}
