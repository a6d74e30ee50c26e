//! Reading and validating an executable's ELF headers (`fs/binfmt_elf.c`'s
//! checks, made explicit).
//!
//! Only the ELF header and the program headers are read; the segments
//! themselves are mapped from the file and load on demand when touched.
//! Every field that later code relies on is validated here, so the loader
//! can trust an [`ElfImage`]: a malformed file is an [`ExecError`] with a
//! sentence saying what is wrong, never a panic.

use std::fmt;
use std::io;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::header::{
    self,
    header64::{self, Header},
};
use goblin::elf::program_header::{self, ProgramHeader};

/// Top of the user address space of an Sv39 riscv64 machine (`TASK_SIZE`).
pub const USER_TOP: u64 = 0x40_0000_0000;
const PAGE_SIZE: u64 = 4096;
/// Linux refuses program header tables larger than this (`elf_read_phdrs`).
const MAX_PHDR_BYTES: u64 = 65536;
/// `sizeof(Elf64_Phdr)`.
pub const PHDR_SIZE: u64 = 56;
/// Linux's `BINPRM_BUF_SIZE`: how much of a file is read to classify it.
pub const PROBE_SIZE: usize = 256;

/// Why a file cannot be executed. `Display` gives the one-line reason.
#[derive(Debug)]
pub enum ExecError {
    /// The path does not name a file (ENOENT, ENOTDIR, ELOOP...).
    NotFound(String),
    /// The file exists but is not something cowix can run: the string says what it is.
    NotExecutable(String),
    /// A host I/O error while reading the file.
    Io(io::Error),
    /// The program needs more memory than `--memory` allows.
    OutOfMemory,
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::NotFound(why) => write!(f, "{why}"),
            ExecError::NotExecutable(what) => write!(f, "not a RISC-V ELF executable: {what}"),
            ExecError::Io(e) => write!(f, "cannot read: {e}"),
            ExecError::OutOfMemory => write!(f, "out of memory while loading"),
        }
    }
}

impl std::error::Error for ExecError {}

fn bad(what: impl Into<String>) -> ExecError {
    ExecError::NotExecutable(what.into())
}

/// One `PT_LOAD` segment, validated: `vaddr + memsz` fits in user space,
/// `offset + filesz` lies inside the file, `filesz <= memsz`, and `offset`
/// and `vaddr` are congruent modulo the page size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

/// A validated rv64 executable (or interpreter), not yet placed in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfImage {
    /// `ET_DYN` (position independent: loaded at a chosen bias) rather than `ET_EXEC`.
    pub position_independent: bool,
    pub entry: u64,
    pub phoff: u64,
    pub phnum: u64,
    pub segments: Vec<Segment>,
    /// `PT_INTERP`: the program interpreter's path (dynamic executables).
    pub interp: Option<Vec<u8>>,
    /// The lowest `vaddr` of any segment, page-aligned down.
    pub min_vaddr: u64,
    /// The highest `vaddr + memsz` of any segment.
    pub max_vaddr: u64,
    /// `PT_GNU_STACK` asks for an executable stack.
    pub exec_stack: bool,
    /// `PT_PHDR`'s vaddr, when present.
    pub phdr_vaddr: Option<u64>,
}

/// The part of a file that is read through this trait: random access reads.
pub trait ReadAt {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    fn file_len(&self) -> io::Result<u64>;
}

