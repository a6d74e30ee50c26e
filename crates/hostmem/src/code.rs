//! Executable memory for translated guest code, and the one way to call it.
//!
//! A [`CodeArena`] is one reserved host mapping that a translator (the CPU's
//! block translator in `cowix-isa`) fills with machine code, one function
//! per guest block, bump-allocated. Pages are never writable and executable
//! at once: [`CodeArena::install`] makes the pages it writes read-write,
//! copies the code, and makes them read-execute again (W^X). When the arena
//! is full the translator [`clear`](CodeArena::clear)s it; every
//! [`CodeRef`] handed out before then goes stale, and calling a stale one is
//! refused (`None`), never undefined.
//!
//! # The calling convention of translated code
//!
//! A function is called as the host C ABI's
//! `extern "C" fn(state: *mut u64, io: *mut u64, env: *const u64) -> u64`:
//!
//! * `state` points to [`STATE_WORDS`] words and `io` to [`IO_WORDS`]
//!   words the function may read and write (the guest registers and the
//!   translator's in/out words);
//! * `env` points to [`ENV_WORDS`] read-only words describing guest memory
//!   ([`JitMemory`]): `env[ENV_RAM]` is the address of the guest RAM,
//!   `env[ENV_RAM_LIMIT]` the largest frame offset the code may use (RAM
//!   length minus one frame), `env[ENV_READ_TLB]` / `env[ENV_WRITE_TLB]`
//!   the addresses of the two TLB arrays of [`TlbEntry`], `env[ENV_TLB_MASK]`
//!   their length minus one (a power of two minus one).
//!
//! The function may read TLB entries at `index & mask`, and read or write
//! guest RAM only at `entry.offset + o` for `o < FRAME` after checking
//! `entry.offset <= env[ENV_RAM_LIMIT]` (writes only through write-TLB
//! entries). It touches nothing else and returns normally.
//!
//! # Soundness
//!
//! Running generated code is trusting its generator: the safe API here is
//! sound only if every function installed follows the convention above.
//! That is the translator's contract (`cowix-isa`'s `jit.rs`, which emits
//! only loads and stores of those shapes, each RAM access behind the bound
//! check), in the same way as a compiler is trusted to emit memory-safe
//! code for safe Rust. Everything the code may touch is borrowed for the
//! call: `state`, `io` and the RAM mutably, the TLB arrays shared.

use std::fmt;
use std::io;
use std::ptr::NonNull;

use rustix::mm::{mmap_anonymous, mprotect, munmap, MapFlags, MprotectFlags, ProtFlags};

use crate::FRAME_SIZE;

/// Words of the `state` array a translated function may use.
pub const STATE_WORDS: usize = 32;
/// Words of the `io` array a translated function may use.
pub const IO_WORDS: usize = 4;
/// Words of the `env` array.
pub const ENV_WORDS: usize = 5;
/// `env` index: address of the guest RAM.
pub const ENV_RAM: usize = 0;
/// `env` index: largest valid frame offset in the RAM (its length minus a frame).
pub const ENV_RAM_LIMIT: usize = 1;
/// `env` index: address of the read TLB array.
pub const ENV_READ_TLB: usize = 2;
/// `env` index: address of the write TLB array.
pub const ENV_WRITE_TLB: usize = 3;
/// `env` index: TLB length minus one.
pub const ENV_TLB_MASK: usize = 4;

/// One entry of a software TLB in the layout translated code reads (16
/// bytes, no padding): `page` is compared with the accessed address's page
/// (plus its misalignment bits, so an aligned access inside the page is one
/// compare), `offset` is the byte offset of the backing frame in the RAM.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbEntry {
    /// Virtual page address, or a value no access compares equal to.
    pub page: u64,
    /// Byte offset of the frame in the RAM slice.
    pub offset: u64,
}

/// Byte offset of [`TlbEntry::page`] (for the translator).
pub const TLB_PAGE_OFFSET: i32 = 0;
/// Byte offset of [`TlbEntry::offset`].
pub const TLB_OFFSET_OFFSET: i32 = 8;
/// Size of a [`TlbEntry`] as a shift (16 bytes).
pub const TLB_ENTRY_SHIFT: u32 = 4;

const _: () = assert!(std::mem::size_of::<TlbEntry>() == 1 << TLB_ENTRY_SHIFT);
const _: () = assert!(std::mem::offset_of!(TlbEntry, offset) == TLB_OFFSET_OFFSET as usize);

/// Guest memory lent to translated code for one call: the RAM (mutably)
/// and the read and write TLB arrays (shared), whose entries name offsets
/// in that RAM.
#[derive(Debug)]
pub struct JitMemory<'a> {
    env: [u64; ENV_WORDS],
    _ram: std::marker::PhantomData<&'a mut [u8]>,
    _tlb: std::marker::PhantomData<&'a [TlbEntry]>,
}

