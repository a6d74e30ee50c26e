//! cowix's Linux layer: it turns the CPU (`cowix-isa`) and the memory
//! system (`cowix-mm`) into a Linux machine that runs unmodified riscv64
//! programs.
//!
//! It owns ELF loading and the initial stack ([`loader`], [`elf`],
//! [`stack`]), processes ([`process`]), the guest file system ([`vfs`]) and
//! file descriptors ([`fd`]), signals ([`signal`]) and the system calls
//! ([`syscall`]). The run loop ([`Kernel::run`]) is the scheduler and the
//! trap handler: it runs each process's CPU in turn until it stops, then
//! handles the reason: a system call (which may block the process until
//! something changes), a page fault (handed to the memory system's fault
//! handler, after which the instruction is re-executed), or a fatal trap
//! turned into a signal.

mod deliver;
pub mod elf;
pub mod errno;
pub mod fd;
pub mod loader;
pub mod pipe;
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
use crate::process::{default_rlimits, rlimit, ArgArea, Creds, ExitStatus, Process, Zombie};
use crate::signal::{code, sig, SigInfo, SignalState};
use crate::uaccess::{fault_access, GuestMemory, Tlb};
use crate::vfs::Vfs;

/// rt_sigreturn's number: handled by the run loop, it replaces every register.
const RT_SIGRETURN: u64 = 139;

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
        Clock {
            boot: Instant::now(),
        }
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
    /// Live processes by pid (a running process is taken out while it runs).
    procs: BTreeMap<i32, Process>,
    /// Ended processes not yet reaped by their parent.
    zombies: BTreeMap<i32, Zombie>,
    next_pid: i32,
    /// The process `run` was given: orphans are reparented to it (it plays
    /// init), and the machine stops when it ends.
    init: i32,
    init_status: Option<ExitStatus>,
    /// Moves whenever something a blocked syscall may wait for could have
    /// changed (any completed syscall, any process ending).
    events: u64,
    cwd: String,
    /// Guest instructions retired by processes that have ended.
    retired: u64,
    /// Blocks translated to host code by processes that have ended.
    translated: u64,
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
                format!(
                    "working directory {} is not a directory in the guest root",
                    config.cwd
                ),
            ));
        }
        Ok(Kernel {
            pm: PhysMem::try_new(config.memory / PAGE_SIZE)?,
            vfs,
            clock: Clock::new(),
            procs: BTreeMap::new(),
            zombies: BTreeMap::new(),
            next_pid: 1,
            init: 0,
            init_status: None,
            events: 0,
            cwd: cwd.guest,
            retired: 0,
            translated: 0,
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

    /// Guest code blocks translated to host code so far (by every process;
    /// a hart's count restarts at execve).
    pub fn translated_blocks(&self) -> u64 {
        self.translated
            + self
                .procs
                .values()
                .map(|p| p.cpu.translated_blocks())
                .sum::<u64>()
    }

    /// Starts `path` (a guest path) as a new process, as execve would from a
    /// process with the host's credentials. Returns its pid.
    pub fn spawn(
        &mut self,
        path: &[u8],
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
    ) -> Result<i32, ExecError> {
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
        let comm = loaded
            .exe
            .rsplit('/')
            .next()
            .unwrap_or("")
            .chars()
            .take(15)
            .collect();
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
            pgid: pid,
            sid: pid,
            exit_signal: sig::SIGCHLD,
            vfork_parent: None,
            vfork_child: None,
            blocked: None,
            sleep_until: None,
            write_done: 0,
            exit: None,
            vdso: loaded.vdso,
            fatal: None,
        };
        self.procs.insert(pid, p);
        Ok(pid)
    }

    /// Runs the machine until process `first` ends; returns how it ended.
    ///
    /// Every live process runs, round-robin in pid order, QUANTUM
    /// instructions a turn (a turn also ends when the process blocks or
    /// ends), so a run interleaves the same way every time. A process
    /// blocked in a syscall is retried after something happened (another
    /// syscall completed, a process ended). If every process is blocked,
    /// that is a deadlock: it is reported and they are all killed.
    ///
    /// `first` plays init: orphans are reparented to it. When it ends, the
    /// processes still running are killed with SIGKILL (as a PID namespace's
    /// processes are when its init dies) and every memory is released.
    pub fn run(&mut self, first: i32) -> ExitStatus {
        assert!(
            self.procs.contains_key(&first),
            "Kernel::run: no process {first}"
        );
        self.init = first;
        self.init_status = None;
        let mut cursor = first - 1;
        let status = loop {
            if let Some(s) = self.init_status {
                break s;
            }
            match self.pick(cursor) {
                Some(pid) => {
                    cursor = pid;
                    self.run_turn(pid);
                }
                None => match self.procs.values().filter_map(|p| p.sleep_until).min() {
                    // Only sleepers can go on: sleep the host until the first wakes.
                    Some(wake) => {
                        let now = self.clock.monotonic_ns();
                        std::thread::sleep(std::time::Duration::from_nanos(
                            wake.saturating_sub(now),
                        ));
                    }
                    None => self.break_deadlock(),
                },
            }
        };
        let rest: Vec<i32> = self.procs.keys().copied().collect();
        for pid in rest {
            let mut p = self
                .procs
                .remove(&pid)
                .expect("Kernel::run: process vanished");
            eprintln!(
                "cowix: {} (pid {}) killed by SIGKILL: still running when pid {first} ended",
                p.comm, pid
            );
            p.fatal = Some("orphan".into());
            p.exit = Some(ExitStatus::Signaled {
                signal: sig::SIGKILL,
                core: false,
            });
            self.finish(p);
        }
        self.zombies.clear();
        status
    }

    /// Whether `p` may run now: not ended, not waiting for a vfork child,
    /// and not blocked, or blocked but something happened since, or its
    /// sleep is over (`now`: CLOCK_MONOTONIC).
    fn runnable(&self, p: &Process, now: u64) -> bool {
        p.exit.is_none()
            && p.vfork_child.is_none()
            && (p.blocked != Some(self.events) || p.sleep_until.is_some_and(|d| d <= now))
    }

    /// The next runnable process after pid `after`, wrapping around.
    fn pick(&self, after: i32) -> Option<i32> {
        let now = self.clock.monotonic_ns();
        let later = self.procs.range(after + 1..);
        let earlier = self.procs.range(..=after);
        later
            .chain(earlier)
            .find(|(_, p)| self.runnable(p, now))
            .map(|(&pid, _)| pid)
    }

    /// Nothing can run: every process waits for another. Says who waits
    /// in what, then kills them all.
    fn break_deadlock(&mut self) {
        let who: Vec<String> = self
            .procs
            .values()
            .map(|p| match p.vfork_child {
                Some(c) => format!("pid {} ({}) in vfork of pid {c}", p.pid, p.comm),
                None => {
                    let nr = p.cpu.x[17];
                    format!(
                        "pid {} ({}) in {}",
                        p.pid,
                        p.comm,
                        syscall::name(nr).unwrap_or("a syscall")
                    )
                }
            })
            .collect();
        eprintln!(
            "cowix: deadlock: every process is blocked: {}; killing them all",
            who.join(", ")
        );
        let all: Vec<i32> = self.procs.keys().copied().collect();
        for pid in all {
            let mut p = self
                .procs
                .remove(&pid)
                .expect("break_deadlock: process vanished");
            p.fatal = Some("deadlock".into());
            p.exit = Some(ExitStatus::Signaled {
                signal: sig::SIGKILL,
                core: false,
            });
            self.finish(p);
        }
    }

    /// Runs process `pid` for one turn: until it has retired QUANTUM
    /// instructions, blocks, lends its memory to a vfork child, or ends.
    fn run_turn(&mut self, pid: i32) {
        let mut p = self
            .procs
            .remove(&pid)
            .expect("Kernel::run_turn: no process");
        if p.blocked.take().is_some() || p.sleep_until.is_some() {
            // Woken in a blocked syscall (pc at its ecall): a signal to
            // deliver interrupts it before the handler runs.
            deliver::discard_ignored(&mut p);
            if let Some(flags) = deliver::pending_handler(&p) {
                let nr = p.cpu.x[17];
                let args = syscall_args(&p.cpu);
                p.cpu.pc += 4;
                self.interrupt(&mut p, nr, args, flags);
            }
        }
        let start = p.cpu.instret;
        loop {
            let used = p.cpu.instret - start;
            if used >= QUANTUM {
                break;
            }
            // Every return to user mode delivers pending signals.
            deliver::handle_signals(&mut p, &mut self.pm);
            if p.exit.is_some() {
                break;
            }
            p.tlb.sync(&p.mm, &mut self.pm);
            let exit = {
                let mut mem = GuestMemory {
                    pm: &mut self.pm,
                    mm: &mut p.mm,
                    tlb: &mut p.tlb,
                };
                p.cpu.run(&mut mem, QUANTUM - used)
            };
            match exit {
                Exit::Budget => break,
                Exit::Ecall => self.syscall(&mut p),
                Exit::MemFault(f) => self.page_fault(&mut p, f.addr, f.access),
                Exit::Illegal { pc, insn } => {
                    let what = format!(
                        "illegal instruction {insn:#010x} at pc {pc:#x}: {}",
                        disassemble_raw(insn, pc)
                    );
                    deliver::force_fault(
                        &mut p,
                        SigInfo::fault(sig::SIGILL, code::ILL_ILLOPC, pc),
                        &what,
                    );
                }
                Exit::Breakpoint => {
                    let pc = p.cpu.pc;
                    let what = format!("breakpoint at pc {pc:#x}");
                    deliver::force_fault(
                        &mut p,
                        SigInfo::fault(sig::SIGTRAP, code::TRAP_BRKPT, pc),
                        &what,
                    );
                }
                Exit::Misaligned { addr, .. } => {
                    // Linux emulates misaligned loads and stores, not atomics: SIGBUS (BUS_ADRALN).
                    let what = format!(
                        "misaligned atomic access to {addr:#x} at pc {:#x}",
                        p.cpu.pc
                    );
                    deliver::force_fault(
                        &mut p,
                        SigInfo::fault(sig::SIGBUS, code::BUS_ADRALN, addr),
                        &what,
                    );
                }
            }
            if p.exit.is_some() || p.blocked.is_some() || p.vfork_child.is_some() {
                break;
            }
        }
        if p.exit.is_some() {
            self.finish(p);
        } else {
            self.procs.insert(pid, p);
        }
        // Processes another one killed (kill) end now.
        let killed: Vec<i32> = self
            .procs
            .values()
            .filter(|q| q.exit.is_some())
            .map(|q| q.pid)
            .collect();
        for k in killed {
            let q = self.procs.remove(&k).expect("run_turn: process vanished");
            self.finish(q);
        }
    }

    /// Ends process `p`: releases its memory (or gives a vfork parent its
    /// memory back) and files, hands its children to init, and leaves a
    /// zombie for its parent's wait4, unless the parent ignores SIGCHLD
    /// (then, as in Linux, it is reaped at once).
    fn finish(&mut self, mut p: Process) {
        let status = p.exit.expect("Kernel::finish: process has not ended");
        if let (ExitStatus::Signaled { signal, .. }, None) = (status, &p.fatal) {
            report(&p, signal, "sent by the program itself");
        }
        if p.clear_child_tid != 0 {
            // CLONE_CHILD_CLEARTID: zero the tid word (the futex wake has no one to wake).
            let _ =
                p.mm.write_bytes(&mut self.pm, p.clear_child_tid, &0u32.to_le_bytes());
        }
        self.retired += p.cpu.instret;
        self.translated += p.cpu.translated_blocks();
        p.fds = FdTable::default();
        let pid = p.pid;
        for q in self.procs.values_mut().filter(|q| q.ppid == pid) {
            q.ppid = self.init;
        }
        for z in self.zombies.values_mut().filter(|z| z.ppid == pid) {
            z.ppid = self.init;
        }
        if pid == self.init {
            self.init_status = Some(status);
        } else if let Some(parent) = self.procs.get_mut(&p.ppid) {
            const SA_NOCLDWAIT: u64 = 2;
            if p.exit_signal != 0 {
                // do_notify_parent: SIGCHLD (or clone's exit signal) with the status.
                let (code, st) = match status {
                    ExitStatus::Exited(c) => (code::CLD_EXITED, c as i32),
                    ExitStatus::Signaled { signal, core } => {
                        let dumped = core && p.rlimits[rlimit::CORE].cur > 0;
                        (
                            if dumped {
                                code::CLD_DUMPED
                            } else {
                                code::CLD_KILLED
                            },
                            signal as i32,
                        )
                    }
                };
                let info = SigInfo {
                    signo: p.exit_signal,
                    code,
                    pid,
                    uid: p.creds.uid,
                    status: st,
                    ..Default::default()
                };
                deliver::send(parent, info);
            }
            let chld = parent.signals.action(sig::SIGCHLD);
            if chld.handler != signal::SIG_IGN && chld.flags & SA_NOCLDWAIT == 0 {
                let z = Zombie {
                    ppid: p.ppid,
                    pgid: p.pgid,
                    status,
                    core_limit: p.rlimits[rlimit::CORE].cur,
                    instret: p.cpu.instret,
                };
                self.zombies.insert(pid, z);
            }
        }
        match p.vfork_parent {
            Some(ppid) => give_back_vfork_mm(&mut self.procs, &mut self.pm, ppid, p.mm),
            None => p.mm.release(&mut self.pm),
        }
        self.events += 1;
    }

    fn syscall(&mut self, p: &mut Process) {
        let nr = p.cpu.x[17];
        if nr == RT_SIGRETURN {
            deliver::sigreturn(p, &mut self.pm);
            self.events += 1;
            return;
        }
        let args = syscall_args(&p.cpu);
        let mut sys = syscall::Sys {
            p,
            pm: &mut self.pm,
            vfs: &self.vfs,
            clock: &self.clock,
            procs: &mut self.procs,
            zombies: &mut self.zombies,
            next_pid: &mut self.next_pid,
            init: self.init,
            block: false,
        };
        let ret = syscall::dispatch(&mut sys, nr, args);
        if sys.block {
            deliver::discard_ignored(p);
            match deliver::pending_handler(p) {
                // A signal is waiting: the syscall is interrupted.
                Some(flags) => self.interrupt(p, nr, args, flags),
                None => {
                    // Re-execute the ecall (always 4 bytes) when woken.
                    p.cpu.pc -= 4;
                    p.blocked = Some(self.events);
                }
            }
        } else {
            p.cpu.x[10] = ret;
            self.events += 1;
        }
    }

    /// A blocked syscall has a signal to deliver (`flags`: the handler's
    /// sa_flags, None if it kills): it fails with EINTR, or, under a
    /// SA_RESTART handler, is re-executed after the handler (Linux's
    /// ERESTARTSYS; a0 still holds the first argument, since a blocked
    /// syscall never wrote it). Sleeps and sigsuspend never restart
    /// (ERESTART_RESTARTBLOCK / ERESTARTNOHAND); a pipe write that wrote
    /// something returns the count.
    fn interrupt(&mut self, p: &mut Process, nr: u64, a: [u64; 6], flags: Option<u64>) {
        const NANOSLEEP: u64 = 101;
        const CLOCK_NANOSLEEP: u64 = 115;
        const RT_SIGSUSPEND: u64 = 133;
        self.events += 1;
        if let Some(deadline) = p.sleep_until.take() {
            let rem = match nr {
                NANOSLEEP => a[1],
                CLOCK_NANOSLEEP if a[1] & 1 == 0 => a[3],
                _ => 0,
            };
            if rem != 0 {
                let left = deadline.saturating_sub(self.clock.monotonic_ns());
                let mut ts = [0u8; 16];
                ts[..8].copy_from_slice(&(left / 1_000_000_000).to_le_bytes());
                ts[8..].copy_from_slice(&(left % 1_000_000_000).to_le_bytes());
                p.tlb.sync(&p.mm, &mut self.pm);
                let mut mem = GuestMemory {
                    pm: &mut self.pm,
                    mm: &mut p.mm,
                    tlb: &mut p.tlb,
                };
                let _ = mem.copy_out(rem, &ts);
            }
        }
        if p.write_done > 0 {
            p.cpu.x[10] = std::mem::take(&mut p.write_done) as u64;
            return;
        }
        let restart = ![NANOSLEEP, CLOCK_NANOSLEEP, RT_SIGSUSPEND].contains(&nr)
            && flags.is_some_and(|f| f & signal::SA_RESTART != 0);
        if restart {
            p.cpu.pc -= 4;
        } else {
            p.cpu.x[10] = errno::Errno::EINTR.to_ret();
        }
    }

    /// A load, store or fetch faulted: let the memory system resolve it
    /// (the CPU re-executes the instruction), or deliver the signal Linux would.
    fn page_fault(&mut self, p: &mut Process, addr: u64, access: CpuAccess) {
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
                let what = format!("{what} {addr:#x} ({why}) at pc {pc:#x}");
                if signal == sig::SIGKILL {
                    p.fatal = report(p, signal, &what);
                    p.exit = Some(ExitStatus::Signaled {
                        signal,
                        core: false,
                    });
                } else {
                    let si_code = match e {
                        FaultError::Segv(SegvCode::AccErr) => code::SEGV_ACCERR,
                        FaultError::Segv(_) => code::SEGV_MAPERR,
                        _ => code::BUS_ADRERR,
                    };
                    deliver::force_fault(p, SigInfo::fault(signal, si_code, addr), &what);
                }
            }
        }
    }
}

