//! The console: cowix's one terminal and the controlling terminal of the
//! first process's session (drivers/tty/tty_jobctrl.c, tty_io.c).
//!
//! What it is. The guest's standard streams (fds 0, 1 and 2 at start,
//! `/dev/stdin`, `/dev/stdout`, `/dev/stderr`) and `/dev/tty` all refer to
//! one terminal, the *console*, whose input is cowix's stdin and whose
//! output is cowix's stdout. The session of the first process has it as
//! its controlling terminal, with that process's group in the foreground,
//! whether or not cowix's own stdin or stdout is a host terminal: job
//! control then behaves the same in a terminal, under a pipe and in the
//! tests. Only `isatty` (TCGETS) on the standard streams tells the truth
//! about the host (a pipe is not a terminal, so stdio buffering and a
//! shell's interactivity follow the host); `/dev/tty` is always a
//! terminal.
//!
//! What it keeps, as Linux's tty_struct: the session it controls
//! (`tty->session`), the foreground process group (`tty->pgrp`) and the
//! termios last set (TCSETS), whose TOSTOP flag makes background writes
//! stop. A process knows whether it has it as controlling terminal
//! (`Process::ctty`, Linux's `signal->tty`): inherited at fork, dropped by
//! setsid, TIOCNOTTY and the hangup of its session, taken by TIOCSCTTY or
//! by a session leader opening the console while no session has it.
//!
//! Job control (tty_jobctrl.c: __tty_check_change): a process of a
//! background group of the console's session that reads it gets SIGTTIN,
//! or EIO if it blocks or ignores SIGTTIN or its group is orphaned; one
//! that writes with TOSTOP set, or changes the terminal (TIOCSPGRP, TCSETS),
//! gets SIGTTOU unless it blocks or ignores it (then it proceeds), or EIO
//! if its group is orphaned. The signal goes to the caller's whole group
//! and the call is restarted afterwards (-ERESTARTSYS), so a stopped job
//! tries again when continued.

use crate::deliver;
use crate::errno::Errno;
use crate::fd::Object;
use crate::process::Process;
use crate::signal::{code, sig, SigInfo, SIG_IGN};
use crate::syscall::Sys;

/// `st_rdev` of the console as /proc/PID/stat's tty_nr shows it: the
/// first pseudo-terminal, /dev/pts/0 (major 136, minor 0; new_encode_dev).
pub const TTY_NR: u64 = 136 << 8;

/// c_lflag's TOSTOP (include/uapi/asm-generic/termbits.h).
const TOSTOP: u32 = 0o400;

/// The console's state (Linux's tty_struct, the parts job control uses).
#[derive(Debug, Clone)]
pub struct Console {
    /// The session it is the controlling terminal of (`tty->session`).
    pub session: Option<i32>,
    /// The foreground process group (`tty->pgrp`); 0: none.
    pub pgrp: i32,
    /// struct termios (asm-generic/termbits.h: iflag, oflag, cflag, lflag,
    /// line, cc[19]) as TCSETS last set it.
    pub termios: [u8; 36],
}

impl Default for Console {
    /// A terminal in cooked mode, controlling nothing yet: ICRNL IXON;
    /// OPOST ONLCR; B38400 CS8 CREAD; ISIG ICANON ECHO ECHOE ECHOK ECHOCTL
    /// ECHOKE IEXTEN; the usual control characters (^C ^\ DEL ^U ^D ...).
    fn default() -> Self {
        let mut t = [0u8; 36];
        t[0..4].copy_from_slice(&0o2400u32.to_le_bytes());
        t[4..8].copy_from_slice(&0o5u32.to_le_bytes());
        t[8..12].copy_from_slice(&0o277u32.to_le_bytes());
        t[12..16].copy_from_slice(&0o105073u32.to_le_bytes());
        let cc: [u8; 19] = [
            3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0,
        ];
        t[17..36].copy_from_slice(&cc);
        Console {
            session: None,
            pgrp: 0,
            termios: t,
        }
    }
}

impl Console {
    /// c_lflag of the current termios.
    fn lflag(&self) -> u32 {
        u32::from_le_bytes(self.termios[12..16].try_into().unwrap())
    }

    /// proc_set_tty: `p`, a session leader, takes the console as its
    /// session's controlling terminal, its group in the foreground.
    pub fn attach(&mut self, p: &mut Process) {
        self.session = Some(p.sid);
        self.pgrp = p.pgid;
        p.ctty = true;
    }

    /// What /proc/PID/stat shows of `p`'s controlling terminal: tty_nr and
    /// tpgid (0 and -1 without one; do_task_stat()).
    pub fn stat_fields(&self, p: &Process) -> (u64, i32) {
        if p.ctty {
            (TTY_NR, self.pgrp)
        } else {
            (0, -1)
        }
    }
}

/// Whether `object` is the console (the standard streams and /dev/tty).
pub fn is_console(object: &Object) -> bool {
    matches!(
        object,
        Object::Stdin | Object::Stdout | Object::Stderr | Object::Tty
    )
}

