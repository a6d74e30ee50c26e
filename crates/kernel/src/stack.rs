//! The initial user stack of a new program, laid out byte for byte as the
//! Linux kernel lays it out for riscv64 (`fs/exec.c` copies the strings,
//! `fs/binfmt_elf.c:create_elf_tables()` builds the vectors):
//!
//! ```text
//!   stack top (0x40_0000_0000)    ┐
//!     8 zero bytes                │ copy_strings() in do_execveat_common():
//!     AT_EXECFN string            │ filename first, then envp, then argv,
//!     envp strings                │ each copied from the last to the first,
//!     argv strings   ← arg_start  ┘ so argv[0] ends lowest
//!     (align down to 16)
//!     16 random bytes ← AT_RANDOM  (riscv has no ELF_PLATFORM string)
//!     (padding to a 16-byte sp)
//!     auxv pairs ... AT_NULL 0
//!     0, envp[envc-1] ... envp[0]
//!     0, argv[argc-1] ... argv[0]
//!   sp → argc
//! ```
//!
//! Building the image is a pure function, so it is tested here directly;
//! the loader then writes it into the stack mapping.

use crate::errno::Errno;

/// Auxiliary vector keys (include/uapi/linux/auxvec.h, arch/riscv/include/uapi/asm/auxvec.h).
pub mod at {
    pub const NULL: u64 = 0;
    pub const IGNORE: u64 = 1;
    pub const PHDR: u64 = 3;
    pub const PHENT: u64 = 4;
    pub const PHNUM: u64 = 5;
    pub const PAGESZ: u64 = 6;
    pub const BASE: u64 = 7;
    pub const FLAGS: u64 = 8;
    pub const ENTRY: u64 = 9;
    pub const UID: u64 = 11;
    pub const EUID: u64 = 12;
    pub const GID: u64 = 13;
    pub const EGID: u64 = 14;
    pub const PLATFORM: u64 = 15;
    pub const HWCAP: u64 = 16;
    pub const CLKTCK: u64 = 17;
    pub const SECURE: u64 = 23;
    pub const RANDOM: u64 = 25;
    pub const EXECFN: u64 = 31;
    pub const SYSINFO_EHDR: u64 = 33;
    pub const L1I_CACHESIZE: u64 = 40;
    pub const L1I_CACHEGEOMETRY: u64 = 41;
    pub const L1D_CACHESIZE: u64 = 42;
    pub const L1D_CACHEGEOMETRY: u64 = 43;
    pub const L2_CACHESIZE: u64 = 44;
    pub const L2_CACHEGEOMETRY: u64 = 45;
    pub const L3_CACHESIZE: u64 = 46;
    pub const L3_CACHEGEOMETRY: u64 = 47;
    pub const MINSIGSTKSZ: u64 = 51;
}

/// Linux `MAX_ARG_STRLEN`: one argument or environment string, NUL included.
pub const MAX_ARG_STRLEN: usize = 32 * 4096;

/// The finished image: write `bytes` at `base`; start the program with `sp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackImage {
    /// Lowest address written (== sp).
    pub base: u64,
    pub bytes: Vec<u8>,
    pub sp: u64,
    /// Where argv[0]'s string starts (`mm->arg_start`); the strings end at `env_end`.
    pub arg_start: u64,
    pub env_start: u64,
    pub env_end: u64,
    pub execfn: u64,
    pub random: u64,
    /// The auxiliary vector as written (AT_RANDOM/AT_EXECFN filled in), for /proc/PID/auxv.
    pub auxv: Vec<(u64, u64)>,
}

/// What the program is started with.
#[derive(Debug, Clone)]
pub struct StackArgs<'a> {
    pub top: u64,
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    pub execfn: &'a [u8],
    pub random: [u8; 16],
    /// Entries in Linux's order; AT_RANDOM's and AT_EXECFN's values are
    /// filled in here with the addresses this function chooses.
    pub auxv: &'a [(u64, u64)],
    /// RLIMIT_STACK: Linux allows the strings and pointers a quarter of it.
    pub stack_limit: u64,
}