impl ReadAt for std::fs::File {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
    fn file_len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
    fn file_len(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
}

/// Reads exactly `len` bytes at `offset`, or fewer if the file ends first.
fn read_some(file: &(impl ReadAt + ?Sized), offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = file.read_at(offset + got as u64, &mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    buf.truncate(got);
    Ok(buf)
}

/// Says what a file that is not an rv64 ELF executable is, from its first bytes.
pub fn describe_non_elf(probe: &[u8]) -> String {
    if probe.is_empty() {
        return "empty file".into();
    }
    if probe.starts_with(b"#!") {
        let line = probe[2..].split(|&b| b == b'\n').next().unwrap_or(&[]);
        let interp = String::from_utf8_lossy(line).trim().to_string();
        return format!(
            "script with interpreter '{interp}' (#! scripts need execve, not yet run directly)"
        );
    }
    let text = probe
        .iter()
        .all(|&b| b == b'\t' || b == b'\n' || b == b'\r' || (0x20..0x7f).contains(&b) || b >= 0x80);
    if text && std::str::from_utf8(probe).is_ok() {
        return "text file".into();
    }
    if probe.starts_with(b"\x7fELF") {
        return "truncated ELF (shorter than its header)".into();
    }
    "data file (no ELF header)".into()
}

fn machine_name(m: u16) -> String {
    match m {
        header::EM_X86_64 => "x86-64".into(),
        header::EM_386 => "x86 (i386)".into(),
        header::EM_AARCH64 => "AArch64".into(),
        header::EM_ARM => "ARM".into(),
        header::EM_PPC64 => "PowerPC64".into(),
        header::EM_S390 => "s390".into(),
        header::EM_MIPS => "MIPS".into(),
        header::EM_LOONGARCH => "LoongArch".into(),
        header::EM_RISCV => "RISC-V".into(),
        other => format!("machine {other}"),
    }
}

/// Parses and validates the ELF executable in `file`.
pub fn parse(file: &(impl ReadAt + ?Sized)) -> Result<ElfImage, ExecError> {
    let file_len = file.file_len().map_err(ExecError::Io)?;
    let probe = read_some(file, 0, PROBE_SIZE).map_err(ExecError::Io)?;
    if probe.len() < 4 || &probe[..4] != b"\x7fELF" {
        return Err(bad(describe_non_elf(&probe)));
    }
    if probe.len() < header::SIZEOF_IDENT + 2 + 2 {
        return Err(bad("truncated ELF (shorter than its header)"));
    }
    let class = probe[header::EI_CLASS];
    let data = probe[header::EI_DATA];
    let machine = u16::from_le_bytes([probe[18], probe[19]]);
    let machine = if data == header::ELFDATA2MSB {
        u16::from_be_bytes([probe[18], probe[19]])
    } else {
        machine
    };
    let bits = match class {
        header::ELFCLASS32 => "32-bit",
        header::ELFCLASS64 => "64-bit",
        _ => return Err(bad(format!("ELF with invalid class {class}"))),
    };
    if data != header::ELFDATA2LSB {
        return Err(bad(format!(
            "big-endian {bits} {} ELF",
            machine_name(machine)
        )));
    }
    if machine != header::EM_RISCV {
        return Err(bad(format!("{bits} {} ELF", machine_name(machine))));
    }
    if class != header::ELFCLASS64 {
        return Err(bad("32-bit RISC-V (rv32) ELF; cowix runs rv64 programs"));
    }
    if probe.len() < header64::SIZEOF_EHDR {
        return Err(bad("truncated ELF (shorter than its header)"));
    }
    let hdr = Header::parse(&probe).map_err(|e| bad(format!("malformed ELF header: {e}")))?;
    match hdr.e_type {
        header::ET_EXEC | header::ET_DYN => {}
        header::ET_REL => {
            return Err(bad(
                "relocatable object file (.o), not linked into an executable",
            ))
        }
        header::ET_CORE => return Err(bad("core dump")),
        t => return Err(bad(format!("ELF of unknown type {t}"))),
    }
    if hdr.e_phentsize as u64 != PHDR_SIZE {
        return Err(bad(format!(
            "malformed ELF: program header entry size {} (expected {PHDR_SIZE})",
            hdr.e_phentsize
        )));
    }
    let phnum = hdr.e_phnum as u64;
    if phnum == 0 {
        return Err(bad("malformed ELF: no program headers"));
    }
    let ph_bytes = phnum * PHDR_SIZE;
    if ph_bytes > MAX_PHDR_BYTES {
        return Err(bad(format!(
            "malformed ELF: {phnum} program headers is too many"
        )));
    }
    let ph_end = hdr.e_phoff.checked_add(ph_bytes);
    if ph_end.is_none_or(|end| end > file_len) {
        return Err(bad(format!(
            "truncated ELF: program headers at offset {:#x} run past the end of the {file_len}-byte file",
            hdr.e_phoff
        )));
    }
    let table = read_some(file, hdr.e_phoff, ph_bytes as usize).map_err(ExecError::Io)?;
    if table.len() as u64 != ph_bytes {
        return Err(bad("truncated ELF: program headers cut short"));
    }
    let ctx = Ctx::new(Container::Big, Endian::Little);
    let phdrs = ProgramHeader::parse(&table, 0, phnum as usize, ctx)
        .map_err(|e| bad(format!("malformed program headers: {e}")))?;
    build_image(&hdr, &phdrs, file, file_len)
}

fn build_image(
    hdr: &Header,
    phdrs: &[ProgramHeader],
    file: &(impl ReadAt + ?Sized),
    file_len: u64,
) -> Result<ElfImage, ExecError> {
    let mut segments = Vec::new();
    let mut interp = None;
    let mut exec_stack = false;
    let mut phdr_vaddr = None;
    for (i, ph) in phdrs.iter().enumerate() {
        match ph.p_type {
            program_header::PT_LOAD => {
                if ph.p_memsz == 0 {
                    continue;
                }
                segments.push(check_load(i, ph, file_len)?);
            }
            program_header::PT_INTERP => {
                if interp.is_some() {
                    return Err(bad("malformed ELF: more than one PT_INTERP"));
                }
                interp = Some(read_interp(ph, file, file_len)?);
            }
            program_header::PT_GNU_STACK => exec_stack = ph.p_flags & program_header::PF_X != 0,
            program_header::PT_PHDR => phdr_vaddr = Some(ph.p_vaddr),
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(bad("malformed ELF: no loadable segment"));
    }
    let mut sorted: Vec<&Segment> = segments.iter().collect();
    sorted.sort_by_key(|s| s.vaddr);
    for pair in sorted.windows(2) {
        if pair[0].vaddr + pair[0].memsz > pair[1].vaddr {
            return Err(bad(format!(
                "malformed ELF: segments at {:#x} and {:#x} overlap",
                pair[0].vaddr, pair[1].vaddr
            )));
        }
    }
    let min_vaddr = sorted[0].vaddr & !(PAGE_SIZE - 1);
    let max_vaddr = sorted.iter().map(|s| s.vaddr + s.memsz).max().unwrap_or(0);
    let position_independent = hdr.e_type == header::ET_DYN;
    if position_independent && max_vaddr - min_vaddr > USER_TOP / 2 {
        return Err(bad(format!(
            "segments span {:#x} bytes, more than fits in user space",
            max_vaddr - min_vaddr
        )));
    }
    Ok(ElfImage {
        position_independent,
        entry: hdr.e_entry,
        phoff: hdr.e_phoff,
        phnum: hdr.e_phnum as u64,
        segments,
        interp,
        min_vaddr,
        max_vaddr,
        exec_stack,
        phdr_vaddr,
    })
}

fn check_load(i: usize, ph: &ProgramHeader, file_len: u64) -> Result<Segment, ExecError> {
    let end = ph.p_vaddr.checked_add(ph.p_memsz);
    if end.is_none_or(|e| e > USER_TOP) {
        return Err(bad(format!(
            "segment {i} at {:#x} of {:#x} bytes does not fit in the 256 GiB user address space",
            ph.p_vaddr, ph.p_memsz
        )));
    }
    if ph.p_filesz > ph.p_memsz {
        return Err(bad(format!(
            "malformed ELF: segment {i} has more file bytes than memory bytes"
        )));
    }
    let fend = ph.p_offset.checked_add(ph.p_filesz);
    if fend.is_none_or(|e| e > file_len) {
        return Err(bad(format!(
            "truncated ELF: segment {i} (file offset {:#x}, {:#x} bytes) runs past the end of the {file_len}-byte file",
            ph.p_offset, ph.p_filesz
        )));
    }
    if ph.p_offset % PAGE_SIZE != ph.p_vaddr % PAGE_SIZE {
        return Err(bad(format!(
            "malformed ELF: segment {i}'s offset and address are not page-congruent"
        )));
    }
    Ok(Segment {
        vaddr: ph.p_vaddr,
        memsz: ph.p_memsz,
        offset: ph.p_offset,
        filesz: ph.p_filesz,
        read: ph.p_flags & program_header::PF_R != 0,
        write: ph.p_flags & program_header::PF_W != 0,
        exec: ph.p_flags & program_header::PF_X != 0,
    })
}

fn read_interp(
    ph: &ProgramHeader,
    file: &(impl ReadAt + ?Sized),
    file_len: u64,
) -> Result<Vec<u8>, ExecError> {
    // Linux: the size must be 2..=PATH_MAX and the string NUL-terminated.
    if ph.p_filesz < 2 || ph.p_filesz > 4096 {
        return Err(bad("malformed ELF: bad PT_INTERP size"));
    }
    if ph
        .p_offset
        .checked_add(ph.p_filesz)
        .is_none_or(|e| e > file_len)
    {
        return Err(bad(
            "truncated ELF: PT_INTERP runs past the end of the file",
        ));
    }
    let mut path = read_some(file, ph.p_offset, ph.p_filesz as usize).map_err(ExecError::Io)?;
    if path.pop() != Some(0) || path.contains(&0) {
        return Err(bad("malformed ELF: PT_INTERP is not a NUL-terminated path"));
    }
    Ok(path)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a minimal rv64 ELF executable in memory: one RX segment at
    /// 0x10000 holding `code`, and optionally a RW segment with bss.
    pub(crate) fn tiny_elf(code: &[u8], bss: u64) -> Vec<u8> {
        let phnum: u16 = if bss > 0 { 2 } else { 1 };
        let mut f = vec![0u8; 64 + 56 * phnum as usize];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // ELFCLASS64
        f[5] = 1; // little endian
        f[6] = 1; // EV_CURRENT
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&243u16.to_le_bytes()); // EM_RISCV
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        let code_off = 0x1000u64;
        f[24..32].copy_from_slice(&(0x10000 + code_off).to_le_bytes()); // e_entry
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&phnum.to_le_bytes());
        let total = code_off as usize + code.len();
        put_phdr(&mut f, 0, 1, 5, 0, 0x10000, total as u64, total as u64);
        if bss > 0 {
            put_phdr(&mut f, 1, 1, 6, 0, 0x20000, 0, bss);
        }
        f.resize(code_off as usize, 0);
        f.extend_from_slice(code);
        f
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn put_phdr(
        f: &mut [u8],
        i: usize,
        ty: u32,
        flags: u32,
        off: u64,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
    ) {
        let p = 64 + 56 * i;
        f[p..p + 4].copy_from_slice(&ty.to_le_bytes());
        f[p + 4..p + 8].copy_from_slice(&flags.to_le_bytes());
        f[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
        f[p + 16..p + 24].copy_from_slice(&vaddr.to_le_bytes());
        f[p + 24..p + 32].copy_from_slice(&vaddr.to_le_bytes());
        f[p + 32..p + 40].copy_from_slice(&filesz.to_le_bytes());
        f[p + 40..p + 48].copy_from_slice(&memsz.to_le_bytes());
        f[p + 48..p + 56].copy_from_slice(&4096u64.to_le_bytes());
    }

    fn err_text(bytes: &[u8]) -> String {
        match parse(bytes) {
            Err(e) => e.to_string(),
            Ok(img) => panic!("expected an error, got {img:?}"),
        }
    }

    #[test]
    fn valid_static_executable_parses() {
        let img = parse(tiny_elf(&[0x73, 0, 0, 0], 0x5000).as_slice()).unwrap();
        assert_eq!(img.entry, 0x11000);
        assert_eq!(img.segments.len(), 2);
        assert!(img.segments[0].exec && !img.segments[0].write);
        assert_eq!(img.segments[1].memsz, 0x5000);
        assert_eq!(img.interp, None);
        assert!(!img.position_independent);
        assert_eq!((img.min_vaddr, img.max_vaddr), (0x10000, 0x25000));
    }

    #[test]
    fn text_and_empty_files_are_described() {
        assert!(err_text(b"hello world\n").ends_with("text file"));
        assert!(err_text(b"").ends_with("empty file"));
        assert!(err_text(b"#!/bin/sh\necho hi\n").contains("script with interpreter '/bin/sh'"));
        assert!(err_text(&[0xff, 0x00, 0x12, 0x34]).contains("data file"));
    }

    #[test]
    fn foreign_elves_are_named() {
        let mut f = tiny_elf(&[0; 4], 0);
        f[18..20].copy_from_slice(&62u16.to_le_bytes());
        assert!(
            err_text(&f).ends_with("64-bit x86-64 ELF"),
            "{}",
            err_text(&f)
        );
        f[18..20].copy_from_slice(&183u16.to_le_bytes());
        assert!(err_text(&f).ends_with("64-bit AArch64 ELF"));
        let mut f = tiny_elf(&[0; 4], 0);
        f[4] = 1;
        assert!(err_text(&f).contains("rv32"));
        let mut f = tiny_elf(&[0; 4], 0);
        f[5] = 2;
        assert!(err_text(&f).contains("big-endian"));
        let mut f = tiny_elf(&[0; 4], 0);
        f[16] = 1;
        assert!(err_text(&f).contains("relocatable object"));
    }

    #[test]
    fn truncated_header_is_reported() {
        let f = tiny_elf(&[0; 4], 0);
        assert!(err_text(&f[..40]).contains("truncated ELF"));
        assert!(err_text(&f[..10]).contains("truncated ELF"));
    }

    #[test]
    fn program_headers_past_end_of_file_are_reported() {
        let mut f = tiny_elf(&[0; 4], 0);
        f[32..40].copy_from_slice(&0x10_0000u64.to_le_bytes());
        assert!(err_text(&f).contains("program headers at offset 0x100000 run past the end"));
        let mut f = tiny_elf(&[0; 4], 0);
        f[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(err_text(&f).contains("run past the end"));
    }

    #[test]
    fn segment_past_end_of_file_is_reported() {
        let mut f = tiny_elf(&[0; 4], 0);
        put_phdr(&mut f, 0, 1, 5, 0, 0x10000, 0x100000, 0x100000);
        assert!(
            err_text(&f).contains("segment 0 (file offset 0x0, 0x100000 bytes) runs past the end")
        );
    }

    #[test]
    fn absurd_sizes_are_rejected() {
        let mut f = tiny_elf(&[0; 4], 0x1000);
        put_phdr(&mut f, 1, 1, 6, 0, 0x20000, 0, 1 << 40);
        assert!(err_text(&f).contains("does not fit in the 256 GiB user address space"));
        let mut f = tiny_elf(&[0; 4], 0x1000);
        put_phdr(&mut f, 1, 1, 6, 0, u64::MAX - 10, 0, 100);
        assert!(err_text(&f).contains("does not fit"));
        let mut f = tiny_elf(&[0; 4], 0);
        f[56..58].copy_from_slice(&0xffffu16.to_le_bytes());
        assert!(err_text(&f).contains("too many"));
    }

    #[test]
    fn inconsistent_segments_are_rejected() {
        let mut f = tiny_elf(&[0; 4], 0x1000);
        put_phdr(&mut f, 1, 1, 6, 0, 0x20000, 0x2000, 0x1000);
        assert!(err_text(&f).contains("more file bytes than memory bytes"));
        let mut f = tiny_elf(&[0; 4], 0x1000);
        put_phdr(&mut f, 1, 1, 6, 0, 0x11000, 0, 0x1000);
        assert!(err_text(&f).contains("overlap"));
        let mut f = tiny_elf(&[0; 4], 0x1000);
        put_phdr(&mut f, 1, 1, 6, 0x10, 0x20000, 0x10, 0x1000);
        assert!(err_text(&f).contains("page-congruent"));
        let mut f = tiny_elf(&[0; 4], 0);
        f[54..56].copy_from_slice(&32u16.to_le_bytes());
        assert!(err_text(&f).contains("entry size"));
    }

    #[test]
    fn no_loadable_segment_is_rejected() {
        let mut f = tiny_elf(&[0; 4], 0);
        put_phdr(&mut f, 0, 4, 4, 0, 0, 0, 0); // PT_NOTE
        assert!(err_text(&f).contains("no loadable segment"));
    }
}