/// Whether TCGETS and TCSETS treat `object` as a terminal: /dev/tty
/// always, a standard stream when the host's is one.
pub fn answers_termios(object: &Object) -> bool {
    use std::io::IsTerminal;
    match object {
        Object::Tty => true,
        Object::Stdin => std::io::stdin().is_terminal(),
        Object::Stdout => std::io::stdout().is_terminal(),
        Object::Stderr => std::io::stderr().is_terminal(),
        _ => false,
    }
}

/// Signal `n` from the kernel to every process of group `pgid`
/// (kill_pgrp with priv = 1), the caller's own group included.
pub(crate) fn kill_pgrp(sys: &mut Sys<'_>, pgid: i32, n: u8) {
    let info = SigInfo::user(n, code::SI_KERNEL, 0, 0);
    for q in sys.procs.values_mut().filter(|q| q.pgid == pgid) {
        let _ = deliver::send(q, None, info);
    }
    if sys.p.pgid == pgid {
        let _ = deliver::send(sys.p, Some(sys.t), info);
    }
}

/// __tty_check_change(tty, n) for the calling thread and the console:
/// `Ok(true)` to go on; `Ok(false)` when the caller's group was sent `n`
/// and the call must wait and be restarted (the handler has set
/// `sys.block`, as for -ERESTARTSYS); EIO when it cannot be stopped (an
/// orphaned group; for SIGTTIN also a blocked or ignored one).
pub(crate) fn check_change(sys: &mut Sys<'_>, n: u8) -> Result<bool, Errno> {
    let console = &*sys.console;
    if !sys.p.ctty || console.pgrp == 0 || sys.p.pgid == console.pgrp {
        return Ok(true);
    }
    let ignored = sys.t.signals.blocked & (1u64 << (n - 1)) != 0
        || sys.p.signals.action(n).handler == SIG_IGN;
    if ignored {
        return if n == sig::SIGTTIN {
            Err(Errno::EIO)
        } else {
            Ok(true)
        };
    }
    if crate::orphaned_pgrp(sys.procs, sys.init, sys.p.pgid, Some(sys.p)) {
        return Err(Errno::EIO);
    }
    let pgid = sys.p.pgid;
    kill_pgrp(sys, pgid, n);
    sys.block = true;
    Ok(false)
}

/// A read of the console (n_tty_read's job_control): `Ok(false)` if the
/// caller was sent SIGTTIN and must wait.
pub(crate) fn check_read(sys: &mut Sys<'_>) -> Result<bool, Errno> {
    check_change(sys, sig::SIGTTIN)
}

/// A write to the console (n_tty_write): with TOSTOP set, a background
/// writer is sent SIGTTOU (`Ok(false)`: it must wait).
pub(crate) fn check_write(sys: &mut Sys<'_>) -> Result<bool, Errno> {
    if sys.console.lflag() & TOSTOP == 0 {
        return Ok(true);
    }
    check_change(sys, sig::SIGTTOU)
}

/// The console is opened (tty_open_proc_set_tty): a session leader
/// without a controlling terminal takes it, unless `noctty` (O_NOCTTY) or
/// it controls a session already.
pub(crate) fn open_console(sys: &mut Sys<'_>, noctty: bool) {
    let leader = sys.p.sid == sys.p.pid;
    if !noctty && leader && !sys.p.ctty && sys.console.session.is_none() {
        sys.console.attach(sys.p);
    }
}

/// Clears the controlling terminal of every process of session `sid`
/// (session_clear_tty) and detaches the console from it.
pub(crate) fn clear_session(sys: &mut Sys<'_>, sid: i32) {
    for q in sys.procs.values_mut().filter(|q| q.sid == sid) {
        q.ctty = false;
    }
    if sys.p.sid == sid {
        sys.p.ctty = false;
    }
    if sys.console.session == Some(sid) {
        sys.console.session = None;
        sys.console.pgrp = 0;
    }
}

/// The job-control and termios ioctls of the console, on an fd known to
/// refer to it; `termios`: it answers TCGETS/TCSETS ([`answers_termios`]);
/// `readable`: it was opened for reading. `None` for a request it does not
/// know (ENOTTY follows).
pub(crate) fn ioctl(
    sys: &mut Sys<'_>,
    termios: bool,
    readable: bool,
    req: u32,
    arg: u64,
) -> Option<Result<u64, Errno>> {
    const TCGETS: u32 = 0x5401;
    const TCSETS: u32 = 0x5402;
    const TCSETSW: u32 = 0x5403;
    const TCSETSF: u32 = 0x5404;
    const TIOCSCTTY: u32 = 0x540e;
    const TIOCGPGRP: u32 = 0x540f;
    const TIOCSPGRP: u32 = 0x5410;
    const TIOCNOTTY: u32 = 0x5422;
    const TIOCGSID: u32 = 0x5429;
    Some(match req {
        TCGETS if termios => {
            let t = sys.console.termios;
            sys.mem().copy_out(arg, &t).map(|_| 0)
        }
        TCSETS | TCSETSW | TCSETSF if termios => set_termios(sys, arg),
        TIOCGPGRP => get_pgrp(sys, arg),
        TIOCSPGRP => set_pgrp(sys, arg),
        TIOCGSID => get_sid(sys, arg),
        TIOCSCTTY => set_ctty(sys, readable, arg),
        TIOCNOTTY => no_tty(sys),
        _ => return None,
    })
}

