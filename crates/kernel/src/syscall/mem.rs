//! Memory syscalls: argument checks as mm/mmap.c and mm/mprotect.c do them,
//! then the memory system does the work.

use std::rc::Rc;

use cowix_mm::{
    Advice, Backing, FileSource, MapFlags, MmError, Prot, RemapFlags, VmaName, PAGE_SIZE,
};

use super::Sys;
use crate::errno::{Errno, SysResult};
use crate::fd::{oflag, Object};

const PROT_READ: u32 = 1;
const PROT_WRITE: u32 = 2;
const PROT_EXEC: u32 = 4;
const PROT_GROWSDOWN: u32 = 0x0100_0000;

const MAP_SHARED: u32 = 0x01;
const MAP_PRIVATE: u32 = 0x02;
const MAP_SHARED_VALIDATE: u32 = 0x03;
const MAP_TYPE: u32 = 0x0f;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_GROWSDOWN: u32 = 0x0100;
const MAP_DENYWRITE: u32 = 0x0800;
const MAP_EXECUTABLE: u32 = 0x1000;
const MAP_LOCKED: u32 = 0x2000;
const MAP_NORESERVE: u32 = 0x4000;
const MAP_POPULATE: u32 = 0x8000;
const MAP_NONBLOCK: u32 = 0x1_0000;
const MAP_STACK: u32 = 0x2_0000;
const MAP_HUGETLB: u32 = 0x4_0000;
const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;
/// Flags MAP_SHARED_VALIDATE accepts (mm/mmap.c: LEGACY_MAP_MASK plus FIXED_NOREPLACE).
const KNOWN_FLAGS: u32 = MAP_TYPE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_GROWSDOWN
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB
    | MAP_FIXED_NOREPLACE;

fn mm_errno(e: MmError) -> Errno {
    Errno(e.errno())
}

fn prot_of(prot: u32) -> Result<Prot, Errno> {
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Prot {
        read: prot & PROT_READ != 0,
        write: prot & PROT_WRITE != 0,
        exec: prot & PROT_EXEC != 0,
    })
}

/// Rounds a length up to whole pages; ENOMEM when it overflows (as Linux).
fn page_len(len: u64) -> Result<u64, Errno> {
    cowix_mm::page_up(len).ok_or(Errno::ENOMEM)
}

pub fn mmap(
    sys: &mut Sys<'_>,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    fd: i32,
    off: u64,
) -> SysResult {
    let p = prot_of(prot & !PROT_GROWSDOWN)?;
    if len == 0 || off % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_len(len)?;
    let kind = flags & MAP_TYPE;
    let shared = match kind {
        MAP_PRIVATE => false,
        MAP_SHARED => true,
        MAP_SHARED_VALIDATE if flags & !KNOWN_FLAGS == 0 => true,
        MAP_SHARED_VALIDATE => return Err(Errno::ENOTSUP),
        _ => return Err(Errno::EINVAL),
    };
    if off.checked_add(len).is_none() {
        return Err(Errno::EOVERFLOW);
    }
    let fixed = flags & MAP_FIXED != 0;
    if fixed && addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let (backing, name) = if flags & MAP_ANONYMOUS != 0 {
        (Backing::Anonymous, VmaName::Anonymous)
    } else {
        let file = sys.p.fds.file(fd)?;
        let f = file.borrow();
        let host = match &f.object {
            Object::Host(h) if h.file.metadata()?.is_file() => h.clone(),
            Object::Host(_) => return Err(Errno::ENODEV),
            Object::Null | Object::Zero => {
                // Mapping /dev/zero privately is anonymous memory (drivers/char/mem.c).
                drop(f);
                return map(
                    sys,
                    addr,
                    len,
                    p,
                    flags,
                    shared,
                    Backing::Anonymous,
                    VmaName::Anonymous,
                );
            }
            _ => return Err(Errno::ENODEV),
        };
        let acc = f.flags & oflag::O_ACCMODE;
        if acc == oflag::O_WRONLY || (shared && p.write && acc != oflag::O_RDWR) {
            return Err(Errno::EACCES);
        }
        let source: Rc<dyn FileSource> = host;
        (
            Backing::File {
                file: source,
                offset: off,
            },
            VmaName::Path(f.path.clone()),
        )
    };
    map(sys, addr, len, p, flags, shared, backing, name)
}

