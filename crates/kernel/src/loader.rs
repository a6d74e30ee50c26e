//! Building a program's address space from its ELF file
//! (`fs/binfmt_elf.c:load_elf_binary()`).
//!
//! The new address space is built completely before anything of the old
//! one is touched, so a failing exec leaves the caller intact. Segments are
//! *mapped*, not copied: their pages load on demand from the page cache when
//! first touched, a written page of a private file mapping becomes anonymous
//! (seed 000_193edbf95e95c205.txt), and bss reads from the shared zero frame.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::rc::Rc;

use cowix_mm::{
    page_down, AddressSpace, Backing, FileSource, MapFlags, MmError, PhysMem, Prot, VmaName,
    PAGE_SIZE, USER_TOP,
};

use crate::elf::{self, ElfImage, ExecError, Segment, PHDR_SIZE};
use crate::fd::HostFile;
use crate::process::{ArgArea, Creds};
use crate::stack::{self, at, StackArgs};
use crate::uaccess::{GuestMemory, Tlb};
use crate::vfs::{Follow, Vfs};

/// `ELF_ET_DYN_BASE` for riscv64: two thirds of the Sv39 user space.
const ET_DYN_BASE: u64 = (USER_TOP / 3 * 2) & !(PAGE_SIZE - 1);
/// Linux grows a new stack mapping by this much below the arguments (`setup_arg_pages`).
const STACK_EXPAND: u64 = 128 * 1024;
/// `AT_HWCAP` for rv64imafdc: one bit per single-letter extension.
pub const HWCAP_RV64GC: u64 = hwcap(b"imafdc");
/// `AT_MINSIGSTKSZ` on riscv64 without the V extension: sizeof(struct rt_sigframe)
/// (siginfo 128 + ucontext 960), rounded to 16 (arch/riscv/kernel/signal.c).
pub const MINSIGSTKSZ: u64 = 1088;
/// sysconf(_SC_CLK_TCK).
const CLOCKS_PER_SEC: u64 = 100;

const fn hwcap(letters: &[u8]) -> u64 {
    let mut bits = 0;
    let mut i = 0;
    while i < letters.len() {
        bits |= 1 << (letters[i] - b'a');
        i += 1;
    }
    bits
}

/// What execve is asked to run.
#[derive(Debug, Clone)]
pub struct ExecRequest<'a> {
    pub path: &'a [u8],
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    pub cwd: &'a str,
    pub creds: Creds,
    pub stack_limit: u64,
    pub random: [u8; 16],
    /// Address-space layout randomization (`--aslr`): random words for the
    /// mmap base, the stack top, the break and a PIE's load address; `None`
    /// lays the image out the same way every time (Linux with
    /// `personality(ADDR_NO_RANDOMIZE)` or `randomize_va_space=0`).
    pub layout_random: Option<[u64; 4]>,
}

/// riscv64's `mmap_rnd_bits` (CONFIG_ARCH_MMAP_RND_BITS, 18 for Sv39):
/// the mmap base and a PIE's load address move by up to 2^18 pages (1 GiB).
const MMAP_RND_PAGES: u64 = 1 << 18;
/// riscv64's STACK_RND_MASK (0x3ffff pages): the stack top moves down by up
/// to 1 GiB.
const STACK_RND_MASK: u64 = 0x3ffff;
/// arch_randomize_brk(): the break starts up to 1 GiB above the image.
const BRK_RND_PAGES: u64 = 1 << 18;

/// A fully built program image, ready to replace the caller's.
#[derive(Debug)]
pub struct Loaded {
    pub mm: AddressSpace,
    pub tlb: Box<Tlb>,
    pub entry: u64,
    pub sp: u64,
    pub exe: String,
    pub args: ArgArea,
    pub auxv: Vec<(u64, u64)>,
    /// Where the `[vdso]` page is: its first word is the signal trampoline.
    pub vdso: u64,
}

