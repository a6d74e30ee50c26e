//! mincore(2): which pages of a range are resident (mm/mincore.c).

use crate::address_space::AddressSpace;
use crate::frame::PhysMem;
use crate::pagetable;
use crate::{is_page_aligned, MmError, PAGE_SIZE, USER_TOP};

impl AddressSpace {
    /// One byte per page of `[addr, addr + len)`: 1 if the page is resident,
    /// else 0, as mm/mincore.c:do_mincore() decides it: a present PTE
    /// (PROT_NONE included) is resident; a swap entry is resident if its
    /// slot is in the swap cache (mincore_swap()); an empty PTE of a file
    /// (or shared anonymous) mapping is resident if the page is in the page
    /// cache, even if nobody maps it (mincore_page()); otherwise 0.
    ///
    /// Errors: `InvalidArgument` for an unaligned `addr`; `NoMemory` if the
    /// range leaves user space or any page of it is not mapped. A zero
    /// `len` gives an empty vector.
    pub fn mincore(&self, pm: &PhysMem, addr: u64, len: u64) -> Result<Vec<u8>, MmError> {
        if !is_page_aligned(addr) {
            return Err(MmError::InvalidArgument);
        }
        let len = crate::page_up(len).ok_or(MmError::NoMemory)?;
        let end = addr.checked_add(len).ok_or(MmError::NoMemory)?;
        if end > USER_TOP {
            return Err(MmError::NoMemory);
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        if !self.vmas.covers(addr, end) {
            return Err(MmError::NoMemory);
        }
        let mut out = Vec::with_capacity((len / PAGE_SIZE) as usize);
        let mut va = addr;
        while va < end {
            let pte = pagetable::walk(pm, self.root, va).map(|s| pagetable::read_pte(pm, s));
            let resident = match pte {
                Some(p) if p.is_present() => true,
                Some(p) if p.is_swap() => pm.swap_cache_has(p.swap_slot()),
                _ => {
                    let vma = self.vmas.find(va).expect("mincore: covered");
                    vma.file_page(va)
                        .is_some_and(|(id, index)| pm.page_cache().lookup(id, index).is_some())
                }
            };
            out.push(u8::from(resident));
            va += PAGE_SIZE;
        }
        Ok(out)
    }
}
