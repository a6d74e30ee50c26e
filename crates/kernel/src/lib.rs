//! cowix's Linux layer: it turns the CPU (`cowix-isa`) and the memory
//! system (`cowix-mm`) into a Linux machine that runs unmodified riscv64
//! programs.
//!
//! It owns ELF loading and the initial stack ([`loader`], [`elf`],
//! [`stack`]), processes ([`process`]), the guest file system ([`vfs`]) and
//! file descriptors ([`fd`]), signals ([`signal`]) and the system calls
//! ([`syscall`]). The run loop ([`Kernel::run`]) is the trap handler: it
//! runs the CPU until it stops, then handles the reason: a system call,
//! a page fault (handed to the memory system's fault handler, after which
//! the instruction is re-executed), or a fatal trap turned into a signal.

pub mod elf;
pub mod errno;
pub mod fd;
pub mod loader;
pub mod process;
pub mod signal;
pub mod stack;
pub mod syscall;
pub mod uaccess;
pub mod vfs;

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::time::Instant;

use cowix_isa::{disassemble_raw, Access as CpuAccess, Cpu, Exit};
use cowix_mm::{FaultError, MemStats, PhysMem, SegvCode, PAGE_SIZE};

pub use crate::elf::ExecError;
use crate::fd::FdTable;
use crate::loader::ExecRequest;
use crate::process::{default_rlimits, rlimit, ArgArea, Creds, ExitStatus, Process};
use crate::signal::{sig, SignalState};
use crate::uaccess::{fault_access, GuestMemory};
use crate::vfs::Vfs;

/// Instructions a process runs before the kernel looks at it again.
const QUANTUM: u64 = 1 << 20;

/// How the machine is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Host directory that is the guest's `/`.
    pub root: PathBuf,
    /// The first process's working directory (a guest path).
    pub cwd: String,
    /// Guest physical memory, in bytes (rounded down to whole pages).
    pub memory: u64,
}

/// Default guest memory: enough for python3 or redis; host memory is only
/// committed as frames are used.
pub const DEFAULT_MEMORY: u64 = 4 << 30;

/// Time as the guest sees it.
#[derive(Debug)]
pub struct Clock {
    boot: Instant,
}

impl Clock {
    fn new() -> Self {
        Clock { boot: Instant::now() }
    }

    /// CLOCK_MONOTONIC: time since the machine started.
    pub fn monotonic_ns(&self) -> u64 {
        self.boot.elapsed().as_nanos() as u64
    }

    /// CPU time of a thread that retired `instret` instructions: one
    /// nanosecond per instruction (a 1 GHz, one-instruction-per-cycle hart),
    /// so it is reproducible and never runs backwards.
    pub fn cpu_ns(&self, instret: u64) -> u64 {
        instret
    }

    /// Fills `buf` from the host's random source.
    pub fn random(&self, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            match rustix::rand::getrandom(&mut buf[done..], rustix::rand::GetRandomFlags::empty()) {
                Ok(n) => done += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => panic!("Clock::random: host getrandom failed: {e}"),
            }
        }
    }
}

/// The machine: physical memory, the guest file system, the processes.
#[derive(Debug)]
pub struct Kernel {
    pm: PhysMem,
    vfs: Vfs,
    clock: Clock,
    procs: BTreeMap<i32, Process>,
    next_pid: i32,
    cwd: String,
    /// Guest instructions retired by processes that have ended.
    retired: u64,
}