/// The `[vdso]` page's code: `__vdso_rt_sigreturn` (`li a7, 139; ecall`),
/// where a signal handler returns to (its `ra`).
pub const SIGRETURN_TRAMPOLINE: [u32; 2] = [0x08b0_0893, 0x0000_0073];

/// Maps the one-page `[vdso]`: placed top-down below the mmap base like
/// any mmap(NULL) (so after the program interpreter, as Linux's
/// arch_setup_additional_pages), read+exec, holding only the sigreturn
/// trampoline. There is no ELF image in it and no AT_SYSINFO_EHDR, so libc
/// makes its syscalls directly. It is an ordinary private VMA, so fork
/// copies it.
fn map_vdso(pm: &mut PhysMem, mm: &mut AddressSpace) -> Result<u64, ExecError> {
    let rw = Prot {
        read: true,
        write: true,
        exec: false,
    };
    let name = VmaName::Path("[vdso]".into());
    let addr = mm
        .mmap(
            pm,
            0,
            PAGE_SIZE,
            rw,
            MapFlags::default(),
            Backing::Anonymous,
            name,
        )
        .map_err(mm_err)?;
    let code: Vec<u8> = SIGRETURN_TRAMPOLINE
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    mm.write_bytes(pm, addr, &code)
        .map_err(|_| ExecError::OutOfMemory)?;
    mm.mprotect(
        pm,
        addr,
        PAGE_SIZE,
        Prot {
            read: true,
            write: false,
            exec: true,
        },
    )
    .map_err(mm_err)?;
    Ok(addr)
}

/// An opened, validated ELF file and its guest path.
struct OpenElf {
    file: Rc<HostFile>,
    image: ElfImage,
    guest_path: String,
}