impl<'a> JitMemory<'a> {
    /// Lends `ram` and the two TLB arrays. `None` if the arrays differ in
    /// length, their length is not a power of two, or `ram` is shorter than
    /// a frame.
    pub fn new(ram: &'a mut [u8], read: &'a [TlbEntry], write: &'a [TlbEntry]) -> Option<Self> {
        if read.len() != write.len() || !read.len().is_power_of_two() || ram.len() < FRAME_SIZE {
            return None;
        }
        let env = [
            ram.as_mut_ptr() as u64,
            (ram.len() - FRAME_SIZE) as u64,
            read.as_ptr() as u64,
            write.as_ptr() as u64,
            (read.len() - 1) as u64,
        ];
        Some(JitMemory {
            env,
            _ram: std::marker::PhantomData,
            _tlb: std::marker::PhantomData,
        })
    }
}

/// A function installed in a [`CodeArena`]; only valid until the arena is
/// cleared (then calling it is refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeRef {
    offset: usize,
    generation: u64,
}

/// Executable memory holding translated functions (see the module comment).
pub struct CodeArena {
    /// Start of the mapping (page aligned).
    base: NonNull<u8>,
    /// Length of the mapping.
    len: usize,
    /// Bytes used from the start.
    used: usize,
    /// Moves at every `clear`; a `CodeRef` of another generation is stale.
    generation: u64,
}

// SAFETY:
// 1. `CodeArena` exclusively owns its mapping (nothing else holds `base`),
//    like `Box<[u8]>` owns its allocation, and has no thread-affine state:
//    moving it to another thread moves that ownership with it.
unsafe impl Send for CodeArena {}

impl fmt::Debug for CodeArena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeArena")
            .field("len", &self.len)
            .field("used", &self.used)
            .field("generation", &self.generation)
            .finish()
    }
}

/// Whether this host can run translated code (x86-64 only: other hosts
/// would need an instruction-cache flush after writing code).
pub const JIT_SUPPORTED: bool = cfg!(target_arch = "x86_64");

impl CodeArena {
    /// Reserves `len` bytes (rounded up to frames) of host address space for
    /// code. Fails on hosts where translated code is not supported
    /// ([`JIT_SUPPORTED`]) or when the host refuses the mapping.
    pub fn new(len: usize) -> io::Result<CodeArena> {
        if !JIT_SUPPORTED {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "translated code is only supported on x86-64 hosts",
            ));
        }
        let len = len
            .checked_next_multiple_of(FRAME_SIZE)
            .filter(|&l| l > 0 && l <= isize::MAX as usize)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad code arena size"))?;
        // SAFETY:
        // 1. A null hint lets the kernel choose a fresh range: no existing
        //    mapping (and no Rust object) is replaced.
        let ptr = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }
        .map_err(io::Error::from)?;
        let base = NonNull::new(ptr.cast::<u8>()).expect("CodeArena::new: mmap returned null");
        Ok(CodeArena {
            base,
            len,
            used: 0,
            generation: 0,
        })
    }

    /// Copies `code` (one function following the module's convention) into
    /// the arena. `None` when it does not fit: [`clear`](Self::clear) and
    /// retry.
    pub fn install(&mut self, code: &[u8]) -> Option<CodeRef> {
        let start = self.used.next_multiple_of(64);
        let end = start.checked_add(code.len()).filter(|&e| e <= self.len)?;
        if code.is_empty() {
            return None;
        }
        let first = start / FRAME_SIZE * FRAME_SIZE;
        let last = end.next_multiple_of(FRAME_SIZE);
        let pages = self.base.as_ptr().wrapping_add(first);
        // SAFETY:
        // 1. `[first, last)` is page aligned and inside our mapping (`end <=
        //    len`, `len` a multiple of the page size).
        // 2. `&mut self`: no translated code of this arena runs while its
        //    pages are writable (calls borrow the arena shared).
        let r = unsafe {
            mprotect(
                pages.cast(),
                last - first,
                MprotectFlags::READ | MprotectFlags::WRITE,
            )
        };
        r.ok()?;
        let dst = self.base.as_ptr().wrapping_add(start);
        // SAFETY:
        // 1. `[start, end)` lies in the mapping and was just made writable.
        // 2. `code` is a Rust slice, which cannot overlap our private mapping
        //    (no reference into the arena is ever handed out).
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), dst, code.len()) };
        // SAFETY:
        // 1. As for the first `mprotect`: our own page-aligned range.
        let r = unsafe {
            mprotect(
                pages.cast(),
                last - first,
                MprotectFlags::READ | MprotectFlags::EXEC,
            )
        };
        r.ok()?;
        self.used = end;
        Some(CodeRef {
            offset: start,
            generation: self.generation,
        })
    }

    /// Forgets every function: the space is reused, earlier [`CodeRef`]s
    /// are stale.
    pub fn clear(&mut self) {
        self.used = 0;
        self.generation += 1;
    }

    /// Bytes used.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Calls function `f` with `state` and `mem` (see the module's calling
    /// convention) and returns its result, or `None` if `f` is stale.
    pub fn call(
        &self,
        f: CodeRef,
        state: &mut [u64; STATE_WORDS],
        io: &mut [u64; IO_WORDS],
        mem: &mut JitMemory<'_>,
    ) -> Option<u64> {
        if f.generation != self.generation || f.offset >= self.used {
            return None;
        }
        let entry = self.base.as_ptr().wrapping_add(f.offset);
        type Entry = extern "C" fn(*mut u64, *mut u64, *const u64) -> u64;
        // SAFETY:
        // 1. `entry` is the start of a function installed by `install` in
        //    this generation (checked above), so the bytes there are machine
        //    code for the host's C ABI with the `Entry` signature (the
        //    translator's contract), in read-execute pages.
        // 2. A function pointer and a data pointer have the same size on the
        //    supported hosts.
        let func: Entry = unsafe { std::mem::transmute::<*mut u8, Entry>(entry) };
        // Calling through `func` is safe Rust; that the code it runs only
        // touches `state`, `io`, `mem`'s RAM and TLB arrays (all borrowed for this
        // call, `state` and the RAM exclusively) is the translator's contract
        // (module comment).
        Some(func(state.as_mut_ptr(), io.as_mut_ptr(), mem.env.as_ptr()))
    }
}

