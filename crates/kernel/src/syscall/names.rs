//! Syscalls on names and metadata: hard and symbolic links, renames,
//! permissions, owners, times, truncation by name, fchdir and statfs.
//! Paths resolve through the confined walk like every other path; the host
//! does the work on the host paths it yields.

use std::os::unix::ffi::OsStrExt;

use rustix::fs::{Gid, Timespec, Timestamps, Uid, CWD};

use super::fs::{not_proc, resolve, resolve_at, AT_FDCWD};
use super::Sys;
use crate::errno::{Errno, SysResult};
use crate::fd::{oflag, Object};
use crate::vfs::Follow;

const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_SYMLINK_FOLLOW: u32 = 0x400;
const AT_EMPTY_PATH: u32 = 0x1000;

/// A followed `/proc/self/fd/N` names the open file itself (a magic
/// link): the descriptor to act on, if `r` is one of the caller's.
fn magic_fd(sys: &Sys<'_>, r: &crate::vfs::Resolved) -> Option<i32> {
    let (pid, fd) = crate::procfs::fd_link(&r.guest)?;
    (r.proc && pid == sys.p.pid).then_some(fd)
}

fn follow_if(flags: u32, nofollow_bit: u32) -> Follow {
    if flags & nofollow_bit != 0 {
        Follow::No
    } else {
        Follow::Yes
    }
}

/// linkat(olddirfd, oldpath, newdirfd, newpath, flags): a new name for an
/// existing file. The old name's final symlink is followed only with
/// AT_SYMLINK_FOLLOW, as Linux.
pub fn linkat(sys: &mut Sys<'_>, od: i32, old: u64, nd: i32, new: u64, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let follow = if flags & AT_SYMLINK_FOLLOW != 0 {
        Follow::Yes
    } else {
        Follow::No
    };
    let (_, from) = resolve_at(sys, od, old, follow)?;
    let (_, to) = resolve_at(sys, nd, new, Follow::No)?;
    not_proc(&from)?;
    not_proc(&to)?;
    rustix::fs::linkat(CWD, &from.host, CWD, &to.host, rustix::fs::AtFlags::empty())?;
    Ok(0)
}

/// symlinkat(target, newdirfd, linkpath): the target is stored as given;
/// it is only ever interpreted by the confined walk.
pub fn symlinkat(sys: &mut Sys<'_>, target: u64, nd: i32, link: u64) -> SysResult {
    let target = super::fs::path_arg(sys, target)?;
    let (_, at) = resolve_at(sys, nd, link, Follow::No)?;
    not_proc(&at)?;
    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&target), &at.host)?;
    Ok(0)
}

/// renameat2(olddirfd, old, newdirfd, new, flags): RENAME_NOREPLACE,
/// RENAME_EXCHANGE (RENAME_WHITEOUT is for overlay file systems: EINVAL).
pub fn renameat2(sys: &mut Sys<'_>, od: i32, old: u64, nd: i32, new: u64, flags: u32) -> SysResult {
    const RENAME_NOREPLACE: u32 = 1;
    const RENAME_EXCHANGE: u32 = 2;
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
        || flags == RENAME_NOREPLACE | RENAME_EXCHANGE
    {
        return Err(Errno::EINVAL);
    }
    let (_, from) = resolve_at(sys, od, old, Follow::No)?;
    let (_, to) = resolve_at(sys, nd, new, Follow::No)?;
    not_proc(&from)?;
    not_proc(&to)?;
    let f = rustix::fs::RenameFlags::from_bits_retain(flags);
    rustix::fs::renameat_with(CWD, &from.host, CWD, &to.host, f)?;
    Ok(0)
}

/// fchmod(fd, mode). An O_PATH descriptor cannot be used (EBADF).
pub fn fchmod(sys: &mut Sys<'_>, fd: i32, mode: u32) -> SysResult {
    chmod_open(sys, fd, mode, false)
}

/// chmod of what `fd` refers to; `by_path` (a /proc/self/fd/N path) may
/// name an O_PATH descriptor.
fn chmod_open(sys: &mut Sys<'_>, fd: i32, mode: u32, by_path: bool) -> SysResult {
    let file = sys.p.fds.file(fd)?;
    let f = file.borrow();
    match &f.object {
        Object::Host(h) if by_path || f.flags & oflag::O_PATH == 0 => {
            rustix::fs::fchmod(&h.file, rustix::fs::Mode::from_raw_mode(mode & 0o7777))?;
            Ok(0)
        }
        Object::Host(_) => Err(Errno::EBADF),
        Object::Proc(_) => Err(Errno::EPERM),
        // Pipes and cowix's devices: nothing to change that anyone sees.
        _ => Ok(0),
    }
}

