//! cowix's Linux layer: it turns the CPU (`cowix-isa`) and the memory
//! system (`cowix-mm`) into a Linux machine that runs unmodified riscv64
//! programs.
//!
//! It owns ELF loading and the initial stack ([`loader`], [`elf`],
//! [`stack`]), processes and their threads ([`process`]), futexes
//! ([`futex`]), the guest file system ([`vfs`]) and file descriptors
//! ([`fd`]), signals ([`signal`]) and the system calls ([`syscall`]). The
//! run loop ([`Kernel::run`]) is the scheduler and the trap handler: it
//! runs each thread's CPU in turn until it stops, then handles the reason:
//! a system call (which may block the thread until something changes), a page fault (handed to the memory system's fault
//! handler, after which the instruction is re-executed), or a fatal trap
//! turned into a signal.

pub mod accounting;
mod deliver;
pub mod elf;
pub mod epoll;
pub mod errno;
pub mod eventfd;
pub mod fd;
pub mod futex;
pub mod loader;
pub mod locks;
mod oom;
pub mod pipe;
pub mod process;
pub mod procfs;
pub mod signal;
pub mod signalfd;
pub mod socket;
pub mod stack;
pub mod strace;
pub mod syscall;
pub mod timerfd;
pub mod timers;
pub mod trace;
pub mod tty;
pub mod uaccess;
pub mod vfs;

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::time::Instant;

use cowix_isa::{disassemble_raw, Access as CpuAccess, Cpu, Exit};
use cowix_mm::{FaultError, MemStats, PhysMem, SegvCode, SwapFile, SwapInfo, PAGE_SIZE};

pub use crate::elf::ExecError;
use crate::fd::FdTable;
use crate::futex::FutexKey;
use crate::loader::ExecRequest;
use crate::process::{
    default_rlimits, rlimit, ArgArea, Creds, ExitStatus, Process, Thread, Zombie,
};
use crate::signal::{code, sig, SigInfo, SignalState, ThreadSignals};
use crate::uaccess::{fault_access, GuestMemory};
use crate::vfs::Vfs;
pub use cowix_mm::ForkMode;

/// rt_sigreturn's number: handled by the run loop, it replaces every register.
const RT_SIGRETURN: u64 = 139;
const EXIT: u64 = 93;
const EXIT_GROUP: u64 = 94;

/// Instructions a thread runs before the kernel looks at it again.
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
    /// Swap area size in bytes (0: no swap). The area is a sparse host file
    /// in the temp directory, unlinked as soon as it is created.
    pub swap: u64,
    /// How fork builds the child's address space.
    pub fork_mode: ForkMode,
    /// `--strace`: every system call, decoded, on stderr.
    pub strace: bool,
    /// `--aslr`: randomize each program's layout at exec (off: the same
    /// addresses every run, as with Linux's randomize_va_space=0).
    pub aslr: bool,
}

/// How [`Kernel::new`]'s error message starts when the swap file could not
/// be created.
pub const SWAP_ERROR: &str = "cannot create the swap file";

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

    /// The instant CLOCK_MONOTONIC counts from.
    pub fn boot(&self) -> Instant {
        self.boot
    }

    /// CPU time of a thread that retired `instret` instructions: one
    /// nanosecond per instruction (a 1 GHz, one-instruction-per-cycle hart),
    /// so it is reproducible and never runs backwards.
    pub fn cpu_ns(&self, instret: u64) -> u64 {
        instret
    }

    /// Four random words (layout randomization).
    pub fn random_words(&self) -> [u64; 4] {
        let mut b = [0u8; 32];
        self.random(&mut b);
        std::array::from_fn(|i| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap()))
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

