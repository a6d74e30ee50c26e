//! File syscalls: open, read, write, stat and friends, over the VFS and the
//! fd table.

use std::fs::OpenOptions;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::rc::Rc;

use rustix::fs::Stat;

use super::Sys;
use crate::errno::{Errno, SysResult};
use crate::fd::{oflag, FdEntry, FileRef, HostFile, Object, OpenFile};
use crate::process::rlimit;
use crate::procfs;
use crate::tty;
use crate::vfs::{Follow, ProcNode, Resolved, PATH_MAX};

pub const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_REMOVEDIR: u32 = 0x200;
const AT_EACCESS: u32 = 0x200;
const AT_EMPTY_PATH: u32 = 0x1000;
/// At most this many bytes move per read/write call (Linux's MAX_RW_COUNT).
const MAX_RW: u64 = 0x7fff_f000;
/// Linux's UIO_MAXIOV.
const IOV_MAX: u64 = 1024;

fn nofile(sys: &Sys<'_>) -> u64 {
    sys.p.rlimits[rlimit::NOFILE].cur
}

/// Reads the path argument at `addr` (ENAMETOOLONG past PATH_MAX).
pub(crate) fn path_arg(sys: &mut Sys<'_>, addr: u64) -> Result<Vec<u8>, Errno> {
    sys.mem().read_cstr(addr, PATH_MAX).map_err(|e| {
        if e == Errno::ERANGE {
            Errno::ENAMETOOLONG
        } else {
            e
        }
    })
}

/// The directory a relative path is resolved from: the cwd for AT_FDCWD,
/// else the directory open as `dirfd`.
fn base_dir(sys: &Sys<'_>, dirfd: i32, path: &[u8]) -> Result<String, Errno> {
    if path.first() == Some(&b'/') || dirfd == AT_FDCWD {
        return Ok(sys.p.fs.cwd());
    }
    let f = sys.p.fds.file(dirfd)?;
    let f = f.borrow();
    match &f.object {
        Object::Host(h) if h.file.metadata()?.is_dir() => Ok(f.path.clone()),
        Object::Proc(p) if p.dir.is_some() => Ok(f.path.clone()),
        _ => Err(Errno::ENOTDIR),
    }
}

pub(super) fn resolve_at(
    sys: &mut Sys<'_>,
    dirfd: i32,
    addr: u64,
    follow: Follow,
) -> Result<(Vec<u8>, Resolved), Errno> {
    let path = path_arg(sys, addr)?;
    let base = base_dir(sys, dirfd, &path)?;
    let r = resolve(sys, &base, &path, follow)?;
    Ok((path, r))
}

/// Resolves `path` from the guest directory `base`, with procfs at /proc.
pub(crate) fn resolve(
    sys: &Sys<'_>,
    base: &str,
    path: &[u8],
    follow: Follow,
) -> Result<Resolved, Errno> {
    sys.vfs
        .resolve_with(base, path, follow, &procfs::Tree::new(sys))
}

/// Calls that create, remove or change names fail inside procfs.
pub(super) fn not_proc(r: &Resolved) -> Result<(), Errno> {
    if r.proc {
        Err(Errno::EACCES)
    } else {
        Ok(())
    }
}

/// The character devices cowix provides itself, whatever the root holds.
fn device(guest: &str) -> Option<Object> {
    match guest {
        "/dev/null" => Some(Object::Null),
        "/dev/zero" => Some(Object::Zero),
        "/dev/urandom" | "/dev/random" => Some(Object::Random),
        "/dev/stdin" => Some(Object::Stdin),
        "/dev/stdout" => Some(Object::Stdout),
        "/dev/stderr" => Some(Object::Stderr),
        "/dev/tty" => Some(Object::Tty),
        _ => None,
    }
}

pub fn openat(sys: &mut Sys<'_>, dirfd: i32, addr: u64, flags: u32, mode: u32) -> SysResult {
    let follow = if flags & oflag::O_NOFOLLOW != 0 {
        Follow::No
    } else {
        Follow::Yes
    };
    let cloexec = flags & oflag::O_CLOEXEC != 0;
    let kept = flags
        & !(oflag::O_CLOEXEC | oflag::O_CREAT | oflag::O_EXCL | oflag::O_TRUNC | oflag::O_NOCTTY);
    // cowix's own devices exist even when the root has no /dev.
    let path = path_arg(sys, addr)?;
    if let Some(object) = std::str::from_utf8(&path).ok().and_then(device) {
        let object = may_open_device(sys, object, flags)?;
        let file = OpenFile::new(object, kept, String::from_utf8_lossy(&path).into_owned());
        let limit = nofile(sys);
        return Ok(sys.p.fds.install(FdEntry { file, cloexec }, 0, limit)? as u64);
    }
    let (_, r) = resolve_at(sys, dirfd, addr, follow)?;
    if r.proc {
        let file = open_proc(sys, &r, flags, mode, follow)?;
        let limit = nofile(sys);
        return Ok(sys.p.fds.install(FdEntry { file, cloexec }, 0, limit)? as u64);
    }
    let object = match device(&r.guest) {
        Some(o) => may_open_device(sys, o, flags)?,
        None => Object::Host(Rc::new(open_host(sys, &r, flags, mode)?)),
    };
    let file = OpenFile::new(object, kept, r.guest);
    let limit = nofile(sys);
    Ok(sys.p.fds.install(FdEntry { file, cloexec }, 0, limit)? as u64)
}

/// Opening one of cowix's devices: `/dev/tty` is the caller's controlling
/// terminal, ENXIO without one (tty_open_current_tty); opening the
/// console otherwise may make it the caller's (`tty::open_console`).
fn may_open_device(sys: &mut Sys<'_>, object: Object, flags: u32) -> Result<Object, Errno> {
    if matches!(object, Object::Tty) && !sys.p.ctty {
        return Err(Errno::ENXIO);
    }
    if tty::is_console(&object) {
        tty::open_console(sys, flags & oflag::O_NOCTTY != 0);
    }
    Ok(object)
}

/// open of a procfs path. `PID/fd/N` (followed) opens what that descriptor
/// refers to, as Linux's proc_fd_link does: a new open file description of
/// the same host file, pipe or device.
fn open_proc(
    sys: &mut Sys<'_>,
    r: &Resolved,
    flags: u32,
    mode: u32,
    follow: Follow,
) -> Result<FileRef, Errno> {
    let kept = flags
        & !(oflag::O_CLOEXEC | oflag::O_CREAT | oflag::O_EXCL | oflag::O_TRUNC | oflag::O_NOCTTY);
    let acc = flags & oflag::O_ACCMODE;
    let want_write = matches!(acc, oflag::O_WRONLY | oflag::O_RDWR);
    if let (Some((pid, fd)), Follow::Yes) = (procfs::fd_link(&r.guest), follow) {
        let target = if pid == sys.p.pid {
            sys.p.fds.file(fd)
        } else {
            sys.procs
                .get(&pid)
                .ok_or(Errno::ENOENT)
                .and_then(|p| p.fds.file(fd))
        }
        .map_err(|_| Errno::ENOENT)?;
        let t = target.borrow();
        let object = match &t.object {
            Object::Host(h) => {
                // The same host file; writing needs a description that was
                // opened for writing, else the name is opened again.
                let writable =
                    matches!(t.flags & oflag::O_ACCMODE, oflag::O_WRONLY | oflag::O_RDWR);
                if want_write && !writable {
                    let again = sys
                        .vfs
                        .resolve(&sys.p.fs.cwd(), t.path.as_bytes(), Follow::Yes)?;
                    Object::Host(Rc::new(open_host(sys, &again, flags, mode)?))
                } else {
                    if flags & oflag::O_TRUNC != 0 && want_write {
                        h.file.set_len(0)?;
                    }
                    Object::Host(h.clone())
                }
            }
            Object::PipeRead(end) | Object::PipeWrite(end) => {
                if acc == oflag::O_RDWR {
                    return Err(Errno::EINVAL);
                }
                if want_write {
                    Object::PipeWrite(end.reopen(true))
                } else {
                    Object::PipeRead(end.reopen(false))
                }
            }
            Object::Stdin => Object::Stdin,
            Object::Tty => Object::Tty,
            Object::Stdout => Object::Stdout,
            Object::Stderr => Object::Stderr,
            Object::Null => Object::Null,
            Object::Zero => Object::Zero,
            Object::Random => Object::Random,
            Object::Proc(p) => {
                if want_write {
                    return Err(Errno::EACCES);
                }
                Object::Proc(procfs::generate(sys, &p.path)?)
            }
            // Anonymous inodes cannot be opened by name (anon_inode_fops
            // has no open).
            Object::EventFd(_) | Object::TimerFd(_) | Object::SignalFd(_) | Object::Epoll(_) => {
                return Err(Errno::ENXIO)
            }
        };
        let path = t.path.clone();
        drop(t);
        return Ok(OpenFile::new(object, kept, path));
    }
    if flags & oflag::O_CREAT != 0 && flags & oflag::O_EXCL != 0 {
        return Err(Errno::EEXIST);
    }
    // comm is the one writable procfs file (fs/proc/base.c: 0644).
    if (want_write || flags & oflag::O_TRUNC != 0) && procfs::comm_file(&r.guest).is_none() {
        return Err(Errno::EACCES);
    }
    let pf = procfs::generate(sys, &r.guest)?;
    if flags & oflag::O_DIRECTORY != 0 && pf.dir.is_none() {
        return Err(Errno::ENOTDIR);
    }
    Ok(OpenFile::new(Object::Proc(pf), kept, r.guest.clone()))
}

