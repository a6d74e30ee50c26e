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

use cowix_hostmem::{JitMemory, TlbEntry};
use cowix_isa::{Access as CpuAccess, Bus, MemFault};
use cowix_mm::{Access, AddressSpace, FaultError, FrameId, PhysMem, PAGE_SIZE};

use crate::errno::Errno;

/// Entries in each of the TLB's three arrays (a power of two).
const TLB_ENTRIES: usize = 1024;

/// One direct-mapped array of translations verified for one kind of
/// access: `entry[i]` in the layout translated code reads
/// (`cowix_hostmem::TlbEntry`: `page` is the virtual page's address, or
/// `u64::MAX` when empty, never equal to a page address even with an
/// access's alignment bits, see [`tag`]; `offset` the frame's offset in
/// `PhysMem::ram`), `frame[i]` the same frame as a `FrameId`.
#[derive(Debug, Clone)]
struct TlbArray {
    entry: [TlbEntry; TLB_ENTRIES],
    frame: [FrameId; TLB_ENTRIES],
}

impl TlbArray {
    fn new(zero: FrameId) -> TlbArray {
        TlbArray {
            entry: [TlbEntry {
                page: u64::MAX,
                offset: 0,
            }; TLB_ENTRIES],
            frame: [zero; TLB_ENTRIES],
        }
    }

    fn flush(&mut self) {
        for e in self.entry.iter_mut() {
            e.page = u64::MAX;
        }
    }
}

/// A software TLB: three direct-mapped arrays (read, write, execute), each a
/// cache of translations `AddressSpace::translate` granted for that access,
/// indexed by the low bits of the virtual page number.
///
/// Invariants:
/// * the whole TLB is flushed whenever the address space's TLB generation
///   moves (a PTE lost a permission or changed frame);
/// * the write array never holds a frame that is code-watched
///   (`PhysMem::watch_code`), so every store to cached code goes through
///   `PhysMem::bytes_mut`, which ends the watch. It is flushed whenever
///   `PhysMem::code_watches` moves.
///
/// The arrays are inline (60 KiB), so owners keep a `Box<Tlb>` and an access
/// reaches its entry in one step from the `&mut Tlb`.
#[derive(Debug, Clone)]
pub struct Tlb {
    read: TlbArray,
    write: TlbArray,
    exec: TlbArray,
    /// The address space's TLB generation the entries are valid for.
    generation: u64,
    /// `PhysMem::code_watches()` when the write array was last checked.
    watches: u64,
}

/// What an aligned access of `size` bytes at `addr` compares with an
/// entry's `page`: `addr`'s page address, plus any of `addr`'s low bits
/// that make it misaligned. One compare thus checks both the page and that
/// the access is aligned, hence inside the page (as QEMU's softmmu does);
/// a misaligned access takes the slow path.
#[inline(always)]
fn tag(addr: u64, size: u32) -> u64 {
    addr & (!(PAGE_SIZE - 1) | (u64::from(size) - 1))
}

/// The slot of `addr`'s page in a TLB array.
#[inline(always)]
fn slot(addr: u64) -> usize {
    (addr / PAGE_SIZE) as usize & (TLB_ENTRIES - 1)
}

impl Tlb {
    /// An empty TLB (`zero` is any frame: empty entries name it).
    pub fn new(zero: FrameId) -> Box<Self> {
        Box::new(Tlb {
            read: TlbArray::new(zero),
            write: TlbArray::new(zero),
            exec: TlbArray::new(zero),
            generation: u64::MAX,
            watches: 0,
        })
    }

    /// Drops every entry if the address space changed since the last sync
    /// (and tells cached code to revalidate, by moving the code epoch), and
    /// the write entries if a frame became code-watched.
    pub fn sync(&mut self, mm: &AddressSpace, pm: &mut PhysMem) {
        let g = mm.tlb_generation();
        if g != self.generation {
            match mm.flushed_page() {
                // One page changed since we last looked (a COW copy):
                // drop only its entries.
                Some(page) if g == self.generation.wrapping_add(1) => {
                    let i = slot(page);
                    for a in [&mut self.read, &mut self.write, &mut self.exec] {
                        if a.entry[i].page & !(PAGE_SIZE - 1) == page {
                            a.entry[i].page = u64::MAX;
                        }
                    }
                }
                _ => {
                    self.read.flush();
                    self.write.flush();
                    self.exec.flush();
                }
            }
            self.generation = g;
            pm.bump_code_epoch();
        }
        self.sync_watches(pm);
    }