/// TCSETS* (tty_mode_ioctl → set_termios): a background group gets
/// SIGTTOU first (tty_check_change).
fn set_termios(sys: &mut Sys<'_>, arg: u64) -> Result<u64, Errno> {
    if !check_change(sys, sig::SIGTTOU)? {
        return Ok(0);
    }
    let mut t = [0u8; 36];
    sys.mem().copy_in(arg, &mut t)?;
    sys.console.termios = t;
    Ok(0)
}

/// TIOCGPGRP (tiocgpgrp): the foreground group of the caller's
/// controlling terminal; ENOTTY if the console is not that.
fn get_pgrp(sys: &mut Sys<'_>, arg: u64) -> Result<u64, Errno> {
    if !sys.p.ctty {
        return Err(Errno::ENOTTY);
    }
    let pgrp = sys.console.pgrp;
    sys.mem().write_u32(arg, pgrp as u32)?;
    Ok(0)
}

/// TIOCSPGRP (tiocspgrp): a background caller gets SIGTTOU first (EIO
/// from the check becomes ENOTTY); the console must be the controlling
/// terminal of the caller's session (ENOTTY); the group must be >= 0
/// (EINVAL), exist (ESRCH) and be in the caller's session (EPERM).
fn set_pgrp(sys: &mut Sys<'_>, arg: u64) -> Result<u64, Errno> {
    match check_change(sys, sig::SIGTTOU) {
        Ok(true) => {}
        Ok(false) => return Ok(0),
        Err(Errno::EIO) => return Err(Errno::ENOTTY),
        Err(e) => return Err(e),
    }
    if !sys.p.ctty || sys.console.session != Some(sys.p.sid) {
        return Err(Errno::ENOTTY);
    }
    let mut b = [0u8; 4];
    sys.mem().copy_in(arg, &mut b)?;
    let pgrp = i32::from_le_bytes(b);
    if pgrp < 0 {
        return Err(Errno::EINVAL);
    }
    let member = std::iter::once(&*sys.p)
        .chain(sys.procs.values())
        .find(|q| q.pgid == pgrp && q.exit.is_none())
        .ok_or(Errno::ESRCH)?;
    if member.sid != sys.p.sid {
        return Err(Errno::EPERM);
    }
    sys.console.pgrp = pgrp;
    Ok(0)
}

/// TIOCGSID (tiocgsid): the session the caller's controlling terminal
/// belongs to.
fn get_sid(sys: &mut Sys<'_>, arg: u64) -> Result<u64, Errno> {
    let sid = match sys.console.session {
        Some(sid) if sys.p.ctty => sid,
        _ => return Err(Errno::ENOTTY),
    };
    sys.mem().write_u32(arg, sid as u32)?;
    Ok(0)
}

/// TIOCSCTTY (tiocsctty): a session leader without a controlling
/// terminal takes the console, unless it controls another session (EPERM;
/// with arg 1, root steals it); nothing to do if it is already its own.
/// The fd must be open for reading unless the caller is root.
fn set_ctty(sys: &mut Sys<'_>, readable: bool, arg: u64) -> Result<u64, Errno> {
    let leader = sys.p.sid == sys.p.pid;
    if leader && sys.console.session == Some(sys.p.sid) {
        return Ok(0);
    }
    if !leader || sys.p.ctty {
        return Err(Errno::EPERM);
    }
    let root = sys.p.creds.euid == 0;
    if let Some(other) = sys.console.session {
        if arg == 1 && root {
            clear_session(sys, other);
        } else {
            return Err(Errno::EPERM);
        }
    }
    if !readable && !root {
        return Err(Errno::EPERM);
    }
    sys.console.attach(sys.p);
    Ok(0)
}

/// TIOCNOTTY (no_tty, tty_ioctl(2)): the caller gives up its controlling
/// terminal; a session leader hangs it up for the whole session: the
/// foreground group gets SIGHUP then SIGCONT and every process of the
/// session loses it (disassociate_ctty(0)).
fn no_tty(sys: &mut Sys<'_>) -> Result<u64, Errno> {
    if !sys.p.ctty {
        return Err(Errno::ENOTTY);
    }
    if sys.p.sid == sys.p.pid {
        let fg = sys.console.pgrp;
        if fg > 0 {
            kill_pgrp(sys, fg, sig::SIGHUP);
            kill_pgrp(sys, fg, sig::SIGCONT);
        }
        let sid = sys.p.sid;
        clear_session(sys, sid);
    }
    sys.p.ctty = false;
    Ok(0)
}