/// Lays out the initial stack. E2BIG when a string exceeds `MAX_ARG_STRLEN`
/// or everything exceeds a quarter of the stack limit, as Linux.
pub fn build(args: &StackArgs<'_>) -> Result<StackImage, Errno> {
    let strings = args.argv.iter().chain(args.envp.iter());
    let mut string_bytes = args.execfn.len() as u64 + 1;
    for s in strings {
        if s.len() + 1 > MAX_ARG_STRLEN || s.contains(&0) {
            return Err(Errno::E2BIG);
        }
        string_bytes += s.len() as u64 + 1;
    }
    let pointers = (args.argv.len() + args.envp.len() + 2) as u64 * 8;
    if string_bytes + pointers > args.stack_limit / 4 {
        return Err(Errno::E2BIG);
    }

    // Strings, from the top down: 8-byte gap, execfn, envp (reversed), argv (reversed).
    let mut p = args.top - 8;
    let mut placed: Vec<(u64, &[u8])> = Vec::new();
    p -= args.execfn.len() as u64 + 1;
    let execfn = p;
    placed.push((p, args.execfn));
    let env_end = p;
    let mut env_ptrs = vec![0u64; args.envp.len()];
    for (i, s) in args.envp.iter().enumerate().rev() {
        p -= s.len() as u64 + 1;
        env_ptrs[i] = p;
        placed.push((p, s));
    }
    let env_start = p;
    let mut arg_ptrs = vec![0u64; args.argv.len()];
    for (i, s) in args.argv.iter().enumerate().rev() {
        p -= s.len() as u64 + 1;
        arg_ptrs[i] = p;
        placed.push((p, s));
    }
    let arg_start = p;

    // create_elf_tables(): align, random bytes, then the vectors.
    p &= !15;
    p -= 16;
    let random = p;
    let mut auxv: Vec<(u64, u64)> = args
        .auxv
        .iter()
        .map(|&(k, v)| match k {
            at::RANDOM => (k, random),
            at::EXECFN => (k, execfn),
            _ => (k, v),
        })
        .collect();
    auxv.push((at::NULL, 0));
    let aux_words = 2 * auxv.len() as u64;
    let items = (args.argv.len() + 1 + args.envp.len() + 1 + 1) as u64;
    let sp = (p - aux_words * 8 - items * 8) & !15;

    let mut img = vec![0u8; (args.top - sp) as usize];
    let mut put = |addr: u64, data: &[u8]| {
        let off = (addr - sp) as usize;
        img[off..off + data.len()].copy_from_slice(data);
    };
    for (addr, s) in &placed {
        put(*addr, s); // the NUL after it is already zero
    }
    put(random, &args.random);
    let mut words: Vec<u64> = Vec::with_capacity((items + aux_words) as usize);
    words.push(args.argv.len() as u64);
    words.extend(&arg_ptrs);
    words.push(0);
    words.extend(&env_ptrs);
    words.push(0);
    for &(k, v) in &auxv {
        words.push(k);
        words.push(v);
    }
    let vec_bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    put(sp, &vec_bytes);
    auxv.pop();
    Ok(StackImage {
        base: sp,
        bytes: img,
        sp,
        arg_start,
        env_start,
        env_end,
        execfn,
        random,
        auxv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: u64 = 0x40_0000_0000;

    fn word(img: &StackImage, addr: u64) -> u64 {
        let o = (addr - img.base) as usize;
        u64::from_le_bytes(img.bytes[o..o + 8].try_into().unwrap())
    }

    fn cstr(img: &StackImage, addr: u64) -> Vec<u8> {
        let o = (addr - img.base) as usize;
        img.bytes[o..]
            .iter()
            .take_while(|&&b| b != 0)
            .copied()
            .collect()
    }

    fn sample() -> StackImage {
        let argv = vec![b"/bin/prog".to_vec(), b"one".to_vec()];
        let envp = vec![b"A=1".to_vec(), b"HOME=/root".to_vec()];
        let auxv = [(at::PAGESZ, 4096), (at::RANDOM, 0), (at::EXECFN, 0)];
        build(&StackArgs {
            top: TOP,
            argv: &argv,
            envp: &envp,
            execfn: b"/bin/prog",
            random: [7; 16],
            auxv: &auxv,
            stack_limit: 8 << 20,
        })
        .unwrap()
    }

    #[test]
    fn vectors_start_at_a_16_byte_aligned_sp() {
        let img = sample();
        assert_eq!(img.sp % 16, 0);
        assert_eq!(word(&img, img.sp), 2, "argc");
        assert_eq!(cstr(&img, word(&img, img.sp + 8)), b"/bin/prog");
        assert_eq!(cstr(&img, word(&img, img.sp + 16)), b"one");
        assert_eq!(word(&img, img.sp + 24), 0, "argv terminator");
        assert_eq!(cstr(&img, word(&img, img.sp + 32)), b"A=1");
        assert_eq!(cstr(&img, word(&img, img.sp + 40)), b"HOME=/root");
        assert_eq!(word(&img, img.sp + 48), 0, "envp terminator");
        assert_eq!(
            (word(&img, img.sp + 56), word(&img, img.sp + 64)),
            (at::PAGESZ, 4096)
        );
        assert_eq!(
            (word(&img, img.sp + 104), word(&img, img.sp + 112)),
            (0, 0),
            "AT_NULL"
        );
    }

    #[test]
    fn strings_are_ordered_argv_env_execfn_below_an_8_byte_gap() {
        let img = sample();
        // argv[0] lowest, then argv[1], envp[0], envp[1], execfn, then 8 bytes of zeros.
        assert_eq!(img.arg_start, word(&img, img.sp + 8));
        let execfn_len = b"/bin/prog".len() as u64 + 1;
        assert_eq!(img.execfn, TOP - 8 - execfn_len);
        assert_eq!(cstr(&img, img.execfn), b"/bin/prog");
        assert_eq!(img.env_end, img.execfn);
        assert_eq!(img.env_start, word(&img, img.sp + 32));
        let total: u64 = [10u64, 4, 4, 11].iter().sum();
        assert_eq!(img.arg_start, img.execfn - total);
        assert_eq!(&img.bytes[img.bytes.len() - 8..], &[0u8; 8]);
    }

    #[test]
    fn random_bytes_sit_16_aligned_below_the_strings() {
        let img = sample();
        assert_eq!(img.random, (img.arg_start & !15) - 16);
        let o = (img.random - img.base) as usize;
        assert_eq!(&img.bytes[o..o + 16], &[7u8; 16]);
        assert_eq!(img.auxv[1], (at::RANDOM, img.random));
        assert_eq!(img.auxv[2], (at::EXECFN, img.execfn));
    }

    #[test]
    fn oversized_arguments_are_e2big() {
        let argv = vec![vec![b'x'; MAX_ARG_STRLEN]];
        let args = StackArgs {
            top: TOP,
            argv: &argv,
            envp: &[],
            execfn: b"p",
            random: [0; 16],
            auxv: &[],
            stack_limit: 8 << 20,
        };
        assert_eq!(build(&args), Err(Errno::E2BIG));
        let argv: Vec<Vec<u8>> = (0..100).map(|_| vec![b'y'; 30000]).collect();
        let args = StackArgs {
            argv: &argv,
            ..args
        };
        assert_eq!(build(&args), Err(Errno::E2BIG));
    }
}