/// fchmodat(dirfd, path, mode) and fchmodat2(..., flags): with
/// AT_SYMLINK_NOFOLLOW a final symlink is not followed and, since symlinks
/// have no mode of their own, changing one is EOPNOTSUPP.
pub fn fchmodat(sys: &mut Sys<'_>, dirfd: i32, path: u64, mode: u32, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = super::fs::path_arg(sys, path)?;
    if p.is_empty() && flags & AT_EMPTY_PATH != 0 {
        return fchmod(sys, dirfd, mode);
    }
    let (_, r) = resolve_at(sys, dirfd, path, follow_if(flags, AT_SYMLINK_NOFOLLOW))?;
    if let (Some(fd), 0) = (magic_fd(sys, &r), flags & AT_SYMLINK_NOFOLLOW) {
        return chmod_open(sys, fd, mode, true);
    }
    if r.proc {
        return Err(Errno::EPERM);
    }
    if std::fs::symlink_metadata(&r.host)?.file_type().is_symlink() {
        return Err(Errno::ENOTSUP);
    }
    rustix::fs::chmod(&r.host, rustix::fs::Mode::from_raw_mode(mode & 0o7777))?;
    Ok(0)
}

/// (-1 means "leave as is".)
fn ids(uid: u32, gid: u32) -> (Option<Uid>, Option<Gid>) {
    (
        (uid != u32::MAX).then(|| Uid::from_raw(uid)),
        (gid != u32::MAX).then(|| Gid::from_raw(gid)),
    )
}

/// fchownat(dirfd, path, uid, gid, flags); the host applies it to the host
/// file (guest and host ids are the same numbers).
pub fn fchownat(
    sys: &mut Sys<'_>,
    dirfd: i32,
    path: u64,
    uid: u32,
    gid: u32,
    flags: u32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let (u, g) = ids(uid, gid);
    let p = super::fs::path_arg(sys, path)?;
    if p.is_empty() && flags & AT_EMPTY_PATH != 0 {
        return fchown(sys, dirfd, uid, gid);
    }
    let (_, r) = resolve_at(sys, dirfd, path, follow_if(flags, AT_SYMLINK_NOFOLLOW))?;
    if let (Some(fd), 0) = (magic_fd(sys, &r), flags & AT_SYMLINK_NOFOLLOW) {
        return fchown(sys, fd, uid, gid);
    }
    if r.proc {
        return Err(Errno::EPERM);
    }
    rustix::fs::chownat(
        CWD,
        &r.host,
        u,
        g,
        if flags & AT_SYMLINK_NOFOLLOW != 0 {
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW
        } else {
            rustix::fs::AtFlags::empty()
        },
    )?;
    Ok(0)
}

/// fchown(fd, uid, gid).
pub fn fchown(sys: &mut Sys<'_>, fd: i32, uid: u32, gid: u32) -> SysResult {
    let (u, g) = ids(uid, gid);
    let file = sys.p.fds.file(fd)?;
    let f = file.borrow();
    match &f.object {
        Object::Host(h) => {
            rustix::fs::fchown(&h.file, u, g)?;
            Ok(0)
        }
        Object::Proc(_) => Err(Errno::EPERM),
        _ => Ok(0),
    }
}

/// utimensat(dirfd, path, times, flags): times NULL means now; each of the
/// two may be UTIME_NOW or UTIME_OMIT. A NULL path acts on dirfd itself
/// (futimens).
pub fn utimensat(sys: &mut Sys<'_>, dirfd: i32, path: u64, times: u64, flags: u32) -> SysResult {
    const UTIME_NOW: i64 = (1 << 30) - 1;
    const UTIME_OMIT: i64 = (1 << 30) - 2;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let ts = if times == 0 {
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_NOW as _,
        };
        Timestamps {
            last_access: now,
            last_modification: now,
        }
    } else {
        let mut raw = [0u8; 32];
        sys.mem().copy_in(times, &mut raw)?;
        let word = |i: usize| i64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap());
        for ns in [word(1), word(3)] {
            if !(0..1_000_000_000).contains(&ns) && ns != UTIME_NOW && ns != UTIME_OMIT {
                return Err(Errno::EINVAL);
            }
        }
        Timestamps {
            last_access: Timespec {
                tv_sec: word(0) as _,
                tv_nsec: word(1) as _,
            },
            last_modification: Timespec {
                tv_sec: word(2) as _,
                tv_nsec: word(3) as _,
            },
        }
    };
    let on_fd = path == 0 || {
        let p = super::fs::path_arg(sys, path)?;
        p.is_empty() && flags & AT_EMPTY_PATH != 0
    };
    if on_fd {
        if dirfd == AT_FDCWD {
            let cwd = resolve(sys, &sys.p.fs.cwd(), b".", Follow::Yes)?;
            rustix::fs::utimensat(CWD, &cwd.host, &ts, rustix::fs::AtFlags::empty())?;
            return Ok(0);
        }
        let file = sys.p.fds.file(dirfd)?;
        let f = file.borrow();
        return match &f.object {
            Object::Host(h) => {
                rustix::fs::futimens(&h.file, &ts)?;
                Ok(0)
            }
            Object::Proc(_) => Err(Errno::EPERM),
            _ => Ok(0),
        };
    }
    let (_, r) = resolve_at(sys, dirfd, path, follow_if(flags, AT_SYMLINK_NOFOLLOW))?;
    if let (Some(fd), 0) = (magic_fd(sys, &r), flags & AT_SYMLINK_NOFOLLOW) {
        return utimensat(sys, fd, 0, times, 0);
    }
    if r.proc {
        return Err(Errno::EPERM);
    }
    let at = if flags & AT_SYMLINK_NOFOLLOW != 0 {
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW
    } else {
        rustix::fs::AtFlags::empty()
    };
    rustix::fs::utimensat(CWD, &r.host, &ts, at)?;
    Ok(0)
}