#[allow(clippy::too_many_arguments)]
fn map(
    sys: &mut Sys<'_>,
    addr: u64,
    len: u64,
    prot: Prot,
    flags: u32,
    shared: bool,
    backing: Backing,
    name: VmaName,
) -> SysResult {
    let mf = MapFlags {
        fixed: flags & MAP_FIXED != 0,
        fixed_noreplace: flags & MAP_FIXED_NOREPLACE != 0,
        shared,
        grows_down: flags & MAP_GROWSDOWN != 0,
        populate: flags & MAP_POPULATE != 0,
    };
    let hint = cowix_mm::page_down(addr);
    // A fixed mapping replaces what it covers: only the rest is new.
    let replaced = if mf.fixed {
        mapped_bytes(sys, hint, len)
    } else {
        0
    };
    may_expand(sys, len.saturating_sub(replaced))?;
    let start = sys
        .p
        .mm
        .get_mut()
        .mmap(sys.pm, hint, len, prot, mf, backing, name)
        .map_err(mm_errno)?;
    Ok(start)
}

pub fn munmap(sys: &mut Sys<'_>, addr: u64, len: u64) -> SysResult {
    if addr % PAGE_SIZE != 0 || len == 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_len(len)?;
    sys.p
        .mm
        .get_mut()
        .munmap(sys.pm, addr, len)
        .map_err(mm_errno)?;
    Ok(0)
}

pub fn mprotect(sys: &mut Sys<'_>, addr: u64, len: u64, prot: u32) -> SysResult {
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let p = prot_of(prot & !PROT_GROWSDOWN)?;
    if len == 0 {
        return Ok(0);
    }
    let len = page_len(len)?;
    sys.p
        .mm
        .get_mut()
        .mprotect(sys.pm, addr, len, p)
        .map_err(mm_errno)?;
    Ok(0)
}

pub fn brk(sys: &mut Sys<'_>, new_end: u64) -> SysResult {
    // Growth past RLIMIT_AS fails as any failed brk does: the break stays.
    let (_, cur) = sys.p.mm.get().brk_range();
    let grow = cowix_mm::page_up(new_end)
        .unwrap_or(u64::MAX)
        .saturating_sub(cowix_mm::page_up(cur).unwrap_or(u64::MAX));
    if new_end > cur && may_expand(sys, grow).is_err() {
        return Ok(cur);
    }
    Ok(sys.p.mm.get_mut().brk(sys.pm, new_end))
}

/// Bytes of `[addr, addr + len)` already mapped.
fn mapped_bytes(sys: &Sys<'_>, addr: u64, len: u64) -> u64 {
    let end = addr.saturating_add(len);
    sys.p
        .mm
        .get_mut()
        .vmas()
        .filter(|v| v.start < end && addr < v.end)
        .map(|v| v.end.min(end) - v.start.max(addr))
        .sum()
}

/// RLIMIT_AS (mm/mmap.c: may_expand_vm()): the address space may not grow
/// past the limit: ENOMEM.
fn may_expand(sys: &Sys<'_>, extra: u64) -> Result<(), Errno> {
    let limit = sys.p.rlimits[crate::process::rlimit::AS].cur;
    if limit == crate::process::rlimit::INFINITY {
        return Ok(());
    }
    let total: u64 = sys.p.mm.get().vmas().map(|v| v.end - v.start).sum();
    if total.saturating_add(extra) > limit {
        Err(Errno::ENOMEM)
    } else {
        Ok(())
    }
}

/// madvise(2): the advice numbers of include/uapi/asm-generic/mman-common.h
/// mapped onto the memory system's [`Advice`]; an unknown one is EINVAL.
/// The range checks (EINVAL for an unaligned start, ENOMEM for holes after
/// the mapped parts were advised) are the memory system's, as in
/// mm/madvise.c:do_madvise().
pub fn madvise(sys: &mut Sys<'_>, addr: u64, len: u64, advice: u32) -> SysResult {
    const MADV_NORMAL: u32 = 0;
    const MADV_RANDOM: u32 = 1;
    const MADV_SEQUENTIAL: u32 = 2;
    const MADV_WILLNEED: u32 = 3;
    const MADV_DONTNEED: u32 = 4;
    const MADV_FREE: u32 = 8;
    const MADV_DONTFORK: u32 = 10;
    const MADV_DOFORK: u32 = 11;
    const MADV_MERGEABLE: u32 = 12;
    const MADV_UNMERGEABLE: u32 = 13;
    const MADV_HUGEPAGE: u32 = 14;
    const MADV_NOHUGEPAGE: u32 = 15;
    const MADV_DONTDUMP: u32 = 16;
    const MADV_DODUMP: u32 = 17;
    const MADV_WIPEONFORK: u32 = 18;
    const MADV_KEEPONFORK: u32 = 19;
    const MADV_COLD: u32 = 20;
    const MADV_PAGEOUT: u32 = 21;
    let advice = match advice {
        // Hints about access patterns, merging, huge pages, core dumps and
        // aging change nothing cowix computes.
        MADV_NORMAL | MADV_RANDOM | MADV_SEQUENTIAL | MADV_WILLNEED | MADV_MERGEABLE
        | MADV_UNMERGEABLE | MADV_HUGEPAGE | MADV_NOHUGEPAGE | MADV_DONTDUMP | MADV_DODUMP
        | MADV_COLD | MADV_PAGEOUT => Advice::Hint,
        MADV_DONTNEED => Advice::DontNeed,
        MADV_FREE => Advice::Free,
        MADV_DONTFORK => Advice::DontFork,
        MADV_DOFORK => Advice::DoFork,
        MADV_WIPEONFORK => Advice::WipeOnFork,
        MADV_KEEPONFORK => Advice::KeepOnFork,
        _ => return Err(Errno::EINVAL),
    };
    sys.p
        .mm
        .get_mut()
        .madvise(sys.pm, addr, len, advice)
        .map_err(mm_errno)?;
    Ok(0)
}

