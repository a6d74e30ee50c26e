//! Guest memory as the CPU and the syscalls see it.
//!
//! [`GuestMemory`] implements the CPU's [`Bus`]: it translates through a small
//! software TLB, refilled from the address space's page tables
//! (`AddressSpace::translate`), and reports a missing or insufficient
//! translation as a [`MemFault`] *without* fixing it. The CPU stops with that
//! fault, and the kernel's run loop hands it to the memory system's fault
//! handler, exactly as a trap travels to `do_page_fault()` in Linux.
//!
//! Syscalls reach user memory through [`GuestMemory::copy_in`] and friends,
//! which do resolve faults (as Linux's `copy_from_user` does through the
//! same fault handler) and turn an unresolvable one into EFAULT.

use cowix_isa::{Access as CpuAccess, Bus, MemFault};
use cowix_mm::{Access, AddressSpace, FaultError, FrameId, PhysMem, PAGE_SIZE};

use crate::errno::Errno;

const TLB_ENTRIES: usize = 256;
const PERM_R: u8 = 1;
const PERM_W: u8 = 2;
const PERM_X: u8 = 4;

#[derive(Debug, Clone, Copy)]
struct TlbEntry {
    /// Virtual page number, or `u64::MAX` when empty.
    vpn: u64,
    frame: FrameId,
    /// PERM_* bits this translation was verified for.
    perms: u8,
}

/// A direct-mapped software TLB. Entries are only a cache of the page
/// tables: the whole TLB is flushed whenever the address space's TLB
/// generation moves (a PTE lost a permission or changed frame).
#[derive(Debug, Clone)]
pub struct Tlb {
    entries: Vec<TlbEntry>,
    generation: u64,
}

impl Tlb {
    pub fn new(zero: FrameId) -> Self {
        Tlb {
            entries: vec![TlbEntry { vpn: u64::MAX, frame: zero, perms: 0 }; TLB_ENTRIES],
            generation: u64::MAX,
        }
    }

    /// Drops every entry if the address space changed since the last sync.
    pub fn sync(&mut self, mm: &AddressSpace) {
        let g = mm.tlb_generation();
        if g != self.generation {
            for e in &mut self.entries {
                e.vpn = u64::MAX;
            }
            self.generation = g;
        }
    }
}

fn perm_bit(a: Access) -> u8 {
    match a {
        Access::Read => PERM_R,
        Access::Write => PERM_W,
        Access::Execute => PERM_X,
    }
}

fn to_mm(a: CpuAccess) -> Access {
    match a {
        CpuAccess::Read => Access::Read,
        CpuAccess::Write => Access::Write,
        CpuAccess::Execute => Access::Execute,
    }
}

pub fn to_cpu(a: Access) -> CpuAccess {
    match a {
        Access::Read => CpuAccess::Read,
        Access::Write => CpuAccess::Write,
        Access::Execute => CpuAccess::Execute,
    }
}

/// One process's view of memory for the duration of a CPU run or a syscall.
#[derive(Debug)]
pub struct GuestMemory<'a> {
    pub pm: &'a mut PhysMem,
    pub mm: &'a mut AddressSpace,
    pub tlb: &'a mut Tlb,
}