/// truncate(path, length).
pub fn truncate(sys: &mut Sys<'_>, path: u64, len: u64) -> SysResult {
    if (len as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let (_, r) = resolve_at(sys, AT_FDCWD, path, Follow::Yes)?;
    if r.proc {
        return Err(Errno::EACCES);
    }
    if std::fs::metadata(&r.host)?.is_dir() {
        return Err(Errno::EISDIR);
    }
    let f = std::fs::OpenOptions::new().write(true).open(&r.host)?;
    f.set_len(len)?;
    Ok(0)
}

/// fchdir(fd): the directory open as fd becomes the cwd.
pub fn fchdir(sys: &mut Sys<'_>, fd: i32) -> SysResult {
    let file = sys.p.fds.file(fd)?;
    let f = file.borrow();
    let is_dir = match &f.object {
        Object::Host(h) => h.file.metadata()?.is_dir(),
        Object::Proc(p) => p.dir.is_some(),
        _ => false,
    };
    if !is_dir {
        return Err(Errno::ENOTDIR);
    }
    let path = f.path.clone();
    drop(f);
    sys.p.fs.set_cwd(path);
    Ok(0)
}

/// procfs's f_type (PROC_SUPER_MAGIC).
const PROC_SUPER_MAGIC: u64 = 0x9fa0;

/// struct statfs for 64-bit asm-generic (120 bytes): f_type, f_bsize,
/// f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_fsid[2] (ints),
/// f_namelen, f_frsize, f_flags, f_spare[4].
// The host's statfs field types differ between host architectures.
#[allow(clippy::unnecessary_cast)]
fn encode_statfs(st: Option<&rustix::fs::StatFs>) -> [u8; 120] {
    let mut b = [0u8; 120];
    let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    match st {
        Some(s) => {
            put(0, s.f_type as u64);
            put(8, s.f_bsize as u64);
            put(16, s.f_blocks as u64);
            put(24, s.f_bfree as u64);
            put(32, s.f_bavail as u64);
            put(40, s.f_files as u64);
            put(48, s.f_ffree as u64);
            put(64, s.f_namelen as u64);
            put(72, s.f_frsize as u64);
            put(80, s.f_flags as u64);
        }
        None => {
            put(0, PROC_SUPER_MAGIC);
            put(8, 4096);
            put(64, 255);
            put(72, 4096);
            // ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME
            put(80, 0x2 | 0x4 | 0x8 | 0x1000);
        }
    }
    b
}

/// statfs(path, buf).
pub fn statfs(sys: &mut Sys<'_>, path: u64, buf: u64) -> SysResult {
    let (_, r) = resolve_at(sys, AT_FDCWD, path, Follow::Yes)?;
    let b = if r.proc {
        encode_statfs(None)
    } else {
        encode_statfs(Some(&rustix::fs::statfs(&r.host)?))
    };
    sys.mem().copy_out(buf, &b)?;
    Ok(0)
}

/// fstatfs(fd, buf).
pub fn fstatfs(sys: &mut Sys<'_>, fd: i32, buf: u64) -> SysResult {
    let file = sys.p.fds.file(fd)?;
    let b = match &file.borrow().object {
        Object::Host(h) => encode_statfs(Some(&rustix::fs::fstatfs(&h.file)?)),
        Object::Proc(_) => encode_statfs(None),
        // Pipes (pipefs) and devices (devtmpfs): the host's own answer for
        // the same kind of object.
        Object::PipeRead(_) | Object::PipeWrite(_) => {
            let (r, _w) = rustix::pipe::pipe()?;
            encode_statfs(Some(&rustix::fs::fstatfs(&r)?))
        }
        _ => encode_statfs(Some(&rustix::fs::statfs("/dev/null")?)),
    };
    sys.mem().copy_out(buf, &b)?;
    Ok(0)
}