impl Drop for CodeArena {
    fn drop(&mut self) {
        // SAFETY:
        // 1. `base`/`len` is exactly the mapping `new` created, unmapped only
        //    here; no function of it can be running (`&mut self`).
        let r = unsafe { munmap(self.base.as_ptr().cast(), self.len) };
        debug_assert!(r.is_ok(), "CodeArena::drop: munmap failed: {r:?}");
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// `mov rax, [rdi]; add rax, [rdx + 8]; mov [rsi], rax; ret`
    /// (io[0] = state[0] + env[ENV_RAM_LIMIT]).
    const ADD: &[u8] = &[
        0x48, 0x8b, 0x07, 0x48, 0x03, 0x42, 0x08, 0x48, 0x89, 0x06, 0xc3,
    ];

    fn mem_parts() -> (Vec<u8>, Vec<TlbEntry>) {
        let e = TlbEntry { page: 0, offset: 0 };
        (vec![0u8; 2 * FRAME_SIZE], vec![e; 4])
    }

    #[test]
    fn installed_code_runs_with_state_and_env() {
        let mut arena = CodeArena::new(1 << 16).unwrap();
        let f = arena.install(ADD).unwrap();
        let (mut ram, tlb) = mem_parts();
        let mut mem = JitMemory::new(&mut ram, &tlb, &tlb).unwrap();
        let mut state = [0u64; STATE_WORDS];
        let mut io = [0u64; IO_WORDS];
        state[0] = 40;
        // env[1] is the RAM limit: one frame.
        arena.call(f, &mut state, &mut io, &mut mem).unwrap();
        assert_eq!(io[0], 40 + FRAME_SIZE as u64);
    }

    #[test]
    fn cleared_arena_refuses_stale_functions() {
        let mut arena = CodeArena::new(FRAME_SIZE).unwrap();
        let f = arena.install(ADD).unwrap();
        arena.clear();
        let (mut ram, tlb) = mem_parts();
        let mut mem = JitMemory::new(&mut ram, &tlb, &tlb).unwrap();
        let mut state = [0u64; STATE_WORDS];
        let mut io = [0u64; IO_WORDS];
        assert_eq!(arena.call(f, &mut state, &mut io, &mut mem), None);
        let g = arena.install(ADD).unwrap();
        assert!(arena.call(g, &mut state, &mut io, &mut mem).is_some());
    }

    #[test]
    fn a_full_arena_says_so() {
        let mut arena = CodeArena::new(FRAME_SIZE).unwrap();
        let big = vec![0xc3u8; FRAME_SIZE - 8];
        assert!(arena.install(&big).is_some());
        assert!(arena.install(ADD).is_none(), "no room left");
    }

    #[test]
    fn bad_memory_shapes_are_refused() {
        let (mut ram, tlb) = mem_parts();
        assert!(JitMemory::new(&mut ram, &tlb, &tlb[..3]).is_none());
        assert!(JitMemory::new(&mut ram[..100], &tlb, &tlb).is_none());
    }
}