/// For the trace: the pid of the live process (in `procs`, or `running`,
/// which is out of `procs` while it runs) whose address space has root
/// page table `root`.
fn root_owner<'a>(
    procs: &'a BTreeMap<i32, Process>,
    running: Option<&'a Process>,
) -> impl Fn(cowix_mm::FrameId) -> Option<i32> + 'a {
    move |root| {
        running
            .into_iter()
            .chain(procs.values())
            .find(|q| q.mm.get().root() == root)
            .map(|q| q.pid)
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
    /// fcntl record and OFD locks of every file.
    locks: locks::LockTable,
    /// Bound socket names and ports: the guest's network namespace.
    net: socket::Net,
    /// `--strace`.
    strace: bool,
    /// `--aslr`: the first process randomizes its layout (and so do its
    /// descendants, which inherit it).
    aslr: bool,
    /// Per-process peak memory accounting (`enable_accounting`).
    accounting: bool,
    /// Processes that have ended, with their peak memory (when accounting).
    reports: Vec<accounting::ProcessReport>,
    /// Processes created (spawn, fork, vfork; not threads).
    processes: u64,
    /// Ended processes not yet reaped by their parent.
    zombies: BTreeMap<i32, Zombie>,
    next_pid: i32,
    /// The process `run` was given: orphans are reparented to it (it plays
    /// init), and the machine stops when it ends.
    init: i32,
    init_status: Option<ExitStatus>,
    /// Moves whenever something a blocked syscall may wait for could have
    /// changed (any completed syscall, any thread or process ending).
    events: u64,
    cwd: String,
    /// Guest instructions retired by processes that have ended.
    retired: u64,
    /// `frames_in_use` when a watermark reclaim last freed nothing.
    futile_reclaim_at: Option<u64>,
    /// (tid, instret, count): out-of-memory faults of one thread that
    /// retired no instruction in between (reclaim frees frames, but only
    /// the ones the same instruction needs: thrashing).
    oom_stall: Option<(i32, u64, u32)>,
    /// Futex waits so far: orders the waiters of a futex.
    futex_seq: u64,
    /// Blocks translated to host code by processes that have ended.
    translated: u64,
    /// `--trace`: the open trace file (`trace.rs`).
    tracer: Option<trace::Tracer>,
    /// The console, the first session's controlling terminal (`tty.rs`).
    console: tty::Console,
    /// Every timerfd made (held weakly): the scheduler counts their
    /// expiries and wakes their waiters (`fire_timers`).
    timerfds: Vec<std::rc::Weak<std::cell::RefCell<timerfd::TimerFd>>>,
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
        let mut pm = PhysMem::try_new(config.memory / PAGE_SIZE)?;
        if config.swap >= PAGE_SIZE {
            let dir = std::env::temp_dir();
            let dev = SwapFile::create(&dir, config.swap).map_err(|e| {
                io::Error::new(e.kind(), format!("{SWAP_ERROR} in {}: {e}", dir.display()))
            })?;
            pm.enable_swap(Box::new(dev));
        }
        pm.set_fork_mode(config.fork_mode);
        Ok(Kernel {
            pm,
            vfs,
            clock: Clock::new(),
            procs: BTreeMap::new(),
            locks: locks::LockTable::default(),
            net: socket::Net::default(),
            strace: config.strace,
            aslr: config.aslr,
            accounting: false,
            reports: Vec::new(),
            processes: 0,
            zombies: BTreeMap::new(),
            next_pid: 1,
            init: 0,
            init_status: None,
            events: 0,
            cwd: cwd.guest,
            retired: 0,
            futile_reclaim_at: None,
            oom_stall: None,
            futex_seq: 0,
            translated: 0,
            tracer: None,
            console: tty::Console::default(),
            timerfds: Vec::new(),
        })
    }

    /// Memory statistics of the whole machine.
    pub fn mem_stats(&self) -> &MemStats {
        self.pm.stats()
    }

    /// Swap area usage (all zero without swap).
    pub fn swap_info(&self) -> SwapInfo {
        self.pm.swap_info()
    }

    /// Host bytes of memory-system metadata at its peak
    /// ([`PhysMem::peak_metadata_bytes`]).
    pub fn peak_metadata_bytes(&self) -> u64 {
        self.pm.peak_metadata_bytes()
    }

    /// Guest instructions retired so far, by every thread.
    pub fn instructions(&self) -> u64 {
        self.retired + self.procs.values().map(|p| p.instret(None)).sum::<u64>()
    }

    /// Guest code blocks translated to host code so far (by every process;
    /// a hart's count restarts at execve).
    pub fn translated_blocks(&self) -> u64 {
        self.translated
            + self
                .procs
                .values()
                .flat_map(|p| p.threads.values())
                .map(|t| t.cpu.translated_blocks())
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
            layout_random: self.aslr.then(|| self.clock.random_words()),
        };
        let loaded = loader::load(&mut self.pm, &self.vfs, &req)?;
        let pid = self.next_pid;
        self.next_pid += 1;
        let mut cpu = Cpu::new();
        cpu.pc = loaded.entry;
        cpu.x[2] = loaded.sp;
        let comm = process::comm_of_path(&loaded.exe);
        let leader = Thread::new(pid, cpu, loaded.tlb, ThreadSignals::default(), comm.clone());
        let p = Process {
            pid,
            ppid: 0,
            threads: BTreeMap::from([(pid, Box::new(leader))]),
            mm: process::Mm::new(loaded.mm),
            fds: FdTable::with_stdio(),
            fs: process::FsInfo::new(self.cwd.clone(), 0o022),
            comm,
            exe: loaded.exe,
            args: ArgArea { ..loaded.args },
            auxv: loaded.auxv,
            creds,
            groups: Vec::new(),
            nice: 0,
            rlimits,
            signals: SignalState::default(),
            pgid: pid,
            sid: pid,
            ctty: false,
            exit_signal: sig::SIGCHLD,
            vfork_parent: None,
            exit: None,
            leader_exit: None,
            retired: 0,
            vdso: loaded.vdso,
            fatal: None,
            sampling: Default::default(),
            randomize: self.aslr,
            job: Default::default(),
            timers: Default::default(),
        };
        let mut p = p;
        if self.console.session.is_none() && self.procs.is_empty() {
            // The first process's session has the console as its terminal.
            self.console.attach(&mut p);
        }
        if self.tracer.is_some() {
            let insn = self.instructions();
            if let Some(tracer) = self.tracer.as_mut() {
                let owner = root_owner(&self.procs, Some(&p));
                tracer.drain(&mut self.pm, insn, pid, &owner);
                let body = format!(r#","path":{}"#, trace::json_string(&p.exe));
                tracer.event(insn, pid, "exec", &body);
                tracer.snapshot(&self.pm, insn, pid, &p.mm.get(), "exec");
            }
        }
        self.procs.insert(pid, p);
        self.processes += 1;
        Ok(pid)
    }

    /// Turns on per-process peak memory accounting (`--stats`,
    /// `--stats-json`); see [`accounting`].
    pub fn enable_accounting(&mut self) {
        self.accounting = true;
    }

    /// Starts writing memory and process events to `path` as JSON lines
    /// (`--trace`, schema in docs/trace.md), at most `limit` events. Call
    /// it before [`spawn`](Self::spawn) so that the loader's faults are in
    /// the trace.
    pub fn enable_trace(&mut self, path: &std::path::Path, limit: u64) -> io::Result<()> {
        let tracer = trace::Tracer::create(path, limit, self.pm.stats().fork_mode.name())?;
        self.pm.enable_trace();
        self.tracer = Some(tracer);
        Ok(())
    }

    /// Ends the trace: snapshots of the processes still alive, the `end`
    /// record, and the file flushed. Does nothing without `--trace`.
    pub fn finish_trace(&mut self) -> io::Result<()> {
        let Some(mut tracer) = self.tracer.take() else {
            return Ok(());
        };
        let insn = self.instructions();
        tracer.drain(&mut self.pm, insn, 0, &root_owner(&self.procs, None));
        for p in self.procs.values() {
            tracer.snapshot(&self.pm, insn, p.pid, &p.mm.get(), "end");
        }
        tracer.finish(insn)
    }

    /// The guest instruction count while `p` (and its thread `t`) run
    /// outside `procs`: the trace's time axis.
    fn trace_clock(&self, p: &Process, t: Option<&Thread>) -> u64 {
        self.instructions() + p.instret(t)
    }

    /// Writes the memory events recorded since the last drain as `p`'s.
    fn trace_drain(&mut self, p: &Process, t: Option<&Thread>) {
        if self.tracer.is_some() {
            let insn = self.trace_clock(p, t);
            if let Some(tracer) = self.tracer.as_mut() {
                let owner = root_owner(&self.procs, Some(p));
                tracer.drain(&mut self.pm, insn, p.pid, &owner);
            }
        }
    }

    /// After `p`'s system call `nr` returned `ret`: the fork, vfork or
    /// exec it made, with snapshots. `fork_ns` is the fork time counter
    /// before the call.
    fn trace_syscall(&mut self, p: &Process, t: &Thread, nr: u64, ret: u64, fork_ns: u64) {
        const CLONE: u64 = 220;
        const EXECVE: u64 = 221;
        const EXECVEAT: u64 = 281;
        const CLONE3: u64 = 435;
        self.trace_drain(p, Some(t));
        let insn = self.trace_clock(p, Some(t));
        let Some(tracer) = self.tracer.as_mut() else {
            return;
        };
        match nr {
            CLONE | CLONE3 if (ret as i64) > 0 => {
                let child = ret as i32;
                let Some(c) = self.procs.get(&child) else {
                    return; // a thread
                };
                // vfork, or clone(CLONE_VM): the child uses the parent's memory.
                if c.mm.same(&p.mm) {
                    tracer.event(insn, p.pid, "vfork", &format!(r#","child":{child}"#));
                } else {
                    let stats = self.pm.stats();
                    let body = format!(
                        r#","child":{child},"mode":"{}","ns":{}"#,
                        stats.fork_mode.name(),
                        stats.fork_ns.saturating_sub(fork_ns)
                    );
                    tracer.event(insn, p.pid, "fork", &body);
                    tracer.snapshot(&self.pm, insn, p.pid, &p.mm.get(), "fork");
                }
                tracer.snapshot(&self.pm, insn, child, &c.mm.get(), "fork");
            }
            EXECVE | EXECVEAT if ret == 0 => {
                let body = format!(r#","path":{}"#, trace::json_string(&p.exe));
                tracer.event(insn, p.pid, "exec", &body);
                tracer.snapshot(&self.pm, insn, p.pid, &p.mm.get(), "exec");
            }
            _ => {}
        }
    }

    /// The processes that have ended, in the order they ended, with their
    /// peak memory (empty unless accounting is on).
    pub fn process_reports(&self) -> &[accounting::ProcessReport] {
        &self.reports
    }

    /// How many processes were created (the first, and every fork or vfork).
    pub fn processes_created(&self) -> u64 {
        self.processes
    }

    /// Runs the machine until process `first` ends; returns how it ended.
    ///
    /// Every live thread runs, round-robin in (pid, tid) order, QUANTUM
    /// instructions a turn (a turn also ends when the thread blocks, yields
    /// or ends), so a run interleaves the same way every time. A thread
    /// blocked in a syscall is retried after something happened (another
    /// syscall completed, a process ended); one parked in a futex wait runs
    /// again when woken, when its timeout passes or when a signal comes. If
    /// every thread is blocked, that is a deadlock: it is reported and they
    /// are all killed.
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
        let mut cursor = (first - 1, 0);
        let status = loop {
            if let Some(s) = self.init_status {
                break s;
            }
            self.fire_timers();
            match self.pick(cursor) {
                Some(next) => {
                    cursor = next;
                    self.run_turn(next.0, next.1);
                }
                None => match self
                    .procs
                    .values()
                    .filter(|p| p.job.stopped.is_none())
                    .flat_map(|p| p.threads.values())
                    .filter_map(|t| t.sleep_until)
                    .chain(self.timer_wakeup())
                    .min()
                {
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

    /// Fires every process's expired timers (`timers::expire`) and counts
    /// the timerfds' expiries, in pid order; anything that expired moves
    /// the event count, so that blocked threads retry (a signal
    /// interrupts them, a timerfd read finds its count).
    fn fire_timers(&mut self) {
        let mut fired = false;
        for p in self.procs.values_mut() {
            fired |= timers::expire(p, None, &self.clock);
        }
        self.timerfds.retain(|t| t.strong_count() > 0);
        for t in self.timerfds.iter().filter_map(std::rc::Weak::upgrade) {
            fired |= t.borrow_mut().update();
        }
        if fired {
            self.events += 1;
        }
    }

    /// The CLOCK_MONOTONIC time of the next wall-clock or monotonic timer
    /// expiry of any process or timerfd: when nothing can run, the host
    /// sleeps until then rather than call it a deadlock.
    fn timer_wakeup(&self) -> Option<u64> {
        let mono = self.clock.monotonic_ns();
        let real = timers::realtime_ns();
        let procs = self
            .procs
            .values()
            .filter_map(|p| p.timers.next_wakeup(mono, real));
        let fds = self
            .timerfds
            .iter()
            .filter_map(std::rc::Weak::upgrade)
            .filter_map(|t| t.borrow().next_monotonic(mono));
        procs.chain(fds).min()
    }

    /// Whether thread `t` of `p` may run now: the group has not ended nor
    /// stopped, the thread does not wait in vfork and is not blocked, or
    /// blocked but something happened since, or its sleep is over, or (in
    /// a futex wait) it has a signal to take (`now`: CLOCK_MONOTONIC).
    fn runnable(&self, p: &Process, t: &Thread, now: u64) -> bool {
        if p.exit.is_some() || t.vfork_child.is_some() || p.job.stopped.is_some() {
            return false;
        }
        let slept = t.sleep_until.is_some_and(|d| d <= now);
        if t.futex.is_some() {
            return slept
                || t.signals
                    .next_deliverable(&p.signals.shared, deliver::shared_takes(p, t))
                    .is_some();
        }
        t.blocked != Some(self.events) || slept
    }

    /// The next runnable thread after (pid, tid) `after`, wrapping around.
    fn pick(&self, after: (i32, i32)) -> Option<(i32, i32)> {
        let now = self.clock.monotonic_ns();
        let mut ready = self.procs.iter().flat_map(|(&pid, p)| {
            p.threads
                .iter()
                .filter(move |(_, t)| self.runnable(p, t, now))
                .map(move |(&tid, _)| (pid, tid))
        });
        let mut first = None;
        for id in ready.by_ref() {
            if id > after {
                return Some(id);
            }
            first.get_or_insert(id);
        }
        first
    }

    /// Nothing can run: every thread waits for another. Says who waits
    /// in what, then kills them all.
    fn break_deadlock(&mut self) {
        let mut who: Vec<String> = Vec::new();
        for p in self.procs.values() {
            if let Some(n) = p.job.stopped {
                let name = signal::name(n);
                who.push(format!("pid {} ({}) stopped by {name}", p.pid, p.comm));
                continue;
            }
            for t in p.threads.values() {
                let nr = t.cpu.x[17];
                let id = if t.tid == p.pid {
                    format!("pid {}", p.pid)
                } else {
                    format!("pid {} tid {}", p.pid, t.tid)
                };
                match t.vfork_child {
                    Some(c) => who.push(format!("{id} ({}) in vfork of pid {c}", p.comm)),
                    None => who.push(format!(
                        "{id} ({}) in {}",
                        p.comm,
                        syscall::name(nr).unwrap_or("a syscall")
                    )),
                }
            }
        }
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

    /// Runs thread `tid` of process `pid` for one turn: until it has
    /// retired QUANTUM instructions, blocks, yields, waits in vfork, or it
    /// or its group ends. Its process is taken out of
    /// `procs` and the thread out of the process for the turn.
    fn run_turn(&mut self, pid: i32, tid: i32) {
        let mut p = self
            .procs
            .remove(&pid)
            .expect("Kernel::run_turn: no process");
        let mut t = p.threads.remove(&tid).expect("Kernel::run_turn: no thread");
        // A context switch drops the hart's LR reservation (another hart
        // may have stored to the reserved word meanwhile).
        t.cpu.clear_reservation();
        if t.futex.is_some() {
            self.end_futex_wait(&mut p, &mut t);
        } else if t.blocked.take().is_some() || t.sleep_until.is_some() {
            // Woken in a blocked syscall (pc at its ecall): a stop signal
            // stops the group (the syscall is retried once continued).
            if let Some(n) = deliver::discard_ignored(&mut p, &mut t) {
                self.stop_group(&mut p, n);
            }
            if p.job.stopped.is_some() {
                t.blocked = Some(self.events);
            } else if t.sleep_until.is_none() {
                // The syscall runs again first: what it waited for wins
                // over a signal (do_wait, pipe_read check their condition
                // before signal_pending); if it must wait again, a signal
                // to deliver interrupts it (`syscall`).
                t.cpu.pc += 4;
                let _ = self.syscall(&mut p, &mut t);
            } else if let Some(flags) = deliver::pending_handler(&p, &t) {
                // A sleep: a signal to deliver interrupts it before the
                // handler runs.
                let nr = t.cpu.x[17];
                let args = syscall_args(&t.cpu);
                t.cpu.pc += 4;
                self.interrupt(&mut p, &mut t, nr, args, flags);
            }
        }
        let start = t.cpu.instret;
        loop {
            let used = t.cpu.instret - start;
            if used >= QUANTUM || t.futex.is_some() || t.blocked.is_some() {
                break;
            }
            // Every return to user mode delivers pending signals.
            if let Some(n) = deliver::handle_signals(&mut p, &mut t, &mut self.pm) {
                self.stop_group(&mut p, n);
            }
            if p.exit.is_some() || p.job.stopped.is_some() {
                break;
            }
            self.balance_memory(&mut p);
            t.tlb.sync(&p.mm.get(), &mut self.pm);
            // A CPU-time timer ends the stretch at its expiry.
            let cpu = self.clock.cpu_ns(p.instret(Some(&t)));
            let due = p.timers.cpu_budget(cpu, &t).unwrap_or(u64::MAX);
            let exit = {
                let mut mem = GuestMemory {
                    pm: &mut self.pm,
                    mm: p.mm.get_mut().into(),
                    tlb: &mut t.tlb,
                };
                t.cpu.run(
                    &mut mem,
                    (QUANTUM - used).min(due.max(timers::MIN_CPU_SLICE)),
                )
            };
            let mut yielded = false;
            if timers::expire(&mut p, Some(&mut t), &self.clock) {
                self.events += 1;
            }
            match exit {
                Exit::Budget => {
                    if t.cpu.instret - start >= QUANTUM {
                        break;
                    }
                }
                Exit::Ecall => yielded = self.syscall(&mut p, &mut t),
                Exit::MemFault(f) => self.page_fault(&mut p, &mut t, f.addr, f.access),
                Exit::Illegal { pc, insn } => {
                    let what = format!(
                        "illegal instruction {insn:#010x} at pc {pc:#x}: {}",
                        disassemble_raw(insn, pc)
                    );
                    deliver::force_fault(
                        &mut p,
                        &mut t,
                        SigInfo::fault(sig::SIGILL, code::ILL_ILLOPC, pc),
                        &what,
                    );
                }
                Exit::Breakpoint => {
                    let pc = t.cpu.pc;
                    let what = format!("breakpoint at pc {pc:#x}");
                    deliver::force_fault(
                        &mut p,
                        &mut t,
                        SigInfo::fault(sig::SIGTRAP, code::TRAP_BRKPT, pc),
                        &what,
                    );
                }
                Exit::Misaligned { addr, .. } => {
                    // Linux emulates misaligned loads and stores, not atomics: SIGBUS (BUS_ADRALN).
                    let what = format!(
                        "misaligned atomic access to {addr:#x} at pc {:#x}",
                        t.cpu.pc
                    );
                    deliver::force_fault(
                        &mut p,
                        &mut t,
                        SigInfo::fault(sig::SIGBUS, code::BUS_ADRALN, addr),
                        &what,
                    );
                }
            }
            if yielded
                || p.exit.is_some()
                || t.exited.is_some()
                || t.blocked.is_some()
                || t.futex.is_some()
                || t.vfork_child.is_some()
                || p.job.stopped.is_some()
            {
                break;
            }
        }
        if p.exit.is_none() && t.exited.is_some() {
            self.end_thread(&mut p, *t);
        } else {
            p.threads.insert(t.tid, t);
        }
        if self.accounting && p.exit.is_none() {
            accounting::sample_after_turn(&mut p, &self.pm);
        }
        self.trace_drain(&p, None);
        if p.exit.is_some() {
            self.finish(p);
        } else {
            self.procs.insert(pid, p);
        }
        // Processes another one killed (kill) end now, and those their
        // ends kill (an orphaned group's SIGHUP).
        loop {
            let killed: Vec<i32> = self
                .procs
                .values()
                .filter(|q| q.exit.is_some())
                .map(|q| q.pid)
                .collect();
            if killed.is_empty() {
                break;
            }
            for k in killed {
                let q = self.procs.remove(&k).expect("run_turn: process vanished");
                self.finish(q);
            }
        }
        self.notify_parents();
    }

    /// Stops group `p` with stop signal `n` a thread of it took
    /// (do_signal_stop): no thread of it runs until SIGCONT, its parent's
    /// wait can report it, and the parent is owed a CLD_STOPPED. SIGTSTP,
    /// SIGTTIN and SIGTTOU are discarded instead when the process group
    /// is orphaned (get_signal's is_current_pgrp_orphaned check).
    fn stop_group(&mut self, p: &mut Process, n: u8) {
        if n != sig::SIGSTOP && self.orphaned_pgrp(p.pgid, Some(p)) {
            return;
        }
        p.job.stopped = Some(n);
        p.job.stop_report = Some(n);
        p.job.cont_report = false;
        p.job.notify.push((code::CLD_STOPPED, n as i32));
        self.events += 1;
    }

    /// Whether process group `pgid` is orphaned (kernel/exit.c:
    /// will_become_orphaned_pgrp): no live member has a parent in another
    /// group of the same session. `running` is a live process taken out of
    /// `procs`. The first process's parent is outside the machine: it
    /// counts as a shell in another group of the same session. cowix's
    /// init is a parent like any other to its own children, but a process
    /// reparented to it has, as in Linux under the global init, no parent
    /// that keeps its group from being orphaned.
    fn orphaned_pgrp(&self, pgid: i32, running: Option<&Process>) -> bool {
        orphaned_pgrp(&self.procs, self.init, pgid, running)
    }

    /// The session leader `p` ends with the console as its controlling
    /// terminal (do_exit → disassociate_ctty(1), a pseudo-terminal's way):
    /// the foreground group gets SIGHUP, and every process of the session
    /// loses the terminal.
    fn hang_up_session(&mut self, p: &Process) {
        if !p.ctty || p.sid != p.pid || self.console.session != Some(p.sid) {
            return;
        }
        let fg = self.console.pgrp;
        for q in self.procs.values_mut() {
            if fg > 0 && q.pgid == fg {
                let _ = deliver::send(q, None, SigInfo::user(sig::SIGHUP, code::SI_KERNEL, 0, 0));
            }
            if q.sid == p.sid {
                q.ctty = false;
            }
        }
        self.console.session = None;
        self.console.pgrp = 0;
    }

    /// Process `p` has ended and its children went to init: a process
    /// group this orphans that has a stopped member gets SIGHUP then
    /// SIGCONT (kernel/exit.c: kill_orphaned_pgrp, for `p`'s own group if
    /// `p` was what kept it joined to its session, and for each child's
    /// group in `p`'s session).
    fn kill_orphaned_pgrps(&mut self, p: &Process, children_pgrps: &[i32]) {
        let mut groups = Vec::new();
        let parent = self.procs.get(&p.ppid);
        if parent.is_some_and(|par| par.pgid != p.pgid && par.sid == p.sid) {
            groups.push(p.pgid);
        }
        groups.extend(children_pgrps.iter().copied().filter(|&g| g != p.pgid));
        groups.sort_unstable();
        groups.dedup();
        for g in groups {
            let stopped = self
                .procs
                .values()
                .any(|q| q.pgid == g && q.job.stopped.is_some());
            if !stopped || !self.orphaned_pgrp(g, None) {
                continue;
            }
            for n in [sig::SIGHUP, sig::SIGCONT] {
                for q in self.procs.values_mut().filter(|q| q.pgid == g) {
                    let info = SigInfo::user(n, code::SI_KERNEL, 0, 0);
                    let _ = deliver::send(q, None, info);
                }
            }
            self.events += 1;
        }
    }

    /// Sends the SIGCHLDs owed for stops and continues
    /// (do_notify_parent_cldstop): si_code CLD_STOPPED with the stop
    /// signal or CLD_CONTINUED with SIGCONT, unless the parent's SIGCHLD
    /// action has SA_NOCLDSTOP; the parent's wait is woken either way.
    fn notify_parents(&mut self) {
        type Owed = (i32, i32, u32, Vec<(i32, i32)>);
        let owed: Vec<Owed> = self
            .procs
            .values_mut()
            .filter(|q| !q.job.notify.is_empty())
            .map(|q| {
                (
                    q.pid,
                    q.ppid,
                    q.creds.uid,
                    std::mem::take(&mut q.job.notify),
                )
            })
            .collect();
        for (pid, ppid, uid, notes) in owed {
            self.events += 1;
            let Some(parent) = self.procs.get_mut(&ppid) else {
                continue;
            };
            if parent.signals.action(sig::SIGCHLD).flags & signal::SA_NOCLDSTOP != 0 {
                continue;
            }
            for (code, status) in notes {
                let info = SigInfo {
                    signo: sig::SIGCHLD,
                    code,
                    pid,
                    uid,
                    status,
                    ..Default::default()
                };
                let _ = deliver::send(parent, None, info);
            }
        }
    }

    /// A thread parked in FUTEX_WAIT gets its turn: it was woken (its wait
    /// is gone and a0 is 0), its timeout passed (ETIMEDOUT), or a signal
    /// interrupts it (EINTR, or a restart under SA_RESTART when it had no
    /// timeout, as futex_wait's -ERESTARTSYS).
    fn end_futex_wait(&mut self, p: &mut Process, t: &mut Thread) {
        if let Some(n) = deliver::discard_ignored(p, t) {
            self.stop_group(p, n);
        }
        if p.job.stopped.is_some() {
            // Still waiting: the wait goes on once continued.
        } else if let Some(flags) = deliver::pending_handler(p, t) {
            let nr = t.cpu.x[17];
            let args = syscall_args(&t.cpu);
            t.futex = None;
            self.interrupt(p, t, nr, args, flags);
        } else if t
            .sleep_until
            .is_some_and(|d| d <= self.clock.monotonic_ns())
        {
            t.futex = None;
            t.sleep_until = None;
            t.cpu.x[10] = errno::Errno::ETIMEDOUT.to_ret();
        }
    }

    /// Thread `t` of `p` called exit while its group goes on (do_exit
    /// without group exit): its clear_child_tid word is zeroed and one
    /// waiter woken (mm_release; pthread_join waits on it), its robust
    /// futexes are released, and it is gone. The last thread to go ends
    /// the group, with the leader's exit code.
    fn end_thread(&mut self, p: &mut Process, t: Thread) {
        let code = t.exited.expect("Kernel::end_thread: thread has not exited");
        self.release_thread(p, &t);
        if t.tid == p.pid {
            p.leader_exit = Some(code);
        }
        p.retired += t.cpu.instret;
        if p.threads.is_empty() {
            p.exit = Some(ExitStatus::Exited(p.leader_exit.unwrap_or(code)));
        }
        self.events += 1;
    }

    /// What every ending thread gives back to the memory it shares: the
    /// robust futexes it holds are marked FUTEX_OWNER_DIED with a waiter
    /// woken (exit_robust_list), then its clear_child_tid word is zeroed
    /// and one waiter woken (mm_release).
    fn release_thread(&mut self, p: &mut Process, t: &Thread) {
        futex::exit_robust_list(p, &mut self.procs, &mut self.pm, t);
        if t.clear_child_tid != 0 {
            let addr = t.clear_child_tid;
            let key = {
                let mut mm = p.mm.get_mut();
                let zeroed = mm.write_bytes(&mut self.pm, addr, &0u32.to_le_bytes());
                zeroed
                    .ok()
                    .and_then(|_| FutexKey::new(&mut mm, &mut self.pm, p.mm.id(), addr, false))
            };
            if let Some(key) = key {
                futex::wake(p, &mut self.procs, key, 1, u32::MAX);
            }
        }
    }

    /// Ends process `p` and every thread it still has: releases its memory
    /// (the last user's put; a vfork parent's thread runs again) and files, hands its
    /// children to init, and leaves a zombie for its parent's wait4, unless
    /// the parent ignores SIGCHLD (then, as in Linux, it is reaped at once).
    fn finish(&mut self, mut p: Process) {
        let status = p.exit.expect("Kernel::finish: process has not ended");
        if self.tracer.is_some() {
            self.trace_drain(&p, None);
            let insn = self.trace_clock(&p, None);
            let body = match status {
                ExitStatus::Exited(c) => format!(r#","status":{c},"signal":null"#),
                ExitStatus::Signaled { signal, .. } => {
                    format!(r#","status":null,"signal":{signal}"#)
                }
            };
            if let Some(tracer) = self.tracer.as_mut() {
                tracer.event(insn, p.pid, "exit", &body);
                tracer.snapshot(&self.pm, insn, p.pid, &p.mm.get(), "exit");
            }
        }
        if self.strace {
            let line = match status {
                ExitStatus::Exited(c) => format!("+++ exited with {c} +++"),
                ExitStatus::Signaled { signal, core } => format!(
                    "+++ killed by {}{} +++",
                    signal::name(signal),
                    if core && p.rlimits[rlimit::CORE].cur > 0 {
                        " (core dumped)"
                    } else {
                        ""
                    }
                ),
            };
            trace_line(self.init, p.pid, &line);
        }
        if let (ExitStatus::Signaled { signal, .. }, None) = (status, &p.fatal) {
            report(&p, signal, "sent by the program itself");
        }
        self.hang_up_session(&p);
        let threads = std::mem::take(&mut p.threads);
        for t in threads.values() {
            // The memory may live on (other users of it): each thread lets go of it.
            self.release_thread(&mut p, t);
            p.retired += t.cpu.instret;
            self.translated += t.cpu.translated_blocks();
        }
        let instret = p.retired;
        self.retired += instret;
        p.fds = FdTable::default();
        let pid = p.pid;
        let mut children_pgrps = Vec::new();
        for q in self.procs.values_mut().filter(|q| q.ppid == pid) {
            q.ppid = self.init;
            q.job.reparented = true;
            // reparent_leader: "we don't want people slaying init".
            q.exit_signal = sig::SIGCHLD;
            if q.sid == p.sid {
                children_pgrps.push(q.pgid);
            }
        }
        if pid != self.init {
            self.kill_orphaned_pgrps(&p, &children_pgrps);
        }
        for z in self.zombies.values_mut().filter(|z| z.ppid == pid) {
            z.ppid = self.init;
            z.clone_child = false;
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
                let _ = deliver::send(parent, None, info);
            }
            // do_notify_parent: only a child reporting with SIGCHLD is
            // reaped at once by a parent ignoring it (or SA_NOCLDWAIT).
            let chld = parent.signals.action(sig::SIGCHLD);
            let autoreap = p.exit_signal == sig::SIGCHLD
                && (chld.handler == signal::SIG_IGN || chld.flags & SA_NOCLDWAIT != 0);
            if !autoreap {
                let z = Zombie {
                    ppid: p.ppid,
                    pgid: p.pgid,
                    status,
                    core_limit: p.rlimits[rlimit::CORE].cur,
                    instret,
                    clone_child: p.exit_signal != sig::SIGCHLD,
                };
                self.zombies.insert(pid, z);
            }
        }
        if self.accounting {
            if p.vfork_parent.is_none() {
                accounting::sample(&mut p, &self.pm);
            }
            let words = procfs::command_line(&mut self.pm, &mut p);
            self.reports.push(accounting::ProcessReport {
                pid: p.pid,
                command_line: words,
                peak: p.sampling.peak,
            });
        }
        // exit_mm: mmput, then the vfork parent's thread runs again.
        p.mm.put(&mut self.pm);
        if let Some(parent) = p.vfork_parent {
            vfork_done(&mut self.procs, parent);
        }
        self.events += 1;
    }

    /// Handles thread `t`'s ecall. True if the thread gives up the rest of
    /// its turn (sched_yield).
    fn syscall(&mut self, p: &mut Process, t: &mut Thread) -> bool {
        let nr = t.cpu.x[17];
        if nr == RT_SIGRETURN {
            deliver::sigreturn(p, t, &mut self.pm);
            self.events += 1;
            return false;
        }
        let args = syscall_args(&t.cpu);
        let (tid, init) = (t.tid, self.init);
        let fork_ns = self.pm.stats().fork_ns;
        let mut sys = syscall::Sys {
            p,
            t,
            pm: &mut self.pm,
            vfs: &self.vfs,
            clock: &self.clock,
            procs: &mut self.procs,
            locks: &mut self.locks,
            net: &mut self.net,
            console: &mut self.console,
            accounting: self.accounting,
            processes: &mut self.processes,
            zombies: &mut self.zombies,
            next_pid: &mut self.next_pid,
            futex_seq: &mut self.futex_seq,
            init: self.init,
            block: false,
            resched: false,
            timerfds: &mut self.timerfds,
        };
        let traced = self.strace.then(|| strace::enter(nr, args, &mut sys.mem()));
        if let (Some(e), EXIT | EXIT_GROUP) = (&traced, nr) {
            trace_line(init, tid, &strace::no_return(e));
        }
        let ret = syscall::dispatch(&mut sys, nr, args);
        let (block, resched) = (sys.block, sys.resched);
        if self.tracer.is_some() {
            self.trace_syscall(p, t, nr, ret, fork_ns);
        }
        if let Some(e) = &traced {
            if t.futex.is_some() {
                trace_line(self.init, tid, &strace::unfinished(e));
            } else if !block && !matches!(nr, EXIT | EXIT_GROUP) {
                t.tlb.sync(&p.mm.get(), &mut self.pm);
                let mut mem = uaccess::GuestMemory {
                    pm: &mut self.pm,
                    mm: p.mm.get_mut().into(),
                    tlb: &mut t.tlb,
                };
                let line = strace::exit(e, ret, &mut mem);
                trace_line(self.init, tid, &line);
            }
        }
        if t.futex.is_some() {
            // Parked in FUTEX_WAIT: the waker writes a0. A signal already
            // waiting interrupts the wait at once.
            self.events += 1;
            if let Some(n) = deliver::discard_ignored(p, t) {
                self.stop_group(p, n);
            }
            if p.job.stopped.is_some() {
                // The wait goes on once continued.
            } else if let Some(flags) = deliver::pending_handler(p, t) {
                t.futex = None;
                self.interrupt(p, t, nr, args, flags);
            }
        } else if block {
            if let Some(n) = deliver::discard_ignored(p, t) {
                self.stop_group(p, n);
            }
            let stopped = p.job.stopped.is_some();
            match deliver::pending_handler(p, t).filter(|_| !stopped) {
                // A signal is waiting: the syscall is interrupted.
                Some(flags) => self.interrupt(p, t, nr, args, flags),
                None => {
                    // Re-execute the ecall (always 4 bytes) when woken.
                    t.cpu.pc -= 4;
                    t.blocked = Some(self.events);
                }
            }
        } else {
            t.cpu.x[10] = ret;
            self.events += 1;
        }
        resched
    }

    /// A blocked syscall has a signal to deliver (`flags`: the handler's
    /// sa_flags, None if it kills): it fails with EINTR, or, under a
    /// SA_RESTART handler, is re-executed after the handler (Linux's
    /// ERESTARTSYS; a0 still holds the first argument, since a blocked
    /// syscall never wrote it). Sleeps, sigsuspend, ppoll and pselect6
    /// never restart (ERESTART_RESTARTBLOCK / ERESTARTNOHAND), nor does any
    /// wait with a timeout (a futex wait, a socket call under SO_RCVTIMEO
    /// or SO_SNDTIMEO: net/core/sock.c's sock_intr_errno gives -EINTR
    /// unless the wait was unbounded);
    /// a pipe write that wrote something returns the count.
    fn interrupt(
        &mut self,
        p: &mut Process,
        t: &mut Thread,
        nr: u64,
        a: [u64; 6],
        flags: Option<u64>,
    ) {
        const NANOSLEEP: u64 = 101;
        const CLOCK_NANOSLEEP: u64 = 115;
        const RT_SIGSUSPEND: u64 = 133;
        self.events += 1;
        let timed = t.sleep_until.is_some();
        if let Some(deadline) = t.sleep_until.take() {
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
                t.tlb.sync(&p.mm.get(), &mut self.pm);
                let mut mem = GuestMemory {
                    pm: &mut self.pm,
                    mm: p.mm.get_mut().into(),
                    tlb: &mut t.tlb,
                };
                let _ = mem.copy_out(rem, &ts);
            }
        }
        if t.write_done > 0 {
            t.cpu.x[10] = std::mem::take(&mut t.write_done) as u64;
            return;
        }
        const PSELECT6: u64 = 72;
        const PPOLL: u64 = 73;
        const EPOLL_PWAIT: u64 = 22;
        const EPOLL_PWAIT2: u64 = 441;
        let restart = ![
            NANOSLEEP,
            CLOCK_NANOSLEEP,
            RT_SIGSUSPEND,
            PSELECT6,
            PPOLL,
            EPOLL_PWAIT,
            EPOLL_PWAIT2,
        ]
        .contains(&nr)
            && !timed
            && flags.is_some_and(|f| f & signal::SA_RESTART != 0);
        if restart {
            t.cpu.pc -= 4;
        } else {
            t.cpu.x[10] = errno::Errno::EINTR.to_ret();
        }
    }

    /// A load, store or fetch faulted: let the memory system resolve it
    /// (the CPU re-executes the instruction), or deliver the signal Linux would.
    ///
    /// Out of frames: reclaim over every process and retry; if nothing can
    /// be reclaimed, the OOM killer ends the process with the highest
    /// badness (this one, or another, after which this one retries).
    fn page_fault(&mut self, p: &mut Process, t: &mut Thread, addr: u64, access: CpuAccess) {
        self.resolve_page_fault(p, t, addr, access);
        self.trace_drain(p, Some(t));
    }

    /// [`page_fault`](Self::page_fault) without the trace.
    fn resolve_page_fault(
        &mut self,
        p: &mut Process,
        t: &mut Thread,
        addr: u64,
        access: CpuAccess,
    ) {
        let resolved =
            p.mm.get_mut()
                .handle_fault(&mut self.pm, addr, fault_access(access));
        match resolved {
            Ok(_) => {}
            Err(FaultError::OutOfMemory) => {
                const RECLAIM_BATCH: u64 = 32;
                // Linux's MAX_RECLAIM_RETRIES: reclaim that frees frames
                // without letting the faulting instruction finish is no progress.
                const MAX_STALLS: u32 = 16;
                let stalls = match self.oom_stall {
                    Some((tid, at, n)) if tid == t.tid && at == t.cpu.instret => n + 1,
                    _ => 1,
                };
                self.oom_stall = Some((t.tid, t.cpu.instret, stalls));
                if stalls > MAX_STALLS || self.reclaim_all(p, RECLAIM_BATCH, false) == 0 {
                    self.oom_stall = None;
                    self.out_of_memory(p);
                }
            }
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
                let pc = t.cpu.pc;
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
                    deliver::force_fault(p, t, SigInfo::fault(signal, si_code, addr), &what);
                }
            }
        }
    }
}

/// A vfork child execs or ends (complete_vfork_done): the thread
/// `(pid, tid)` waiting in vfork runs again, if it is still there.
pub(crate) fn vfork_done(procs: &mut BTreeMap<i32, Process>, (pid, tid): (i32, i32)) {
    if let Some(t) = procs.get_mut(&pid).and_then(|q| q.threads.get_mut(&tid)) {
        t.vfork_child = None;
    }
}

/// Whether process group `pgid` is orphaned (kernel/exit.c:
/// will_become_orphaned_pgrp; see [`Kernel::orphaned_pgrp`]): `procs` the
/// live processes, `running` one taken out of them, `init` the first.
pub(crate) fn orphaned_pgrp(
    procs: &BTreeMap<i32, Process>,
    init: i32,
    pgid: i32,
    running: Option<&Process>,
) -> bool {
    let find = |pid: i32| running.filter(|r| r.pid == pid).or_else(|| procs.get(&pid));
    let members = procs
        .values()
        .chain(running)
        .filter(|q| q.pgid == pgid && q.exit.is_none());
    for q in members {
        if q.job.reparented {
            continue;
        }
        match find(q.ppid) {
            Some(par) if par.pgid != pgid && par.sid == q.sid => return false,
            Some(_) => {}
            None if q.pid == init => return false,
            None => {}
        }
    }
    true
}

/// One `--strace` line: as strace -f, every process but the first is marked.
fn trace_line(init: i32, tid: i32, line: &str) {
    if tid == init {
        eprintln!("{line}");
    } else {
        eprintln!("[pid {tid:>5}] {line}");
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