/// Before a read of a procfs file at `offset`: a read from the start
/// makes the contents anew (seq_file's behaviour), except the first one
/// after open, which reads what open made.
fn refresh_proc(sys: &mut Sys<'_>, file: &FileRef, offset: u64) -> Result<(), Errno> {
    let path = {
        let mut f = file.borrow_mut();
        let Object::Proc(p) = &mut f.object else {
            return Ok(());
        };
        if offset != 0 || p.dir.is_some() {
            return Ok(());
        }
        if std::mem::take(&mut p.fresh) {
            return Ok(());
        }
        p.path.clone()
    };
    // A process that has ended since leaves an empty file, as in Linux.
    let mut new = procfs::generate(sys, &path).unwrap_or_else(|_| procfs::ProcFile::empty(&path));
    new.fresh = false;
    file.borrow_mut().object = Object::Proc(new);
    Ok(())
}

fn open_host(sys: &Sys<'_>, r: &Resolved, flags: u32, mode: u32) -> Result<HostFile, Errno> {
    let acc = flags & oflag::O_ACCMODE;
    if acc == 3 {
        return Err(Errno::EINVAL);
    }
    let mut o = OpenOptions::new();
    let path_only = flags & oflag::O_PATH != 0;
    o.read(acc != oflag::O_WRONLY || path_only);
    o.write(!path_only && matches!(acc, oflag::O_WRONLY | oflag::O_RDWR));
    // Creation, truncation and the rest pass through as the host's flags.
    let passed = oflag::O_CREAT
        | oflag::O_EXCL
        | oflag::O_TRUNC
        | oflag::O_APPEND
        | oflag::O_NONBLOCK
        | oflag::O_DIRECTORY
        | oflag::O_NOFOLLOW;
    o.custom_flags((flags & passed & !oflag::O_CREAT) as i32);
    if flags & oflag::O_CREAT != 0 {
        if flags & oflag::O_EXCL != 0 {
            o.create_new(true);
        } else {
            o.create(true);
        }
        o.mode(mode & 0o7777 & !sys.p.fs.umask());
    }
    if flags & oflag::O_TRUNC != 0 && acc != oflag::O_RDONLY {
        o.truncate(true);
    }
    let file = o.open(&r.host)?;
    Ok(HostFile::new(file)?)
}

pub fn close(sys: &mut Sys<'_>, fd: i32) -> SysResult {
    release_locks(sys, fd);
    sys.p.fds.close(fd)?;
    Ok(0)
}

/// Closing descriptor `fd` (close, or dup2 over it) releases the process's
/// POSIX locks on its file (locks_remove_posix()).
fn release_locks(sys: &mut Sys<'_>, fd: i32) {
    if let Ok(f) = sys.p.fds.file(fd) {
        if let Object::Host(h) = &f.borrow().object {
            sys.locks.release_posix(h.id, sys.p.pid);
        }
    }
}

pub fn dup(sys: &mut Sys<'_>, fd: i32) -> SysResult {
    let e = FdEntry {
        file: sys.p.fds.file(fd)?,
        cloexec: false,
    };
    let limit = nofile(sys);
    Ok(sys.p.fds.install(e, 0, limit)? as u64)
}

pub fn dup3(sys: &mut Sys<'_>, old: i32, new: i32, flags: u32) -> SysResult {
    if old == new || flags & !oflag::O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let e = FdEntry {
        file: sys.p.fds.file(old)?,
        cloexec: flags & oflag::O_CLOEXEC != 0,
    };
    let limit = nofile(sys);
    if (new as u64) < limit {
        release_locks(sys, new);
    }
    sys.p.fds.install_at(new, e, limit)?;
    Ok(new as u64)
}