    /// Drops the write entries if a frame became code-watched since the last check.
    fn sync_watches(&mut self, pm: &PhysMem) {
        if pm.code_watches() != self.watches {
            self.write.flush();
            self.watches = pm.code_watches();
        }
    }

    fn array(&mut self, a: Access) -> &mut TlbArray {
        match a {
            Access::Read => &mut self.read,
            Access::Write => &mut self.write,
            Access::Execute => &mut self.exec,
        }
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

/// The address space a [`GuestMemory`] works on: a process's, borrowed
/// from its [`Mm`](crate::process::Mm) for as long as the view lives, or
/// one not yet given to a process (the ELF loader's).
#[derive(Debug)]
pub enum MmRef<'a> {
    Plain(&'a mut AddressSpace),
    Shared(std::cell::RefMut<'a, AddressSpace>),
}

impl std::ops::Deref for MmRef<'_> {
    type Target = AddressSpace;
    fn deref(&self) -> &AddressSpace {
        match self {
            MmRef::Plain(m) => m,
            MmRef::Shared(m) => m,
        }
    }
}

impl std::ops::DerefMut for MmRef<'_> {
    fn deref_mut(&mut self) -> &mut AddressSpace {
        match self {
            MmRef::Plain(m) => m,
            MmRef::Shared(m) => m,
        }
    }
}

impl<'a> From<&'a mut AddressSpace> for MmRef<'a> {
    fn from(m: &'a mut AddressSpace) -> Self {
        MmRef::Plain(m)
    }
}

impl<'a> From<std::cell::RefMut<'a, AddressSpace>> for MmRef<'a> {
    fn from(m: std::cell::RefMut<'a, AddressSpace>) -> Self {
        MmRef::Shared(m)
    }
}

/// One process's view of memory for the duration of a CPU run or a syscall.
#[derive(Debug)]
pub struct GuestMemory<'a> {
    pub pm: &'a mut PhysMem,
    pub mm: MmRef<'a>,
    pub tlb: &'a mut Tlb,
}