impl Kernel {
    /// Boots an empty machine over `config.root`.
    pub fn new(config: Config) -> io::Result<Self> {
        let vfs = Vfs::new(&config.root)?;
        let cwd = vfs
            .resolve("/", config.cwd.as_bytes(), vfs::Follow::Yes)
            .map_err(|e| io::Error::from_raw_os_error(e.0))?;
        if !cwd.host.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("working directory {} is not a directory in the guest root", config.cwd),
            ));
        }
        Ok(Kernel {
            pm: PhysMem::try_new(config.memory / PAGE_SIZE)?,
            vfs,
            clock: Clock::new(),
            procs: BTreeMap::new(),
            next_pid: 1,
            cwd: cwd.guest,
            retired: 0,
        })
    }

    /// Memory statistics of the whole machine.
    pub fn mem_stats(&self) -> &MemStats {
        self.pm.stats()
    }

    /// Guest instructions retired so far, by every process.
    pub fn instructions(&self) -> u64 {
        self.retired + self.procs.values().map(|p| p.cpu.instret).sum::<u64>()
    }

    /// Starts `path` (a guest path) as a new process, as execve would from a
    /// process with the host's credentials. Returns its pid.
    pub fn spawn(&mut self, path: &[u8], argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) -> Result<i32, ExecError> {
        let creds = Creds {
            uid: rustix::process::getuid().as_raw(),
            euid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getgid().as_raw(),
            egid: rustix::process::getegid().as_raw(),
        };
        let rlimits = default_rlimits();
        let mut random = [0u8; 16];
        self.clock.random(&mut random);
        let req = ExecRequest {
            path,
            argv: &argv,
            envp: &envp,
            cwd: &self.cwd,
            creds,
            stack_limit: rlimits[rlimit::STACK].cur,
            random,
        };
        let loaded = loader::load(&mut self.pm, &self.vfs, &req)?;
        let pid = self.next_pid;
        self.next_pid += 1;
        let mut cpu = Cpu::new();
        cpu.pc = loaded.entry;
        cpu.x[2] = loaded.sp;
        let comm = loaded.exe.rsplit('/').next().unwrap_or("").chars().take(15).collect();
        let p = Process {
            pid,
            ppid: 0,
            cpu,
            mm: loaded.mm,
            tlb: loaded.tlb,
            fds: FdTable::with_stdio(),
            cwd: self.cwd.clone(),
            comm,
            exe: loaded.exe,
            args: ArgArea { ..loaded.args },
            auxv: loaded.auxv,
            creds,
            umask: 0o022,
            rlimits,
            signals: SignalState::default(),
            clear_child_tid: 0,
            robust_list: (0, 0),
            exit: None,
            fatal: None,
        };
        self.procs.insert(pid, p);
        Ok(pid)
    }

    /// Runs process `pid` until it ends; returns how it ended. Its memory is
    /// released.
    pub fn run(&mut self, pid: i32) -> ExitStatus {
        let status = loop {
            let Some(p) = self.procs.get_mut(&pid) else {
                panic!("Kernel::run: no process {pid}");
            };
            if let Some(s) = p.exit {
                break s;
            }
            p.tlb.sync(&p.mm, &mut self.pm);
            let exit = {
                let mut mem = GuestMemory { pm: &mut self.pm, mm: &mut p.mm, tlb: &mut p.tlb };
                p.cpu.run(&mut mem, QUANTUM)
            };
            match exit {
                Exit::Budget => {}
                Exit::Ecall => self.syscall(pid),
                Exit::MemFault(f) => self.page_fault(pid, f.addr, f.access),
                Exit::Illegal { pc, insn } => {
                    let p = self.procs.get_mut(&pid).expect("Kernel::run: process vanished");
                    let what = format!("illegal instruction {insn:#010x} at pc {pc:#x}: {}", disassemble_raw(insn, pc));
                    p.fatal = report(p, sig::SIGILL, &what);
                    p.exit = Some(ExitStatus::Signaled { signal: sig::SIGILL, core: true });
                }
                Exit::Breakpoint => {
                    let p = self.procs.get_mut(&pid).expect("Kernel::run: process vanished");
                    p.fatal = report(p, sig::SIGTRAP, &format!("breakpoint at pc {:#x}", p.cpu.pc));
                    p.exit = Some(ExitStatus::Signaled { signal: sig::SIGTRAP, core: true });
                }
            }
        };
        let p = self.procs.remove(&pid).expect("Kernel::run: process vanished");
        if let (ExitStatus::Signaled { signal, .. }, None) = (status, &p.fatal) {
            report(&p, signal, "sent by the program itself");
        }
        self.retired += p.cpu.instret;
        p.mm.release(&mut self.pm);
        status
    }

    fn syscall(&mut self, pid: i32) {
        let p = self.procs.get_mut(&pid).expect("Kernel::syscall: no process");
        let nr = p.cpu.x[17];
        let args = [p.cpu.x[10], p.cpu.x[11], p.cpu.x[12], p.cpu.x[13], p.cpu.x[14], p.cpu.x[15]];
        let mut sys = syscall::Sys { p, pm: &mut self.pm, vfs: &self.vfs, clock: &self.clock };
        let ret = syscall::dispatch(&mut sys, nr, args);
        p_of(&mut self.procs, pid).cpu.x[10] = ret;
    }

    /// A load, store or fetch faulted: let the memory system resolve it
    /// (the CPU re-executes the instruction), or deliver the signal Linux would.
    fn page_fault(&mut self, pid: i32, addr: u64, access: CpuAccess) {
        let p = p_of(&mut self.procs, pid);
        match p.mm.handle_fault(&mut self.pm, addr, fault_access(access)) {
            Ok(_) => {}
            Err(e) => {
                let what = match access {
                    CpuAccess::Read => "read of",
                    CpuAccess::Write => "write to",
                    CpuAccess::Execute => "instruction fetch from",
                };
                let (signal, why) = match e {
                    FaultError::Segv(SegvCode::MapErr) => (sig::SIGSEGV, "no mapping"),
                    FaultError::Segv(SegvCode::AccErr) => (sig::SIGSEGV, "not permitted"),
                    FaultError::Bus => (sig::SIGBUS, "beyond the end of the mapped file"),
                    FaultError::OutOfMemory => (sig::SIGKILL, "out of memory (--memory)"),
                };
                let pc = p.cpu.pc;
                p.fatal = report(p, signal, &format!("{what} {addr:#x} ({why}) at pc {pc:#x}"));
                p.exit = Some(ExitStatus::Signaled { signal, core: signal != sig::SIGKILL });
            }
        }
    }
}

fn p_of(procs: &mut BTreeMap<i32, Process>, pid: i32) -> &mut Process {
    procs.get_mut(&pid).expect("p_of: no such process")
}

/// Tells the user on stderr why a process is being killed by a signal.
fn report(p: &Process, signal: u8, what: &str) -> Option<String> {
    eprintln!("cowix: {} (pid {}) killed by {}: {}", p.comm, p.pid, signal::name(signal), what);
    Some(what.to_string())
}