pub fn fcntl(sys: &mut Sys<'_>, fd: i32, cmd: u32, arg: u64) -> SysResult {
    const F_DUPFD: u32 = 0;
    const F_GETFD: u32 = 1;
    const F_SETFD: u32 = 2;
    const F_GETFL: u32 = 3;
    const F_SETFL: u32 = 4;
    const F_DUPFD_CLOEXEC: u32 = 1030;
    const F_GETLK: u32 = 5;
    const F_SETLK: u32 = 6;
    const F_SETLKW: u32 = 7;
    const F_OFD_GETLK: u32 = 36;
    const F_OFD_SETLK: u32 = 37;
    const F_OFD_SETLKW: u32 = 38;
    const FD_CLOEXEC: u64 = 1;
    let entry = sys.p.fds.get(fd)?.clone();
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let limit = nofile(sys);
            if arg >= limit {
                return Err(Errno::EINVAL);
            }
            let e = FdEntry {
                file: entry.file,
                cloexec: cmd == F_DUPFD_CLOEXEC,
            };
            Ok(sys.p.fds.install(e, arg as usize, limit)? as u64)
        }
        F_GETFD => Ok(if entry.cloexec { FD_CLOEXEC } else { 0 }),
        F_SETFD => {
            sys.p.fds.set_cloexec(fd, arg & FD_CLOEXEC != 0)?;
            Ok(0)
        }
        F_GETFL => Ok(entry.file.borrow().flags as u64),
        F_GETLK | F_SETLK | F_SETLKW | F_OFD_GETLK | F_OFD_SETLK | F_OFD_SETLKW => {
            record_lock(sys, &entry.file, cmd, arg)
        }
        F_SETFL => {
            // Only O_APPEND and O_NONBLOCK (and O_ASYNC, O_DIRECT, O_NOATIME) may change.
            let changeable = oflag::O_APPEND | oflag::O_NONBLOCK;
            let mut f = entry.file.borrow_mut();
            f.flags = (f.flags & !changeable) | (arg as u32 & changeable);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// fcntl's lock commands on `file` (fs/locks.c: fcntl_getlk(),
/// fcntl_setlk()), with `struct flock` at `arg` (riscv64: l_type and
/// l_whence as shorts, l_start, l_len, l_pid; 32 bytes).
fn record_lock(sys: &mut Sys<'_>, file: &FileRef, cmd: u32, arg: u64) -> SysResult {
    use crate::locks::{Kind, Owner};
    const F_RDLCK: i16 = 0;
    const F_WRLCK: i16 = 1;
    const F_UNLCK: i16 = 2;
    let ofd = cmd >= 36;
    let get = cmd == 5 || cmd == 36;
    let wait = cmd == 7 || cmd == 38;
    let mut raw = [0u8; 32];
    sys.mem().copy_in(arg, &mut raw)?;
    let l_type = i16::from_le_bytes([raw[0], raw[1]]);
    let whence = i16::from_le_bytes([raw[2], raw[3]]);
    let l_start = i64::from_le_bytes(raw[8..16].try_into().unwrap());
    let l_len = i64::from_le_bytes(raw[16..24].try_into().unwrap());
    let l_pid = i32::from_le_bytes(raw[24..28].try_into().unwrap());
    let kind = match l_type {
        F_RDLCK => Some(Kind::Read),
        F_WRLCK => Some(Kind::Write),
        F_UNLCK if !get => None,
        _ => return Err(Errno::EINVAL),
    };
    if ofd && l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    let (id, readable, writable, offset) = {
        let f = file.borrow();
        let Object::Host(h) = &f.object else {
            return Err(Errno::EINVAL);
        };
        let acc = f.flags & oflag::O_ACCMODE;
        let base = match whence {
            0 => 0,
            1 => f.offset as i64,
            2 => h.file.metadata()?.len() as i64,
            _ => return Err(Errno::EINVAL),
        };
        (h.id, acc != oflag::O_WRONLY, acc != oflag::O_RDONLY, base)
    };
    // flock_to_posix_lock(): the range, inclusive, from start and length.
    let start = offset.checked_add(l_start).ok_or(Errno::EOVERFLOW)?;
    let (start, end) = match l_len {
        0 => (start, u64::MAX as i64),
        n if n > 0 => (start, start.checked_add(n - 1).ok_or(Errno::EOVERFLOW)?),
        n => (start.checked_add(n).ok_or(Errno::EINVAL)?, start - 1),
    };
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let (start, end) = (
        start as u64,
        if end == i64::MAX {
            u64::MAX
        } else {
            end as u64
        },
    );
    let owner = if ofd {
        crate::locks::ofd_owner(file)
    } else {
        Owner::Posix(sys.p.pid)
    };
    let (me, procs) = (sys.p.pid, &*sys.procs);
    sys.locks
        .purge(&|pid| pid == me || procs.contains_key(&pid));
    if get {
        let kind = kind.expect("F_GETLK takes no F_UNLCK");
        let c = sys.locks.conflict(id, &owner, kind, start, end);
        let mut out = raw;
        match c {
            None => out[0..2].copy_from_slice(&F_UNLCK.to_le_bytes()),
            Some(c) => {
                let t = if c.kind == Kind::Read {
                    F_RDLCK
                } else {
                    F_WRLCK
                };
                let len = if c.end == u64::MAX {
                    0
                } else {
                    c.end - c.start + 1
                };
                out[0..2].copy_from_slice(&t.to_le_bytes());
                out[2..4].copy_from_slice(&0i16.to_le_bytes());
                out[8..16].copy_from_slice(&c.start.to_le_bytes());
                out[16..24].copy_from_slice(&len.to_le_bytes());
                out[24..28].copy_from_slice(&c.pid.to_le_bytes());
            }
        }
        sys.mem().copy_out(arg, &out)?;
        return Ok(0);
    }
    match kind {
        Some(Kind::Read) if !readable => return Err(Errno::EBADF),
        Some(Kind::Write) if !writable => return Err(Errno::EBADF),
        _ => {}
    }
    if let Some(k) = kind {
        if sys.locks.conflict(id, &owner, k, start, end).is_some() {
            if wait {
                sys.block = true;
            }
            return Err(Errno::EAGAIN);
        }
    }
    sys.locks.set(id, owner, kind, start, end);
    Ok(0)
}

/// ioctl(fd, req, arg): the console's terminal and job-control requests
/// (`tty::ioctl`), TIOCGWINSZ, FIONREAD; ENOTTY for anything else.
pub fn ioctl(sys: &mut Sys<'_>, fd: i32, req: u32, arg: u64) -> SysResult {
    const TIOCGWINSZ: u32 = 0x5413;
    const FIONREAD: u32 = 0x541b;
    let file = sys.p.fds.file(fd)?;
    let (console, termios, readable) = {
        let f = file.borrow();
        (
            tty::is_console(&f.object),
            tty::answers_termios(&f.object),
            f.readable(),
        )
    };
    if console {
        if let Some(r) = tty::ioctl(sys, termios, readable, req, arg) {
            return r;
        }
    }
    match req {
        TIOCGWINSZ if termios => {
            // The host terminal's size; /dev/tty over a pipe has none (0 x 0,
            // a fresh pseudo-terminal's).
            let ws = rustix::termios::tcgetwinsize(std::io::stdout()).unwrap_or(
                rustix::termios::Winsize {
                    ws_row: 0,
                    ws_col: 0,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                },
            );
            let mut b = [0u8; 8];
            b[0..2].copy_from_slice(&ws.ws_row.to_le_bytes());
            b[2..4].copy_from_slice(&ws.ws_col.to_le_bytes());
            sys.mem().copy_out(arg, &b)?;
            Ok(0)
        }
        FIONREAD => {
            let f = file.borrow();
            let avail = match &f.object {
                Object::Host(h) => h.file.metadata()?.len().saturating_sub(f.offset),
                Object::PipeRead(end) => end.pipe.borrow().available() as u64,
                _ => 0,
            };
            drop(f);
            sys.mem()
                .write_u32(arg, avail.min(i32::MAX as u64) as u32)?;
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// Checks a user buffer length the way read/write do.
fn rw_len(len: u64) -> usize {
    len.min(MAX_RW) as usize
}

/// The page-cache identity of a host file.
fn host_id(file: &FileRef) -> Option<(u64, u64)> {
    match &file.borrow().object {
        Object::Host(h) => Some(h.id),
        _ => None,
    }
}

/// read(2) and write(2) see the page cache, as in Linux: where it holds a
/// page of the file (mapped by some process, perhaps written through a
/// shared mapping and not yet written back), that page *is* the file's
/// contents. Reads take those bytes from the frame, writes go into it as
/// well as to the host file.
fn read_through_cache(pm: &cowix_mm::PhysMem, id: (u64, u64), start: u64, buf: &mut [u8]) {
    each_cached_page(pm, id, start, buf.len(), |frame, page_off, at, n| {
        buf[at..at + n].copy_from_slice(&pm.bytes(frame)[page_off..page_off + n]);
    });
}

fn write_through_cache(pm: &mut cowix_mm::PhysMem, id: (u64, u64), start: u64, data: &[u8]) {
    let mut hits = Vec::new();
    each_cached_page(pm, id, start, data.len(), |frame, page_off, at, n| {
        hits.push((frame, page_off, at, n));
    });
    for (frame, page_off, at, n) in hits {
        pm.bytes_mut(frame)[page_off..page_off + n].copy_from_slice(&data[at..at + n]);
    }
}

/// Calls `f(frame, offset in page, offset in buffer, length)` for each
/// cached page of file `id` overlapping `[start, start + len)`.
fn each_cached_page(
    pm: &cowix_mm::PhysMem,
    id: (u64, u64),
    start: u64,
    len: usize,
    mut f: impl FnMut(cowix_mm::FrameId, usize, usize, usize),
) {
    const PAGE: u64 = cowix_mm::PAGE_SIZE;
    let cache = pm.page_cache();
    if cache.is_empty() {
        return;
    }
    let end = start + len as u64;
    let mut at = start;
    while at < end {
        let page_off = at % PAGE;
        let n = (PAGE - page_off).min(end - at);
        if let Some(cp) = cache.lookup(id, at / PAGE) {
            f(
                cp.frame,
                page_off as usize,
                (at - start) as usize,
                n as usize,
            );
        }
        at += n;
    }
}

/// Reads from `file` into `data`; an empty pipe with writers left blocks the
/// caller (`sys.block`) unless the description is O_NONBLOCK.
fn read_file(sys: &mut Sys<'_>, file: &FileRef, data: &mut [u8]) -> Result<usize, Errno> {
    let console = {
        let f = file.borrow();
        tty::is_console(&f.object) && f.readable()
    };
    if console && !tty::check_read(sys)? {
        return Ok(0); // SIGTTIN sent: the read waits and is restarted
    }
    let offset = file.borrow().offset;
    refresh_proc(sys, file, offset)?;
    let r = file.borrow_mut().read(data);
    if let (Ok(n), Some(id)) = (r, host_id(file)) {
        read_through_cache(sys.pm, id, offset, &mut data[..n]);
    }
    let f = file.borrow();
    if r == Err(Errno::EAGAIN) && f.may_block() && f.flags & oflag::O_NONBLOCK == 0 {
        sys.block = true;
    }
    r
}

/// Writes `data` to `file`. A blocking pipe write returns only once all is
/// written (pipe(7)): what went in before the caller blocked is kept in
/// `write_done` for the retry. No reader left: SIGPIPE, then EPIPE (or the
/// count written so far).
fn write_file(sys: &mut Sys<'_>, file: &FileRef, data: &[u8]) -> Result<usize, Errno> {
    let (pipe, nonblock) = {
        let f = file.borrow();
        (f.is_pipe(), f.flags & oflag::O_NONBLOCK != 0)
    };
    let comm = match &file.borrow().object {
        Object::Proc(p) if procfs::comm_file(&p.path).is_some() => Some(p.path.clone()),
        _ => None,
    };
    let console = {
        let f = file.borrow();
        tty::is_console(&f.object) && f.writable()
    };
    if console && !tty::check_write(sys)? {
        return Ok(0); // SIGTTOU sent: the write waits and is restarted
    }
    if let Some(path) = comm {
        if !file.borrow().writable() {
            return Err(Errno::EBADF);
        }
        return procfs::write_comm(sys, &path, data);
    }
    if !pipe {
        let r = file.borrow_mut().write(data);
        if r == Err(Errno::EAGAIN) && !nonblock && file.borrow().may_block() {
            // An eventfd write that would overflow waits for a read.
            sys.block = true;
        }
        let n = r?;
        if let Some(id) = host_id(file) {
            // The offset moved past what was written (at the end with O_APPEND).
            let start = file.borrow().offset - n as u64;
            write_through_cache(sys.pm, id, start, &data[..n]);
        }
        return Ok(n);
    }
    let done = sys.t.write_done.min(data.len());
    let r = file.borrow_mut().write(&data[done..]);
    match r {
        Ok(k) if done + k == data.len() || nonblock => {
            sys.t.write_done = 0;
            Ok(done + k)
        }
        Ok(k) => {
            sys.t.write_done = done + k;
            sys.block = true;
            Ok(0)
        }
        Err(Errno::EAGAIN) if !nonblock => {
            sys.t.write_done = done;
            sys.block = true;
            Err(Errno::EAGAIN)
        }
        Err(e) => {
            sys.t.write_done = 0;
            if e == Errno::EPIPE {
                let (me, uid) = (sys.p.pid, sys.p.creds.uid);
                let info = crate::signal::SigInfo::user(crate::signal::sig::SIGPIPE, 0, me, uid);
                let _ = crate::deliver::send_thread(sys.p, sys.t, None, info);
            }
            if done > 0 {
                Ok(done)
            } else {
                Err(e)
            }
        }
    }
}

/// Large reads and writes move through the host in pieces of this size, so
/// a guest asking for gigabytes does not make cowix allocate them.
const RW_CHUNK: usize = 1 << 20;

/// The user range `[buf, buf + len)` must lie in user space (access_ok()).
fn user_range(buf: u64, len: usize) -> Result<(), Errno> {
    match buf.checked_add(len as u64) {
        Some(end) if end <= cowix_mm::USER_TOP => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

pub fn read(sys: &mut Sys<'_>, fd: i32, buf: u64, len: u64) -> SysResult {
    let file = sys.p.fds.file(fd)?;
    if matches!(file.borrow().object, Object::SignalFd(_)) {
        return super::events::signalfd_read(sys, &file, buf, len);
    }
    let len = rw_len(len);
    if file.borrow().is_pipe() || len <= RW_CHUNK {
        let mut data = vec![0u8; len];
        let n = read_file(sys, &file, &mut data)?;
        sys.copy_out_reclaiming(buf, &data[..n])?;
        return Ok(n as u64);
    }
    // A file or device: piece by piece, until a short read.
    user_range(buf, len)?;
    let mut data = vec![0u8; RW_CHUNK];
    let mut done = 0;
    while done < len {
        let want = RW_CHUNK.min(len - done);
        let n = match read_file(sys, &file, &mut data[..want]) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if let Err(e) = sys.copy_out_reclaiming(buf + done as u64, &data[..n]) {
            if done == 0 {
                return Err(e);
            }
            break;
        }
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done as u64)
}

pub fn write(sys: &mut Sys<'_>, fd: i32, buf: u64, len: u64) -> SysResult {
    let file = sys.p.fds.file(fd)?;
    let len = rw_len(len);
    let (pipe, null, writable) = {
        let f = file.borrow();
        let acc = f.flags & oflag::O_ACCMODE;
        (
            f.is_pipe(),
            matches!(f.object, Object::Null),
            acc != oflag::O_RDONLY && f.flags & oflag::O_PATH == 0,
        )
    };
    if null && writable {
        // write_null(): the bytes are never looked at.
        user_range(buf, len)?;
        return Ok(len as u64);
    }
    if pipe || len <= RW_CHUNK {
        let mut data = vec![0u8; len];
        sys.mem().copy_in(buf, &mut data)?;
        let n = write_file(sys, &file, &data)?;
        return Ok(n as u64);
    }
    user_range(buf, len)?;
    let mut data = vec![0u8; RW_CHUNK];
    let mut done = 0;
    while done < len {
        let want = RW_CHUNK.min(len - done);
        if let Err(e) = sys.mem().copy_in(buf + done as u64, &mut data[..want]) {
            if done == 0 {
                return Err(e);
            }
            break;
        }
        let n = match write_file(sys, &file, &data[..want]) {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done as u64)
}

/// pipe2(fds, flags): a new pipe; fds[0] reads, fds[1] writes.
pub fn pipe2(sys: &mut Sys<'_>, fds: u64, flags: u32) -> SysResult {
    const O_DIRECT: u32 = 0o40000;
    if flags & !(oflag::O_CLOEXEC | oflag::O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = crate::pipe::PipeEnd::pair();
    let status = flags & oflag::O_NONBLOCK;
    let cloexec = flags & oflag::O_CLOEXEC != 0;
    let rf = OpenFile::new(Object::PipeRead(r), oflag::O_RDONLY | status, "pipe:");
    let wf = OpenFile::new(Object::PipeWrite(w), oflag::O_WRONLY | status, "pipe:");
    let limit = nofile(sys);
    let a = sys.p.fds.install(FdEntry { file: rf, cloexec }, 0, limit)?;
    let b = match sys.p.fds.install(FdEntry { file: wf, cloexec }, 0, limit) {
        Ok(b) => b,
        Err(e) => {
            sys.p.fds.close(a)?;
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&a.to_le_bytes());
    out[4..].copy_from_slice(&b.to_le_bytes());
    let copied = sys.mem().copy_out(fds, &out);
    if let Err(e) = copied {
        sys.p.fds.close(a)?;
        sys.p.fds.close(b)?;
        return Err(e);
    }
    Ok(0)
}

/// Appends one `struct linux_dirent64` (d_ino, d_off, d_reclen, d_type,
/// d_name NUL-terminated, record padded to 8 bytes) to `out` if it fits in
/// `room` bytes; returns whether it did.
pub fn push_dirent64(
    out: &mut Vec<u8>,
    room: usize,
    ino: u64,
    off: u64,
    dtype: u8,
    name: &[u8],
) -> bool {
    let reclen = (19 + name.len() + 1).div_ceil(8) * 8;
    if out.len() + reclen > room {
        return false;
    }
    out.extend_from_slice(&ino.to_le_bytes());
    out.extend_from_slice(&off.to_le_bytes());
    out.extend_from_slice(&(reclen as u16).to_le_bytes());
    out.push(dtype);
    out.extend_from_slice(name);
    out.resize(out.len() + reclen - 19 - name.len(), 0);
    true
}

/// getdents64(fd, buf, len): directory entries from the file position on
/// (the position counts entries; d_off is the position after each one),
/// in the host's order, with `.` and `..`. EINVAL if not even one fits.
///
/// A procfs directory read from its start lists anew (fs/proc/fd.c:
/// proc_readfd_common() walks the live table on every call), so glibc's
/// closefrom() fallback, which rewinds /proc/self/fd until nothing is left
/// to close, sees the descriptors it closed disappear (and the listing
/// made at open time, before the directory's own descriptor existed, is
/// never what a read shows).
pub fn getdents64(sys: &mut Sys<'_>, fd: i32, buf: u64, len: u64) -> SysResult {
    use rustix::fs::FileType;
    let file = sys.p.fds.file(fd)?;
    let rewound_proc_dir = {
        let mut f = file.borrow_mut();
        let off = f.offset;
        match &mut f.object {
            Object::Proc(p) if p.dir.is_some() && off == 0 => Some(p.path.clone()),
            _ => None,
        }
    };
    if let Some(path) = rewound_proc_dir {
        let mut new =
            procfs::generate(sys, &path).unwrap_or_else(|_| procfs::ProcFile::empty(&path));
        if new.dir.is_none() {
            new.dir = Some(Vec::new());
        }
        new.fresh = false;
        file.borrow_mut().object = Object::Proc(new);
    }
    let mut f = file.borrow_mut();
    if let Object::Proc(p) = &f.object {
        let Some(entries) = &p.dir else {
            return Err(Errno::ENOTDIR);
        };
        let mut all: Vec<(String, u8)> =
            vec![(".".into(), procfs::DT_DIR), ("..".into(), procfs::DT_DIR)];
        all.extend(entries.iter().cloned());
        let room = rw_len(len);
        let mut out = Vec::new();
        let base = p.path.clone();
        let start = f.offset;
        for (i, (name, dtype)) in all.iter().enumerate().skip(start as usize) {
            let ino = procfs::ino_of(&format!("{base}/{name}"));
            if !push_dirent64(&mut out, room, ino, i as u64 + 1, *dtype, name.as_bytes()) {
                if out.is_empty() {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            f.offset = i as u64 + 1;
        }
        drop(f);
        sys.mem().copy_out(buf, &out)?;
        return Ok(out.len() as u64);
    }
    let Object::Host(h) = &f.object else {
        return Err(Errno::ENOTDIR);
    };
    if !h.file.metadata()?.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let mut dir = rustix::fs::Dir::read_from(&h.file)?;
    let room = rw_len(len);
    let mut out = Vec::new();
    let mut pos = 0u64;
    let mut first = true;
    while let Some(e) = dir.read() {
        let e = e?;
        pos += 1;
        if pos <= f.offset {
            continue;
        }
        let dtype = match e.file_type() {
            FileType::Fifo => 1,
            FileType::CharacterDevice => 2,
            FileType::Directory => 4,
            FileType::BlockDevice => 6,
            FileType::RegularFile => 8,
            FileType::Symlink => 10,
            FileType::Socket => 12,
            _ => 0,
        };
        if !push_dirent64(
            &mut out,
            room,
            e.ino(),
            pos,
            dtype,
            e.file_name().to_bytes(),
        ) {
            if first {
                return Err(Errno::EINVAL);
            }
            break;
        }
        first = false;
        f.offset = pos;
    }
    drop(f);
    sys.mem().copy_out(buf, &out)?;
    Ok(out.len() as u64)
}

/// The file for pread64/pwrite64: the offset must be non-negative and the
/// file seekable.
fn positional_file(sys: &Sys<'_>, fd: i32, off: u64) -> Result<FileRef, Errno> {
    if (off as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let file = sys.p.fds.file(fd)?;
    if !file.borrow().seekable() {
        return Err(Errno::ESPIPE);
    }
    Ok(file)
}

pub fn pread64(sys: &mut Sys<'_>, fd: i32, buf: u64, len: u64, off: u64) -> SysResult {
    let file = positional_file(sys, fd, off)?;
    refresh_proc(sys, &file, off)?;
    let mut data = vec![0u8; rw_len(len)];
    let n = file.borrow_mut().pread(&mut data, off)?;
    if let Some(id) = host_id(&file) {
        read_through_cache(sys.pm, id, off, &mut data[..n]);
    }
    sys.copy_out_reclaiming(buf, &data[..n])?;
    Ok(n as u64)
}

pub fn pwrite64(sys: &mut Sys<'_>, fd: i32, buf: u64, len: u64, off: u64) -> SysResult {
    let file = positional_file(sys, fd, off)?;
    let mut data = vec![0u8; rw_len(len)];
    sys.mem().copy_in(buf, &mut data)?;
    let n = file.borrow_mut().pwrite(&data, off)?;
    if let Some(id) = host_id(&file) {
        write_through_cache(sys.pm, id, off, &data[..n]);
    }
    Ok(n as u64)
}

/// Reads an iovec array: (base, len) pairs.
fn iovecs(sys: &mut Sys<'_>, iov: u64, cnt: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if cnt > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; cnt as usize * 16];
    sys.mem().copy_in(iov, &mut raw)?;
    let v: Vec<(u64, u64)> = raw
        .chunks_exact(16)
        .map(|c| {
            (
                u64::from_le_bytes(c[..8].try_into().unwrap()),
                u64::from_le_bytes(c[8..].try_into().unwrap()),
            )
        })
        .collect();
    if v.iter().any(|&(_, l)| (l as i64) < 0) {
        return Err(Errno::EINVAL);
    }
    Ok(v)
}

pub fn readv(sys: &mut Sys<'_>, fd: i32, iov: u64, cnt: u64) -> SysResult {
    let v = iovecs(sys, iov, cnt)?;
    let file = sys.p.fds.file(fd)?;
    let total: u64 = v.iter().map(|&(_, l)| l).sum::<u64>().min(MAX_RW);
    let mut data = vec![0u8; total as usize];
    let n = read_file(sys, &file, &mut data)?;
    let mut done = 0;
    for (base, len) in v {
        if done >= n {
            break;
        }
        let k = (len as usize).min(n - done);
        sys.mem().copy_out(base, &data[done..done + k])?;
        done += k;
    }
    Ok(n as u64)
}

pub fn writev(sys: &mut Sys<'_>, fd: i32, iov: u64, cnt: u64) -> SysResult {
    let v = iovecs(sys, iov, cnt)?;
    let file = sys.p.fds.file(fd)?;
    let mut data = Vec::new();
    for (base, len) in v {
        let k = (len.min(MAX_RW - data.len() as u64)) as usize;
        let start = data.len();
        data.resize(start + k, 0);
        sys.mem().copy_in(base, &mut data[start..])?;
    }
    let n = write_file(sys, &file, &data)?;
    Ok(n as u64)
}

pub fn lseek(sys: &mut Sys<'_>, fd: i32, off: i64, whence: u32) -> SysResult {
    const SEEK_SET: u32 = 0;
    const SEEK_CUR: u32 = 1;
    const SEEK_END: u32 = 2;
    let file = sys.p.fds.file(fd)?;
    let mut f = file.borrow_mut();
    if !f.seekable() {
        return Err(Errno::ESPIPE);
    }
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => f.offset as i64,
        SEEK_END => match &f.object {
            Object::Host(h) => h.file.metadata()?.len() as i64,
            // seq_lseek() knows no end.
            Object::Proc(_) => return Err(Errno::EINVAL),
            _ => 0,
        },
        _ => return Err(Errno::EINVAL),
    };
    let new = base.checked_add(off).ok_or(Errno::EOVERFLOW)?;
    if new < 0 {
        return Err(Errno::EINVAL);
    }
    f.offset = new as u64;
    Ok(new as u64)
}

pub fn getcwd(sys: &mut Sys<'_>, buf: u64, size: u64) -> SysResult {
    let mut cwd = sys.p.fs.cwd().into_bytes();
    cwd.push(0);
    if (size as usize) < cwd.len() {
        return Err(Errno::ERANGE);
    }
    sys.mem().copy_out(buf, &cwd)?;
    Ok(cwd.len() as u64)
}

pub fn chdir(sys: &mut Sys<'_>, addr: u64) -> SysResult {
    let (_, r) = resolve_at(sys, AT_FDCWD, addr, Follow::Yes)?;
    let is_dir = if r.proc {
        procfs::generate(sys, &r.guest)?.dir.is_some()
    } else {
        std::fs::metadata(&r.host)?.is_dir()
    };
    if !is_dir {
        return Err(Errno::ENOTDIR);
    }
    sys.p.fs.set_cwd(r.guest);
    Ok(0)
}

pub fn mkdirat(sys: &mut Sys<'_>, dirfd: i32, addr: u64, mode: u32) -> SysResult {
    let (_, r) = resolve_at(sys, dirfd, addr, Follow::No)?;
    not_proc(&r)?;
    std::fs::create_dir(&r.host)?;
    let perm = std::fs::Permissions::from_mode(mode & 0o7777 & !sys.p.fs.umask());
    std::fs::set_permissions(&r.host, perm)?;
    Ok(0)
}

pub fn unlinkat(sys: &mut Sys<'_>, dirfd: i32, addr: u64, flags: u32) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let (_, r) = resolve_at(sys, dirfd, addr, Follow::No)?;
    not_proc(&r)?;
    if flags & AT_REMOVEDIR != 0 {
        std::fs::remove_dir(&r.host)?;
    } else {
        let m = std::fs::symlink_metadata(&r.host)?;
        if m.is_dir() {
            return Err(Errno::EISDIR);
        }
        std::fs::remove_file(&r.host)?;
    }
    Ok(0)
}

pub fn ftruncate(sys: &mut Sys<'_>, fd: i32, len: u64) -> SysResult {
    if (len as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let file = sys.p.fds.file(fd)?;
    let f = file.borrow();
    match &f.object {
        Object::Host(h) if f.flags & oflag::O_ACCMODE != oflag::O_RDONLY => {
            h.file.set_len(len)?;
            Ok(0)
        }
        Object::Host(_) => Err(Errno::EINVAL),
        _ => Err(Errno::EINVAL),
    }
}

pub fn fsync(sys: &mut Sys<'_>, fd: i32) -> SysResult {
    let file = sys.p.fds.file(fd)?;
    let f = file.borrow();
    match &f.object {
        Object::Host(h) => {
            h.file.sync_data()?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn faccessat(sys: &mut Sys<'_>, dirfd: i32, addr: u64, mode: u32, flags: u32) -> SysResult {
    if mode & !7 != 0 || flags & !(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 {
        Follow::No
    } else {
        Follow::Yes
    };
    let (_, r) = resolve_at(sys, dirfd, addr, follow)?;
    let st = if r.proc {
        proc_stat(sys, &r.guest)?
    } else if device(&r.guest).is_some() {
        host_stat_dev(&r.guest)?
    } else {
        rustix::fs::lstat(&r.host)?.into()
    };
    let perm = st.mode & 0o777;
    let c = sys.p.creds;
    let ok = if c.euid == 0 {
        // Root may read and write anything; execute needs some x bit.
        mode & 1 == 0 || perm & 0o111 != 0
    } else {
        let bits = if st.uid == c.euid {
            perm >> 6
        } else if st.gid == c.egid {
            perm >> 3
        } else {
            perm
        } & 7;
        bits & mode == mode
    };
    if ok {
        Ok(0)
    } else {
        Err(Errno::EACCES)
    }
}

pub fn readlinkat(sys: &mut Sys<'_>, dirfd: i32, addr: u64, buf: u64, size: u64) -> SysResult {
    if (size as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(sys, addr)?;
    let base = base_dir(sys, dirfd, &path)?;
    let r = resolve(sys, &base, &path, Follow::No)?;
    let target: Vec<u8> = if r.proc {
        match procfs::Tree::new(sys).node(&r.guest) {
            Some(ProcNode::Link(t) | ProcNode::FdLink(t)) => t,
            Some(_) => return Err(Errno::EINVAL),
            None => return Err(Errno::ENOENT),
        }
    } else {
        {
            let t = std::fs::read_link(&r.host).map_err(|e| {
                if e.raw_os_error() == Some(Errno::EINVAL.0) {
                    Errno::EINVAL
                } else {
                    Errno::from(e)
                }
            })?;
            std::os::unix::ffi::OsStrExt::as_bytes(t.as_os_str()).to_vec()
        }
    };
    let n = target.len().min(size as usize);
    sys.mem().copy_out(buf, &target[..n])?;
    Ok(n as u64)
}

/// What stat(2) and statx(2) report, whatever the object: a host file, a
/// device, a pipe or a procfs node.
#[derive(Debug, Clone, Copy, Default)]
struct FileStat {
    dev: u64,
    ino: u64,
    mode: u32,
    nlink: u32,
    uid: u32,
    gid: u32,
    rdev: u64,
    size: i64,
    blksize: u32,
    blocks: u64,
    atime: (i64, u32),
    mtime: (i64, u32),
    ctime: (i64, u32),
}

impl From<Stat> for FileStat {
    // The host's stat field types differ between host architectures.
    #[allow(clippy::unnecessary_cast)]
    fn from(st: Stat) -> Self {
        FileStat {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            mode: st.st_mode as u32,
            nlink: st.st_nlink as u32,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            rdev: st.st_rdev as u64,
            size: st.st_size as i64,
            blksize: st.st_blksize as u32,
            blocks: st.st_blocks as u64,
            atime: (st.st_atime as i64, st.st_atime_nsec as u32),
            mtime: (st.st_mtime as i64, st.st_mtime_nsec as u32),
            ctime: (st.st_ctime as i64, st.st_ctime_nsec as u32),
        }
    }
}

/// The host's metadata of a device cowix provides (/dev/null...).
fn host_stat_dev(guest: &str) -> Result<FileStat, Errno> {
    let host = match guest {
        "/dev/random" | "/dev/urandom" => "/dev/urandom",
        "/dev/zero" => "/dev/zero",
        "/dev/tty" => "/dev/tty",
        _ => "/dev/null",
    };
    Ok(rustix::fs::stat(host)?.into())
}

/// stat of the procfs node `guest` (proc_pid_make_inode(): owned by the
/// process's user, size 0, times of now).
fn proc_stat(sys: &Sys<'_>, guest: &str) -> Result<FileStat, Errno> {
    let r = resolve(sys, "/", guest.as_bytes(), Follow::No)?;
    let node = procfs::Tree::new(sys).node(&r.guest).ok_or(Errno::ENOENT)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let t = (now.as_secs() as i64, now.subsec_nanos());
    let mode = procfs::mode_of(&r.guest, &node);
    Ok(FileStat {
        dev: rustix::fs::makedev(0, procfs::PROC_DEV as u32),
        ino: procfs::ino_of(&r.guest),
        mode,
        nlink: if mode & 0o170000 == 0o040000 { 2 } else { 1 },
        uid: sys.p.creds.euid,
        gid: sys.p.creds.egid,
        blksize: 1024,
        atime: t,
        mtime: t,
        ctime: t,
        ..FileStat::default()
    })
}

/// stat of what an open file description refers to.
fn stat_open(sys: &Sys<'_>, fd: i32) -> Result<FileStat, Errno> {
    let file = sys.p.fds.file(fd)?;
    let f = file.borrow();
    Ok(match &f.object {
        Object::Host(h) => rustix::fs::fstat(&h.file)?.into(),
        Object::Stdin => rustix::fs::fstat(std::io::stdin())?.into(),
        Object::Tty => host_stat_dev("/dev/tty")?,
        Object::Stdout => rustix::fs::fstat(std::io::stdout())?.into(),
        Object::Stderr => rustix::fs::fstat(std::io::stderr())?.into(),
        Object::Null => host_stat_dev("/dev/null")?,
        Object::Zero => host_stat_dev("/dev/zero")?,
        Object::Random => host_stat_dev("/dev/urandom")?,
        Object::PipeRead(end) | Object::PipeWrite(end) => {
            // A FIFO's metadata: that of a fresh host pipe (S_IFIFO, st_blksize 4096).
            let (r, _w) = rustix::pipe::pipe()?;
            let mut st: FileStat = rustix::fs::fstat(&r)?.into();
            st.ino = end.pipe.borrow().id();
            st
        }
        Object::Proc(p) => proc_stat(sys, &p.path)?,
        // The one anonymous inode (fs/anon_inodes.c): mode 0600 with no
        // file type, owned by the caller, on the anon_inodefs device.
        Object::EventFd(_) | Object::TimerFd(_) | Object::SignalFd(_) | Object::Epoll(_) => {
            FileStat {
                dev: rustix::fs::makedev(0, 15),
                ino: 1,
                mode: 0o600,
                nlink: 1,
                uid: sys.p.creds.euid,
                gid: sys.p.creds.egid,
                blksize: 4096,
                ..FileStat::default()
            }
        }
    })
}

/// struct stat for riscv64 (include/uapi/asm-generic/stat.h), 128 bytes.
fn encode_stat(st: &FileStat) -> [u8; 128] {
    let mut b = [0u8; 128];
    let mut put =
        |off: usize, v: u64, n: usize| b[off..off + n].copy_from_slice(&v.to_le_bytes()[..n]);
    put(0, st.dev, 8);
    put(8, st.ino, 8);
    put(16, st.mode as u64, 4);
    put(20, st.nlink as u64, 4);
    put(24, st.uid as u64, 4);
    put(28, st.gid as u64, 4);
    put(32, st.rdev, 8);
    put(48, st.size as u64, 8);
    put(56, st.blksize as u64, 4);
    put(64, st.blocks, 8);
    put(72, st.atime.0 as u64, 8);
    put(80, st.atime.1 as u64, 8);
    put(88, st.mtime.0 as u64, 8);
    put(96, st.mtime.1 as u64, 8);
    put(104, st.ctime.0 as u64, 8);
    put(112, st.ctime.1 as u64, 8);
    b
}

fn stat_path_or_fd(
    sys: &mut Sys<'_>,
    dirfd: i32,
    addr: u64,
    flags: u32,
) -> Result<FileStat, Errno> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800/* AT_NO_AUTOMOUNT */) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path_arg(sys, addr)?;
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if dirfd == AT_FDCWD {
            let cwd = resolve(sys, &sys.p.fs.cwd(), b".", Follow::Yes)?;
            if cwd.proc {
                return proc_stat(sys, &cwd.guest);
            }
            return Ok(rustix::fs::stat(cwd.host)?.into());
        }
        return stat_open(sys, dirfd);
    }
    let base = base_dir(sys, dirfd, &path)?;
    let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 {
        Follow::No
    } else {
        Follow::Yes
    };
    let r = resolve(sys, &base, &path, follow)?;
    if r.proc {
        // A followed /proc/PID/fd/N is the file behind the descriptor.
        if let (Some((pid, fd)), Follow::Yes) = (procfs::fd_link(&r.guest), follow) {
            if pid == sys.p.pid {
                return stat_open(sys, fd).map_err(|_| Errno::ENOENT);
            }
        }
        return proc_stat(sys, &r.guest);
    }
    if device(&r.guest).is_some() && r.guest.starts_with("/dev/") {
        return host_stat_dev(&r.guest);
    }
    Ok(rustix::fs::lstat(&r.host)?.into())
}

pub fn fstat(sys: &mut Sys<'_>, fd: i32, buf: u64) -> SysResult {
    let st = stat_open(sys, fd)?;
    sys.mem().copy_out(buf, &encode_stat(&st))?;
    Ok(0)
}

pub fn newfstatat(sys: &mut Sys<'_>, dirfd: i32, addr: u64, buf: u64, flags: u32) -> SysResult {
    let st = stat_path_or_fd(sys, dirfd, addr, flags)?;
    sys.mem().copy_out(buf, &encode_stat(&st))?;
    Ok(0)
}

/// statx(2): the basic stats (STATX_BASIC_STATS), 256-byte struct statx.
pub fn statx(
    sys: &mut Sys<'_>,
    dirfd: i32,
    addr: u64,
    flags: u32,
    _mask: u32,
    buf: u64,
) -> SysResult {
    const STATX_BASIC_STATS: u32 = 0x7ff;
    let flags = flags & !0x6000; // AT_STATX_SYNC_TYPE bits
    let st = stat_path_or_fd(sys, dirfd, addr, flags)?;
    let mut b = [0u8; 256];
    let mut put =
        |off: usize, v: u64, n: usize| b[off..off + n].copy_from_slice(&v.to_le_bytes()[..n]);
    put(0, STATX_BASIC_STATS as u64, 4);
    put(4, st.blksize as u64, 4);
    put(16, st.nlink as u64, 4);
    put(20, st.uid as u64, 4);
    put(24, st.gid as u64, 4);
    put(28, st.mode as u64, 2);
    put(32, st.ino, 8);
    put(40, st.size as u64, 8);
    put(48, st.blocks, 8);
    for (off, (sec, nsec)) in [(64, st.atime), (96, st.ctime), (112, st.mtime)] {
        put(off, sec as u64, 8);
        put(off + 8, nsec as u64, 4);
    }
    let (rmaj, rmin) = (rustix::fs::major(st.rdev), rustix::fs::minor(st.rdev));
    let (dmaj, dmin) = (rustix::fs::major(st.dev), rustix::fs::minor(st.dev));
    put(128, rmaj as u64, 4);
    put(132, rmin as u64, 4);
    put(136, dmaj as u64, 4);
    put(140, dmin as u64, 4);
    sys.mem().copy_out(buf, &b)?;
    Ok(0)
}

/// Reads `off` (a guest `loff_t *`, or 0 for "use and move the file's own
/// offset").
fn offset_arg(sys: &mut Sys<'_>, ptr: u64, file: &FileRef) -> Result<u64, Errno> {
    if ptr == 0 {
        return Ok(file.borrow().offset);
    }
    let mut raw = [0u8; 8];
    sys.mem().copy_in(ptr, &mut raw)?;
    let v = i64::from_le_bytes(raw);
    if v < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(v as u64)
}

/// Moves the offset after a copy: through the pointer, or the file's own.
fn offset_done(sys: &mut Sys<'_>, ptr: u64, file: &FileRef, at: u64) -> Result<(), Errno> {
    if ptr == 0 {
        file.borrow_mut().offset = at;
        Ok(())
    } else {
        sys.mem().copy_out(ptr, &at.to_le_bytes())
    }
}

/// A regular host file open for reading (sendfile's and copy_file_range's
/// source must be one: mmap-able, in Linux's words).
fn regular_source(file: &FileRef) -> Result<(), Errno> {
    let f = file.borrow();
    match &f.object {
        Object::Host(h) if h.file.metadata()?.is_file() => {}
        Object::Host(_) => return Err(Errno::EINVAL),
        _ => return Err(Errno::EINVAL),
    }
    if f.flags & oflag::O_ACCMODE == oflag::O_WRONLY {
        return Err(Errno::EBADF);
    }
    Ok(())
}

/// sendfile(out_fd, in_fd, offset, count): copies from a regular file to
/// any writable file or pipe. Bytes read but not taken by a full pipe are
/// not lost: the source offset moves by what was written.
pub fn sendfile(sys: &mut Sys<'_>, out_fd: i32, in_fd: i32, off: u64, count: u64) -> SysResult {
    let input = sys.p.fds.file(in_fd)?;
    let output = sys.p.fds.file(out_fd)?;
    regular_source(&input)?;
    if output.borrow().flags & oflag::O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    let mut at = offset_arg(sys, off, &input)?;
    let want = rw_len(count);
    let mut buf = vec![0u8; want.min(1 << 16)];
    let mut done = 0usize;
    while done < want {
        let n = (want - done).min(buf.len());
        let got = input.borrow_mut().pread(&mut buf[..n], at)?;
        if got == 0 {
            break;
        }
        if let Some(id) = host_id(&input) {
            read_through_cache(sys.pm, id, at, &mut buf[..got]);
        }
        let put = match write_file(sys, &output, &buf[..got]) {
            Ok(k) => k,
            Err(e) if done == 0 => return Err(e),
            Err(_) => 0,
        };
        if sys.block {
            // A full pipe: what went in counts, the caller retries the rest.
            if done + put > 0 {
                sys.block = false;
                sys.t.write_done = 0;
            }
            at += put as u64;
            done += put;
            break;
        }
        at += put as u64;
        done += put;
        if put < got {
            break;
        }
    }
    offset_done(sys, off, &input, at)?;
    Ok(done as u64)
}

/// copy_file_range(fd_in, off_in, fd_out, off_out, len, flags): between
/// regular files; overlapping ranges of one file are EINVAL.
pub fn copy_file_range(
    sys: &mut Sys<'_>,
    fd_in: i32,
    off_in: u64,
    fd_out: i32,
    off_out: u64,
    len: u64,
    flags: u32,
) -> SysResult {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let input = sys.p.fds.file(fd_in)?;
    let output = sys.p.fds.file(fd_out)?;
    regular_source(&input)?;
    let (same, out_ok) = {
        let (i, o) = (input.borrow(), output.borrow());
        let same = match (&i.object, &o.object) {
            (Object::Host(a), Object::Host(b)) => a.id == b.id,
            _ => false,
        };
        let ok =
            matches!(&o.object, Object::Host(h) if h.file.metadata().is_ok_and(|m| m.is_file()));
        if o.flags & oflag::O_ACCMODE == oflag::O_RDONLY {
            return Err(Errno::EBADF);
        }
        if o.flags & oflag::O_APPEND != 0 {
            return Err(Errno::EBADF);
        }
        (same, ok)
    };
    if !out_ok {
        return Err(Errno::EINVAL);
    }
    let mut src = offset_arg(sys, off_in, &input)?;
    let mut dst = offset_arg(sys, off_out, &output)?;
    let len = rw_len(len) as u64;
    if same && src < dst + len && dst < src + len {
        return Err(Errno::EINVAL);
    }
    let mut buf = vec![0u8; (len as usize).min(1 << 16)];
    let mut done = 0u64;
    while done < len {
        let n = ((len - done) as usize).min(buf.len());
        let got = input.borrow_mut().pread(&mut buf[..n], src)?;
        if got == 0 {
            break;
        }
        if let Some(id) = host_id(&input) {
            read_through_cache(sys.pm, id, src, &mut buf[..got]);
        }
        let put = output.borrow_mut().pwrite(&buf[..got], dst)?;
        if let Some(id) = host_id(&output) {
            write_through_cache(sys.pm, id, dst, &buf[..put]);
        }
        src += put as u64;
        dst += put as u64;
        done += put as u64;
        if put < got {
            break;
        }
    }
    offset_done(sys, off_in, &input, src)?;
    offset_done(sys, off_out, &output, dst)?;
    Ok(done)
}

/// memfd_create(name, flags): an anonymous file, read-write, shown as
/// `/memfd:NAME (deleted)`. It lives in an unlinked host temporary file,
/// so it can be mapped shared through the page cache like any file.
pub fn memfd_create(sys: &mut Sys<'_>, name: u64, flags: u32) -> SysResult {
    const MFD_CLOEXEC: u32 = 1;
    const MFD_ALLOW_SEALING: u32 = 2;
    const MFD_NOEXEC_SEAL: u32 = 8;
    const MFD_EXEC: u32 = 0x10;
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let name = sys.mem().read_cstr(name, 250).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::EINVAL
        } else {
            e
        }
    })?;
    if name.len() > 249 {
        return Err(Errno::EINVAL);
    }
    let dir = std::env::temp_dir();
    let fd = rustix::fs::openat(
        rustix::fs::CWD,
        &dir,
        rustix::fs::OFlags::TMPFILE | rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::from_raw_mode(0o600),
    );
    let file = match fd {
        Ok(fd) => std::fs::File::from(fd),
        Err(_) => {
            // No O_TMPFILE on the host's temp dir: create, then unlink.
            let path = dir.join(format!(
                "cowix-memfd-{}-{}",
                std::process::id(),
                sys.clock.monotonic_ns()
            ));
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            std::fs::remove_file(&path)?;
            f
        }
    };
    let host = HostFile::new(file)?;
    let path = format!("/memfd:{} (deleted)", String::from_utf8_lossy(&name));
    let of = OpenFile::new(Object::Host(Rc::new(host)), oflag::O_RDWR, path);
    let limit = nofile(sys);
    let entry = FdEntry {
        file: of,
        cloexec: flags & MFD_CLOEXEC != 0,
    };
    Ok(sys.p.fds.install(entry, 0, limit)? as u64)
}

/// flock(fd, operation): whole-file locks owned by the open file
/// description, in their own space apart from fcntl's (fs/locks.c).
pub fn flock(sys: &mut Sys<'_>, fd: i32, op: u32) -> SysResult {
    use crate::locks::Kind;
    const LOCK_SH: u32 = 1;
    const LOCK_EX: u32 = 2;
    const LOCK_NB: u32 = 4;
    const LOCK_UN: u32 = 8;
    const LOCK_MAND: u32 = 32;
    let file = sys.p.fds.file(fd)?;
    let id = match &file.borrow().object {
        // flock's lock space: the file's identity with the top bit set.
        Object::Host(h) => (h.id.0 | 1 << 63, h.id.1),
        _ => return Err(Errno::EINVAL),
    };
    if op & LOCK_MAND != 0 {
        // Long deprecated: Linux ignores it and succeeds.
        return Ok(0);
    }
    let kind = match op & !LOCK_NB {
        LOCK_SH => Some(Kind::Read),
        LOCK_EX => Some(Kind::Write),
        LOCK_UN => None,
        _ => return Err(Errno::EINVAL),
    };
    let owner = crate::locks::ofd_owner(&file);
    let (me, procs) = (sys.p.pid, &*sys.procs);
    sys.locks
        .purge(&|pid| pid == me || procs.contains_key(&pid));
    if let Some(k) = kind {
        if sys.locks.conflict(id, &owner, k, 0, u64::MAX).is_some() {
            if op & LOCK_NB == 0 {
                sys.block = true;
            }
            return Err(Errno::EAGAIN);
        }
    }
    sys.locks.set(id, owner, kind, 0, u64::MAX);
    Ok(0)
}

/// close_range(first, last, flags): closes (or, with CLOSE_RANGE_CLOEXEC,
/// marks close-on-exec) every open descriptor in `first..=last`
/// (fs/file.c: __close_range()). EINVAL for unknown flags or
/// `first > last`. CLOSE_RANGE_UNSHARE asks for a private table first;
/// cowix's table is already private to the process, so it changes nothing.
pub fn close_range(sys: &mut Sys<'_>, first: u32, last: u32, flags: u32) -> SysResult {
    const CLOSE_RANGE_UNSHARE: u32 = 1 << 1;
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    let fds: Vec<i32> = sys
        .p
        .fds
        .open_fds()
        .into_iter()
        .filter(|&fd| (first..=last).contains(&(fd as u32)))
        .collect();
    for fd in fds {
        if flags & CLOSE_RANGE_CLOEXEC != 0 {
            sys.p.fds.set_cloexec(fd, true)?;
        } else {
            release_locks(sys, fd);
            sys.p.fds.close(fd)?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod dirent_tests {
    use super::push_dirent64;

    #[test]
    fn dirent64_records_are_laid_out_and_padded_as_linux() {
        let mut out = Vec::new();
        assert!(push_dirent64(&mut out, 64, 7, 1, 4, b"."));
        assert_eq!(
            out.len(),
            24,
            "19-byte header + \".\" + NUL, rounded up to 8"
        );
        assert_eq!(u64::from_le_bytes(out[0..8].try_into().unwrap()), 7);
        assert_eq!(i64::from_le_bytes(out[8..16].try_into().unwrap()), 1);
        assert_eq!(u16::from_le_bytes(out[16..18].try_into().unwrap()), 24);
        assert_eq!(out[18], 4);
        assert_eq!(&out[19..21], b".\0");
        assert!(
            push_dirent64(&mut out, 64, 8, 2, 8, b"hello"),
            "24 + 32 bytes fit in 64"
        );
        assert_eq!(out.len(), 56);
        assert!(
            !push_dirent64(&mut out, 64, 9, 3, 8, b"x"),
            "a third record does not fit"
        );
        assert_eq!(out.len(), 56, "nothing written when it does not fit");
    }
}