/// mremap(2) (mm/mremap.c): flags other than MREMAP_MAYMOVE, MREMAP_FIXED
/// and MREMAP_DONTUNMAP are EINVAL; the rest is the memory system's.
pub fn mremap(
    sys: &mut Sys<'_>,
    addr: u64,
    old_len: u64,
    new_len: u64,
    flags: u32,
    new_addr: u64,
) -> SysResult {
    const MREMAP_MAYMOVE: u32 = 1;
    const MREMAP_FIXED: u32 = 2;
    const MREMAP_DONTUNMAP: u32 = 4;
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
        return Err(Errno::EINVAL);
    }
    if new_len > old_len {
        may_expand(
            sys,
            page_len(new_len)
                .unwrap_or(u64::MAX)
                .saturating_sub(old_len),
        )?;
    }
    let rf = RemapFlags {
        may_move: flags & MREMAP_MAYMOVE != 0,
        fixed: flags & MREMAP_FIXED != 0,
        dont_unmap: flags & MREMAP_DONTUNMAP != 0,
    };
    sys.p
        .mm
        .get_mut()
        .mremap(sys.pm, addr, old_len, new_len, rf, new_addr)
        .map_err(mm_errno)
}

/// msync(2) (mm/msync.c): unknown flags, MS_ASYNC with MS_SYNC, or an
/// unaligned start are EINVAL; a range that overflows or has unmapped pages
/// is ENOMEM (the mapped parts are still written back). MS_ASYNC writes
/// back at once too, so read(2), which reads the host file, sees the data.
pub fn msync(sys: &mut Sys<'_>, addr: u64, len: u64, flags: u32) -> SysResult {
    const MS_ASYNC: u32 = 1;
    const MS_INVALIDATE: u32 = 2;
    const MS_SYNC: u32 = 4;
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || flags & (MS_ASYNC | MS_SYNC) == MS_ASYNC | MS_SYNC
        || addr % PAGE_SIZE != 0
    {
        return Err(Errno::EINVAL);
    }
    // sys_msync: the rounded-up end must not wrap (ENOMEM), nor pass user space.
    let end = addr.checked_add(page_len(len)?).ok_or(Errno::ENOMEM)?;
    if end > cowix_mm::USER_TOP {
        return Err(Errno::ENOMEM);
    }
    sys.p
        .mm
        .get_mut()
        .msync(sys.pm, addr, len)
        .map_err(mm_errno)?;
    Ok(0)
}

/// mincore(2) (mm/mincore.c): one byte per page of `[addr, addr + len)`,
/// 1 if resident. EINVAL for an unaligned start, ENOMEM for a range with
/// unmapped pages or beyond user space, EFAULT if `vec` cannot be written.
/// Done in chunks of 4096 pages, as Linux does, so a huge range costs no
/// huge host buffer (the chunks before an unmapped page are written).
pub fn mincore(sys: &mut Sys<'_>, addr: u64, len: u64, vec: u64) -> SysResult {
    const CHUNK: u64 = 4096 * PAGE_SIZE;
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_len(len)?;
    let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
    if end > cowix_mm::USER_TOP {
        return Err(Errno::ENOMEM);
    }
    let mut at = addr;
    while at < end {
        let n = (end - at).min(CHUNK);
        let bytes = sys
            .p
            .mm
            .get_mut()
            .mincore(sys.pm, at, n)
            .map_err(mm_errno)?;
        let out = vec
            .checked_add((at - addr) / PAGE_SIZE)
            .ok_or(Errno::EFAULT)?;
        sys.mem().copy_out(out, &bytes)?;
        at += n;
    }
    Ok(0)
}