fn open_elf(vfs: &Vfs, cwd: &str, path: &[u8]) -> Result<OpenElf, ExecError> {
    let shown = String::from_utf8_lossy(path).into_owned();
    let not_found = |why: &str| ExecError::NotFound(format!("{shown}: {why}"));
    let r = vfs.resolve(cwd, path, Follow::Yes).map_err(|e| match e {
        crate::errno::Errno::ENOENT => not_found("No such file or directory"),
        crate::errno::Errno::ENOTDIR => not_found("Not a directory"),
        crate::errno::Errno::ELOOP => not_found("Too many levels of symbolic links"),
        crate::errno::Errno::ENAMETOOLONG => not_found("File name too long"),
        other => not_found(other.name()),
    })?;
    let meta = std::fs::metadata(&r.host).map_err(|_| not_found("No such file or directory"))?;
    if meta.is_dir() {
        return Err(ExecError::NotExecutable("directory".into()));
    }
    if !meta.is_file() {
        return Err(ExecError::NotExecutable("not a regular file".into()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(ExecError::NotExecutable(
            "permission denied (no execute permission)".into(),
        ));
    }
    let file = File::open(&r.host).map_err(ExecError::Io)?;
    let image = elf::parse(&file)?;
    let file = Rc::new(HostFile::new(file).map_err(ExecError::Io)?);
    Ok(OpenElf {
        file,
        image,
        guest_path: r.guest,
    })
}

fn mm_err(e: MmError) -> ExecError {
    match e {
        MmError::OutOfMemory => ExecError::OutOfMemory,
        other => ExecError::NotExecutable(format!("cannot map segments: {other}")),
    }
}

/// Loads the program `req.path` into a new address space.
pub fn load(pm: &mut PhysMem, vfs: &Vfs, req: &ExecRequest<'_>) -> Result<Loaded, ExecError> {
    let main = open_elf(vfs, req.cwd, req.path)?;
    let interp = match &main.image.interp {
        Some(p) => {
            let i = open_elf(vfs, "/", p).map_err(|e| match e {
                ExecError::NotFound(why) => {
                    ExecError::NotFound(format!("program interpreter {why}"))
                }
                ExecError::NotExecutable(what) => {
                    ExecError::NotExecutable(format!("its program interpreter is a {what}"))
                }
                other => other,
            })?;
            Some(i)
        }
        None => None,
    };
    let mut mm = AddressSpace::new(pm).map_err(mm_err)?;
    match build(pm, &mut mm, &main, interp.as_ref(), req) {
        Ok((entry, sp, args, auxv, tlb)) => match map_vdso(pm, &mut mm) {
            Ok(vdso) => Ok(Loaded {
                mm,
                tlb,
                entry,
                sp,
                exe: main.guest_path,
                args,
                auxv,
                vdso,
            }),
            Err(e) => {
                mm.release(pm);
                Err(e)
            }
        },
        Err(e) => {
            mm.release(pm);
            Err(e)
        }
    }
}

type Built = (u64, u64, ArgArea, Vec<(u64, u64)>, Box<Tlb>);

fn build(
    pm: &mut PhysMem,
    mm: &mut AddressSpace,
    main: &OpenElf,
    interp: Option<&OpenElf>,
    req: &ExecRequest<'_>,
) -> Result<Built, ExecError> {
    mm.set_stack_limit(req.stack_limit);
    let rnd = req.layout_random;
    if let Some(r) = rnd {
        mm.randomize_mmap_base(
            STACK_RND_MASK * PAGE_SIZE,
            (r[0] % MMAP_RND_PAGES) * PAGE_SIZE,
        );
    }
    let stack_top = match rnd {
        Some(r) => USER_TOP - (r[1] & STACK_RND_MASK) * PAGE_SIZE,
        None => USER_TOP,
    };
    let mut tlb = Tlb::new(pm.zero_frame());
    let main_bias = if main.image.position_independent {
        if interp.is_some() {
            let pie_rnd = rnd.map_or(0, |r| (r[3] % MMAP_RND_PAGES) * PAGE_SIZE);
            page_down(ET_DYN_BASE + pie_rnd - main.image.min_vaddr.min(ET_DYN_BASE))
        } else {
            choose_bias(pm, mm, &main.image)?
        }
    } else {
        0
    };
    let brk = map_image(pm, mm, &mut tlb, main, main_bias)?;
    let brk_rnd = rnd.map_or(0, |r| (r[2] % BRK_RND_PAGES) * PAGE_SIZE);
    mm.set_brk_base(brk + brk_rnd);
    let (entry, base) = match interp {
        Some(i) => {
            let bias = choose_bias(pm, mm, &i.image)?;
            map_image(pm, mm, &mut tlb, i, bias)?;
            (i.image.entry.wrapping_add(bias), bias)
        }
        None => (main.image.entry.wrapping_add(main_bias), 0),
    };
    let phdr = phdr_address(&main.image).map_or(0, |a| a.wrapping_add(main_bias));
    let c = req.creds;
    let auxv = [
        (at::L1I_CACHESIZE, 0),
        (at::L1I_CACHEGEOMETRY, 0),
        (at::L1D_CACHESIZE, 0),
        (at::L1D_CACHEGEOMETRY, 0),
        (at::L2_CACHESIZE, 0),
        (at::L2_CACHEGEOMETRY, 0),
        (at::L3_CACHESIZE, 0),
        (at::L3_CACHEGEOMETRY, 0),
        (at::MINSIGSTKSZ, MINSIGSTKSZ),
        (at::HWCAP, HWCAP_RV64GC),
        (at::PAGESZ, PAGE_SIZE),
        (at::CLKTCK, CLOCKS_PER_SEC),
        (at::PHDR, phdr),
        (at::PHENT, PHDR_SIZE),
        (at::PHNUM, main.image.phnum),
        (at::BASE, base),
        (at::FLAGS, 0),
        (at::ENTRY, main.image.entry.wrapping_add(main_bias)),
        (at::UID, c.uid as u64),
        (at::EUID, c.euid as u64),
        (at::GID, c.gid as u64),
        (at::EGID, c.egid as u64),
        (at::SECURE, 0),
        (at::RANDOM, 0),
        (at::EXECFN, 0),
    ];
    let execfn = req.path;
    let img = stack::build(&StackArgs {
        top: stack_top,
        argv: req.argv,
        envp: req.envp,
        execfn,
        random: req.random,
        auxv: &auxv,
        stack_limit: req.stack_limit,
    })
    .map_err(|_| ExecError::NotExecutable("argument list too long".into()))?;
    let stack_start = page_down(img.arg_start)
        .saturating_sub(STACK_EXPAND)
        .min(page_down(img.base));
    let prot = Prot {
        read: true,
        write: true,
        exec: main.image.exec_stack,
    };
    let flags = MapFlags {
        fixed: true,
        grows_down: true,
        ..MapFlags::default()
    };
    mm.mmap(
        pm,
        stack_start,
        stack_top - stack_start,
        prot,
        flags,
        Backing::Anonymous,
        VmaName::Stack,
    )
    .map_err(mm_err)?;
    GuestMemory {
        pm,
        mm: mm.into(),
        tlb: &mut tlb,
    }
    .copy_out(img.base, &img.bytes)
    .map_err(|_| ExecError::OutOfMemory)?;
    // load_elf_binary(): code from the lowest segment to the end of the
    // last executable one's file part; data from the highest segment's
    // start to the end of the highest file part.
    let mut start_code = u64::MAX;
    let (mut end_code, mut start_data, mut end_data) = (0, 0, 0);
    for s in &main.image.segments {
        let (start, file_end) = (s.vaddr + main_bias, s.vaddr + main_bias + s.filesz);
        start_code = start_code.min(start);
        start_data = start_data.max(start);
        end_data = end_data.max(file_end);
        if s.exec {
            end_code = end_code.max(file_end);
        }
    }
    let args = ArgArea {
        arg_start: img.arg_start,
        env_start: img.env_start,
        env_end: img.env_end,
        start_stack: img.sp,
        start_code: if start_code == u64::MAX {
            0
        } else {
            start_code
        },
        end_code,
        start_data,
        end_data,
    };
    Ok((entry, img.sp, args, img.auxv, tlb))
}

/// Where the program headers are in memory (`AT_PHDR`): inside the
/// segment whose file range holds them (Linux 6.x load_elf_binary()).
fn phdr_address(img: &ElfImage) -> Option<u64> {
    if let Some(v) = img.phdr_vaddr {
        return Some(v);
    }
    img.segments
        .iter()
        .find(|s| s.offset <= img.phoff && img.phoff < s.offset + s.filesz)
        .map(|s| img.phoff - s.offset + s.vaddr)
}

/// For a position-independent image placed by the kernel: reserve its whole
/// span top-down (as mmap(NULL) would) and return the bias.
fn choose_bias(pm: &mut PhysMem, mm: &mut AddressSpace, img: &ElfImage) -> Result<u64, ExecError> {
    let span = cowix_mm::page_up(img.max_vaddr - img.min_vaddr).ok_or(ExecError::OutOfMemory)?;
    let prot = Prot {
        read: false,
        write: false,
        exec: false,
    };
    let start = mm
        .mmap(
            pm,
            0,
            span,
            prot,
            MapFlags::default(),
            Backing::Anonymous,
            VmaName::Anonymous,
        )
        .map_err(mm_err)?;
    mm.munmap(pm, start, span).map_err(mm_err)?;
    Ok(start - img.min_vaddr)
}

/// Maps every PT_LOAD segment of `elf` at `bias`; returns the page-aligned
/// end of the highest segment (where brk starts).
fn map_image(
    pm: &mut PhysMem,
    mm: &mut AddressSpace,
    tlb: &mut Tlb,
    elf: &OpenElf,
    bias: u64,
) -> Result<u64, ExecError> {
    let mut end = 0;
    for seg in &elf.image.segments {
        map_segment(pm, mm, tlb, elf, seg, bias)?;
        end = end.max(seg.vaddr + bias + seg.memsz);
    }
    cowix_mm::page_up(end).ok_or(ExecError::OutOfMemory)
}

/// Maps one segment: its file part from the file (private, on demand), the
/// tail of its last file page cleared (which turns that page anonymous, as
/// Linux's padzero() does), and the rest of memsz anonymous (bss: reads
/// hit the zero frame).
fn map_segment(
    pm: &mut PhysMem,
    mm: &mut AddressSpace,
    tlb: &mut Tlb,
    elf: &OpenElf,
    seg: &Segment,
    bias: u64,
) -> Result<(), ExecError> {
    let prot = Prot {
        read: seg.read,
        write: seg.write,
        exec: seg.exec,
    };
    let fixed = MapFlags {
        fixed: true,
        ..MapFlags::default()
    };
    let vaddr = seg.vaddr + bias;
    let start = page_down(vaddr);
    let file_end = vaddr + seg.filesz;
    let mem_end = cowix_mm::page_up(vaddr + seg.memsz).ok_or(ExecError::OutOfMemory)?;
    let mut anon_start = start;
    if seg.filesz > 0 {
        let map_end = cowix_mm::page_up(file_end).ok_or(ExecError::OutOfMemory)?;
        let file: Rc<dyn FileSource> = elf.file.clone();
        let backing = Backing::File {
            file,
            offset: page_down(seg.offset),
        };
        let name = VmaName::Path(elf.guest_path.clone());
        mm.mmap(pm, start, map_end - start, prot, fixed, backing, name)
            .map_err(mm_err)?;
        anon_start = map_end;
        let tail = map_end - file_end;
        if seg.memsz > seg.filesz && tail > 0 {
            clear_tail(pm, mm, tlb, file_end, tail, prot)?;
        }
    }
    if mem_end > anon_start {
        mm.mmap(
            pm,
            anon_start,
            mem_end - anon_start,
            prot,
            fixed,
            Backing::Anonymous,
            VmaName::Anonymous,
        )
        .map_err(mm_err)?;
    }
    Ok(())
}

/// Zeroes `len` bytes at `addr` (the end of a segment's last file page),
/// briefly making the page writable if the segment is not.
fn clear_tail(
    pm: &mut PhysMem,
    mm: &mut AddressSpace,
    tlb: &mut Tlb,
    addr: u64,
    len: u64,
    prot: Prot,
) -> Result<(), ExecError> {
    let page = page_down(addr);
    if !prot.write {
        mm.mprotect(
            pm,
            page,
            PAGE_SIZE,
            Prot {
                write: true,
                read: true,
                ..prot
            },
        )
        .map_err(mm_err)?;
    }
    tlb.sync(mm, pm);
    GuestMemory {
        pm,
        mm: mm.into(),
        tlb,
    }
    .copy_out(addr, &vec![0u8; len as usize])
    .map_err(|_| ExecError::OutOfMemory)?;
    if !prot.write {
        mm.mprotect(pm, page, PAGE_SIZE, prot).map_err(mm_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vdso_trampoline_is_li_a7_139_ecall() {
        let [li, ecall] = SIGRETURN_TRAMPOLINE;
        assert_eq!(cowix_isa::disassemble_raw(li, 0), "li a7, 139");
        assert_eq!(cowix_isa::disassemble_raw(ecall, 0), "ecall");
    }

    #[test]
    fn hwcap_has_the_rv64gc_letters() {
        assert_eq!(HWCAP_RV64GC, 0x112d);
    }

    #[test]
    fn et_dyn_base_is_two_thirds_of_sv39_user_space() {
        assert_eq!(ET_DYN_BASE, 0x2a_aaaa_a000);
    }
}