impl GuestMemory<'_> {
    /// The frame backing `addr` for `access`, from the TLB or the page tables.
    #[inline]
    fn frame(&mut self, addr: u64, access: Access) -> Option<FrameId> {
        let vpn = addr / PAGE_SIZE;
        let bit = perm_bit(access);
        let slot = (vpn as usize) % TLB_ENTRIES;
        let e = self.tlb.entries[slot];
        if e.vpn == vpn && e.perms & bit != 0 {
            return Some(e.frame);
        }
        let frame = self.mm.translate(self.pm, addr, access)?;
        let e = &mut self.tlb.entries[slot];
        if e.vpn == vpn && e.frame == frame {
            e.perms |= bit;
        } else {
            *e = TlbEntry { vpn, frame, perms: bit };
        }
        Some(frame)
    }

    fn fault(addr: u64, access: Access) -> MemFault {
        MemFault { addr, access: to_cpu(access) }
    }

    /// Reads `buf.len()` bytes at `addr` without resolving faults.
    fn read_bytes(&mut self, addr: u64, buf: &mut [u8], access: Access) -> Result<(), MemFault> {
        let mut done = 0;
        while done < buf.len() {
            let a = addr.wrapping_add(done as u64);
            let off = (a % PAGE_SIZE) as usize;
            let n = (buf.len() - done).min(PAGE_SIZE as usize - off);
            let f = self.frame(a, access).ok_or(Self::fault(a, access))?;
            buf[done..done + n].copy_from_slice(&self.pm.bytes(f)[off..off + n]);
            done += n;
        }
        Ok(())
    }

    /// Writes `data` at `addr` all-or-nothing: every page is translated for
    /// writing before any byte is stored.
    fn write_bytes(&mut self, addr: u64, data: &[u8]) -> Result<(), MemFault> {
        let first = addr / PAGE_SIZE;
        let last = addr.wrapping_add(data.len() as u64 - 1) / PAGE_SIZE;
        if first != last {
            let second = last * PAGE_SIZE;
            self.frame(second, Access::Write).ok_or(Self::fault(second, Access::Write))?;
        }
        let mut done = 0;
        while done < data.len() {
            let a = addr.wrapping_add(done as u64);
            let off = (a % PAGE_SIZE) as usize;
            let n = (data.len() - done).min(PAGE_SIZE as usize - off);
            let f = self.frame(a, Access::Write).ok_or(Self::fault(a, Access::Write))?;
            self.pm.bytes_mut(f)[off..off + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Resolves a fault at `addr` as a syscall's user access would: Ok when
    /// the page is now accessible; EFAULT when Linux's copy_*_user would fail.
    fn fix(&mut self, addr: u64, access: Access) -> Result<(), Errno> {
        match self.mm.handle_fault(self.pm, addr, access) {
            Ok(_) => {
                self.tlb.sync(self.mm);
                Ok(())
            }
            Err(FaultError::OutOfMemory) => Err(Errno::ENOMEM),
            Err(_) => Err(Errno::EFAULT),
        }
    }

    /// Copies guest memory into `buf` (copy_from_user), faulting pages in.
    pub fn copy_in(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        if addr.checked_add(buf.len() as u64).is_none() {
            return Err(Errno::EFAULT);
        }
        let mut tries = 0;
        loop {
            match self.read_bytes(addr, buf, Access::Read) {
                Ok(()) => return Ok(()),
                Err(f) if tries < 2 * (buf.len() / PAGE_SIZE as usize + 2) => {
                    tries += 1;
                    self.fix(f.addr, Access::Read)?;
                }
                Err(_) => return Err(Errno::EFAULT),
            }
        }
    }

    /// Copies `data` into guest memory (copy_to_user), faulting pages in.
    pub fn copy_out(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        if data.is_empty() {
            return Ok(());
        }
        if addr.checked_add(data.len() as u64).is_none() {
            return Err(Errno::EFAULT);
        }
        // Page by page, so a large copy faults in at most one page at a time.
        let mut done = 0;
        while done < data.len() {
            let a = addr + done as u64;
            let n = (data.len() - done).min((PAGE_SIZE - a % PAGE_SIZE) as usize);
            let mut tries = 0;
            while let Err(f) = self.write_bytes(a, &data[done..done + n]) {
                tries += 1;
                if tries > 3 {
                    return Err(Errno::EFAULT);
                }
                self.fix(f.addr, Access::Write)?;
            }
            done += n;
        }
        Ok(())
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    /// ENAMETOOLONG-style limits are the caller's: here too long is `Err(ERANGE)`.
    pub fn read_cstr(&mut self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut a = addr;
        loop {
            let n = (PAGE_SIZE - a % PAGE_SIZE) as usize;
            let mut chunk = vec![0u8; n];
            self.copy_in(a, &mut chunk)?;
            if let Some(z) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..z]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
            if out.len() > max {
                return Err(Errno::ERANGE);
            }
            a = a.checked_add(n as u64).ok_or(Errno::EFAULT)?;
        }
    }

    pub fn read_u64(&mut self, addr: u64) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        self.copy_in(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    pub fn write_u64(&mut self, addr: u64, v: u64) -> Result<(), Errno> {
        self.copy_out(addr, &v.to_le_bytes())
    }

    pub fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), Errno> {
        self.copy_out(addr, &v.to_le_bytes())
    }
}

impl Bus for GuestMemory<'_> {
    #[inline]
    fn load(&mut self, addr: u64, size: u32) -> Result<u64, MemFault> {
        let mut b = [0u8; 8];
        self.read_bytes(addr, &mut b[..size as usize], Access::Read)?;
        Ok(u64::from_le_bytes(b))
    }

    #[inline]
    fn store(&mut self, addr: u64, size: u32, value: u64) -> Result<(), MemFault> {
        self.write_bytes(addr, &value.to_le_bytes()[..size as usize])
    }

    #[inline]
    fn fetch(&mut self, addr: u64) -> Result<u16, MemFault> {
        let mut b = [0u8; 2];
        self.read_bytes(addr, &mut b, Access::Execute)?;
        Ok(u16::from_le_bytes(b))
    }
}

/// Converts the CPU's access kind for the memory system's fault handler.
pub fn fault_access(a: CpuAccess) -> Access {
    to_mm(a)
}