/// A vfork child execs or ends: its parent's address space goes back to the
/// parent, which runs again. If the parent has ended meanwhile, the address
/// space is released.
pub(crate) fn give_back_vfork_mm(
    procs: &mut BTreeMap<i32, Process>,
    pm: &mut PhysMem,
    ppid: i32,
    mm: cowix_mm::AddressSpace,
) {
    match procs.get_mut(&ppid) {
        Some(parent) if parent.vfork_child.is_some() => {
            let placeholder = std::mem::replace(&mut parent.mm, mm);
            placeholder.release(pm);
            parent.vfork_child = None;
            parent.tlb = Tlb::new(pm.zero_frame());
        }
        _ => mm.release(pm),
    }
}

/// A syscall's six arguments: a0..a5 (x10..x15) in the riscv64 ABI.
fn syscall_args(cpu: &Cpu) -> [u64; 6] {
    [
        cpu.x[10], cpu.x[11], cpu.x[12], cpu.x[13], cpu.x[14], cpu.x[15],
    ]
}

/// Tells the user on stderr why a process is being killed by a signal.
pub(crate) fn report(p: &Process, signal: u8, what: &str) -> Option<String> {
    eprintln!(
        "cowix: {} (pid {}) killed by {}: {}",
        p.comm,
        p.pid,
        signal::name(signal),
        what
    );
    Some(what.to_string())
}
