//! Write-back of dirty shared file pages to their file: msync, and the
//! write-back done when a shared mapping goes away (munmap, exit) or when
//! reclaim needs the frame (mm/msync.c, mm/page-writeback.c).
//!
//! A page-cache page becomes dirty when a shared mapping is given write
//! access to it (fault.rs). Writing it back copies the frame's bytes (up to
//! end of file: write-back never extends a file) with
//! [`FileSource::write_at`]. The page is marked clean only when no
//! writable PTE can still reach it: without a reverse map, that is known
//! when the page's only other references are PTEs this address space just
//! write-protected (or none at all). Otherwise it stays dirty and is
//! written again later, which is harmless.

use crate::address_space::AddressSpace;
use crate::frame::PhysMem;
use crate::pagetable::{self, Pte};
use crate::vma::{Backing, FileSource, Vma};
use crate::{is_page_aligned, MmError, PAGE_SIZE, SHARED_ANON_DEV};

impl PhysMem {
    /// Writes page `index` of `file` back if it is cached and dirty, and
    /// marks it clean if `others` (references other than the cache's) is
    /// what its refcount says. Returns Ok(true) if something was written.
    /// On an I/O error the page stays dirty.
    pub(crate) fn writeback_page(
        &mut self,
        file: &dyn FileSource,
        index: u64,
        others: u32,
    ) -> std::io::Result<bool> {
        let (dev, ino) = file.id();
        if dev == SHARED_ANON_DEV {
            return Ok(false);
        }
        let Some(page) = self.cache.lookup((dev, ino), index) else {
            return Ok(false);
        };
        if !page.dirty {
            return Ok(false);
        }
        let offset = index * PAGE_SIZE;
        let len = file.len()?;
        if offset < len {
            let n = (len - offset).min(PAGE_SIZE) as usize;
            let bytes = self.bytes(page.frame)[..n].to_vec();
            let mut done = 0;
            while done < n {
                match file.write_at(offset + done as u64, &bytes[done..]) {
                    Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(k) => done += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.stats.writebacks += 1;
        if self.refcount(page.frame) == 1 + others {
            if let Some(p) = self.cache.page_mut((dev, ino, index)) {
                p.dirty = false;
            }
        }
        Ok(true)
    }
}

impl AddressSpace {
    /// After `removed` (VMAs of this space) were unmapped: writes back the
    /// dirty pages of the shared file mappings among them (munmap and exit
    /// write back, as Linux's page cache eventually does).
    pub(crate) fn writeback_unmapped(&mut self, pm: &mut PhysMem, removed: &[Vma]) {
        for vma in removed.iter().filter(|v| v.shared) {
            let Backing::File { file, offset } = &vma.backing else {
                continue;
            };
            let first = offset / PAGE_SIZE;
            let last = first + (vma.len() / PAGE_SIZE - 1);
            for (index, page) in pm.cache.file_pages(file.id(), first, last) {
                if page.dirty {
                    let _ = pm.writeback_page(&**file, index, 0);
                }
            }
        }
    }

    /// msync(2) on `[addr, addr + len)` (mm/msync.c): writes back the dirty
    /// pages of every shared file mapping in the range and write-protects
    /// this space's PTEs to them (so the next write dirties them again).
    /// `MS_ASYNC` is done at once too (so read(2) of the file, which reads
    /// the host file, sees the data); `MS_INVALIDATE` has nothing more to
    /// do (there is no mlock). The kernel checks the flag bits.
    ///
    /// Errors: `InvalidArgument` for an unaligned `addr`; `NoMemory` if the
    /// range overflows or part of it is unmapped (the mapped parts are still
    /// synced, as Linux does). An I/O error leaves the page dirty (a later
    /// write-back retries it) and is not reported.
    pub fn msync(&mut self, pm: &mut PhysMem, addr: u64, len: u64) -> Result<(), MmError> {
        if !is_page_aligned(addr) {
            return Err(MmError::InvalidArgument);
        }
        let len = crate::page_up(len).ok_or(MmError::NoMemory)?;
        let end = addr.checked_add(len).ok_or(MmError::NoMemory)?;
        if end == addr {
            return Ok(());
        }
        if addr >= crate::USER_TOP {
            // No VMA can start there (find_vma() finds none): ENOMEM.
            return Err(MmError::NoMemory);
        }
        let hole = end > crate::USER_TOP || !self.vmas.covers(addr, end.min(crate::USER_TOP));
        let end = end.min(crate::USER_TOP);
        let targets: Vec<Vma> = self
            .vmas
            .overlapping(addr, end)
            .filter(|v| v.shared && !v.backing.is_anonymous())
            .cloned()
            .collect();
        let mut protected = false;
        for vma in targets {
            let Backing::File { file, offset } = &vma.backing else {
                continue;
            };
            let (start, stop) = (vma.start.max(addr), vma.end.min(end));
            let first = (offset + (start - vma.start)) / PAGE_SIZE;
            let last = first + (stop - start) / PAGE_SIZE - 1;
            // Only the cached pages: a huge mapping of a small file costs little.
            for (index, page) in pm.cache.file_pages(file.id(), first, last) {
                if !page.dirty {
                    continue;
                }
                let va = vma.start + (index * PAGE_SIZE - offset);
                let mine = match pagetable::walk(pm, self.root, va) {
                    Some(slot) => {
                        let pte = pagetable::read_pte(pm, slot);
                        if pte.is_present() && pte.has(Pte::W) {
                            pagetable::write_pte(pm, slot, pte.without(Pte::W | Pte::D));
                            protected = true;
                        }
                        u32::from(pte.is_present())
                    }
                    None => 0,
                };
                let _ = pm.writeback_page(&**file, index, mine);
            }
        }
        if protected {
            self.flush_tlb();
        }
        if hole {
            Err(MmError::NoMemory)
        } else {
            Ok(())
        }
    }
}