impl GuestMemory<'_> {
    /// The frame backing `addr` for `access`, from the TLB or the page tables.
    #[inline]
    fn frame(&mut self, addr: u64, access: Access) -> Option<FrameId> {
        let a = self.tlb.array(access);
        if a.entry[slot(addr)].page == tag(addr, 1) {
            return Some(a.frame[slot(addr)]);
        }
        self.fill(addr, access)
    }

    /// TLB miss: translates through the page tables and caches the result
    /// (write access to a code-watched frame is never cached).
    #[cold]
    #[inline(never)]
    fn fill(&mut self, addr: u64, access: Access) -> Option<FrameId> {
        let frame = self.mm.translate(self.pm, addr, access)?;
        if access != Access::Write || !self.pm.is_code_watched(frame) {
            let a = self.tlb.array(access);
            a.entry[slot(addr)] = TlbEntry {
                page: tag(addr, 1),
                offset: PhysMem::frame_offset(frame) as u64,
            };
            a.frame[slot(addr)] = frame;
        }
        Some(frame)
    }

    fn fault(addr: u64, access: Access) -> MemFault {
        MemFault {
            addr,
            access: to_cpu(access),
        }
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
            self.frame(second, Access::Write)
                .ok_or(Self::fault(second, Access::Write))?;
        }
        let mut done = 0;
        while done < data.len() {
            let a = addr.wrapping_add(done as u64);
            let off = (a % PAGE_SIZE) as usize;
            let n = (data.len() - done).min(PAGE_SIZE as usize - off);
            let f = self
                .frame(a, Access::Write)
                .ok_or(Self::fault(a, Access::Write))?;
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
                self.tlb.sync(&self.mm, self.pm);
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

/// Little-endian value of `size` (1, 2, 4 or 8) bytes at `ram[p..]`.
#[inline(always)]
fn read_le(ram: &[u8], p: usize, size: u32) -> u64 {
    match size {
        1 => u64::from(ram[p]),
        2 => u64::from(u16::from_le_bytes(
            ram[p..p + 2].try_into().expect("read_le: 2 bytes"),
        )),
        4 => u64::from(u32::from_le_bytes(
            ram[p..p + 4].try_into().expect("read_le: 4 bytes"),
        )),
        _ => u64::from_le_bytes(ram[p..p + 8].try_into().expect("read_le: 8 bytes")),
    }
}

/// Stores the low `size` (1, 2, 4 or 8) bytes of `v` at `ram[p..]`, little-endian.
#[inline(always)]
fn write_le(ram: &mut [u8], p: usize, size: u32, v: u64) {
    match size {
        1 => ram[p] = v as u8,
        2 => ram[p..p + 2].copy_from_slice(&(v as u16).to_le_bytes()),
        4 => ram[p..p + 4].copy_from_slice(&(v as u32).to_le_bytes()),
        _ => ram[p..p + 8].copy_from_slice(&v.to_le_bytes()),
    }
}

/// The CPU's view. Each access first tries the TLB array for its kind with
/// the access aligned (the common case: one compare, see [`tag`], and one
/// bounds-checked slice access); a miss or a misaligned access takes the
/// careful byte-wise path, which fills the TLB.
impl Bus for GuestMemory<'_> {
    #[inline(always)]
    fn load(&mut self, addr: u64, size: u32) -> Result<u64, MemFault> {
        let e = self.tlb.read.entry[slot(addr)];
        if e.page == tag(addr, size) {
            let off = (addr % PAGE_SIZE) as usize;
            return Ok(read_le(self.pm.ram(), e.offset as usize + off, size));
        }
        self.load_slow(addr, size)
    }

    #[inline(always)]
    fn store(&mut self, addr: u64, size: u32, value: u64) -> Result<(), MemFault> {
        let e = self.tlb.write.entry[slot(addr)];
        if e.page == tag(addr, size) {
            let off = (addr % PAGE_SIZE) as usize;
            // A write entry is never a code-watched frame (Tlb invariant).
            write_le(
                self.pm.ram_mut_unwatched(),
                e.offset as usize + off,
                size,
                value,
            );
            return Ok(());
        }
        self.store_slow(addr, size, value)
    }

    #[inline(always)]
    fn fetch(&mut self, addr: u64) -> Result<u16, MemFault> {
        let e = self.tlb.exec.entry[slot(addr)];
        if e.page == tag(addr, 2) {
            let off = (addr % PAGE_SIZE) as usize;
            return Ok(read_le(self.pm.ram(), e.offset as usize + off, 2) as u16);
        }
        let mut b = [0u8; 2];
        self.read_bytes(addr, &mut b, Access::Execute)?;
        Ok(u16::from_le_bytes(b))
    }

    /// The code version of `pc`'s frame (see `PhysMem::watch_code`): it
    /// changes whenever the frame's bytes may have changed. Watching a new
    /// frame drops the TLB's write entries, so that stores to it go through
    /// `PhysMem::bytes_mut`.
    fn code_version(&mut self, pc: u64) -> Result<u64, MemFault> {
        let f = self
            .frame(pc, Access::Execute)
            .ok_or(Self::fault(pc, Access::Execute))?;
        let v = self.pm.watch_code(f);
        self.tlb.sync_watches(self.pm);
        Ok(v)
    }

    /// The read and write TLB arrays and the RAM, for translated code
    /// (their entries satisfy [`Bus::jit_memory`]'s contract: a write entry
    /// never names a code-watched frame).
    #[inline]
    fn jit_memory(&mut self) -> Option<JitMemory<'_>> {
        JitMemory::new(
            self.pm.ram_mut_unwatched(),
            &self.tlb.read.entry,
            &self.tlb.write.entry,
        )
    }

    /// `PhysMem::code_epoch`: moves when a watched frame is written or freed
    /// and whenever a TLB is flushed.
    #[inline(always)]
    fn code_epoch(&self) -> u64 {
        self.pm.code_epoch()
    }
}

impl GuestMemory<'_> {
    #[cold]
    #[inline(never)]
    fn load_slow(&mut self, addr: u64, size: u32) -> Result<u64, MemFault> {
        let mut b = [0u8; 8];
        self.read_bytes(addr, &mut b[..size as usize], Access::Read)?;
        Ok(u64::from_le_bytes(b))
    }

    #[cold]
    #[inline(never)]
    fn store_slow(&mut self, addr: u64, size: u32, value: u64) -> Result<(), MemFault> {
        self.write_bytes(addr, &value.to_le_bytes()[..size as usize])
    }
}

/// Converts the CPU's access kind for the memory system's fault handler.
pub fn fault_access(a: CpuAccess) -> Access {
    to_mm(a)
}
