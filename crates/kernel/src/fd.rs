//! File descriptors and open file descriptions.
//!
//! As in Linux (and seed 002_e6bf70a011e746b4.txt): a process's fd table
//! maps small integers to *open file descriptions*; the table is copied at
//! fork (shared with CLONE_FILES), while the descriptions, with their offset and status flags, are
//! shared (`Rc`) by every descriptor that `dup`, `fork` or inheritance made.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::rc::Rc;

use cowix_mm::FileSource;

use crate::epoll::Epoll;
use crate::errno::Errno;
use crate::eventfd::EventFd;
use crate::pipe::PipeEnd;
use crate::procfs::ProcFile;
use crate::signalfd::SignalFd;
use crate::timerfd::TimerFd;

/// `open(2)` flags (include/uapi/asm-generic/fcntl.h).
pub mod oflag {
    pub const O_ACCMODE: u32 = 0o3;
    pub const O_RDONLY: u32 = 0o0;
    pub const O_WRONLY: u32 = 0o1;
    pub const O_RDWR: u32 = 0o2;
    pub const O_CREAT: u32 = 0o100;
    pub const O_EXCL: u32 = 0o200;
    pub const O_NOCTTY: u32 = 0o400;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_NONBLOCK: u32 = 0o4000;
    pub const O_DIRECTORY: u32 = 0o200000;
    pub const O_NOFOLLOW: u32 = 0o400000;
    pub const O_CLOEXEC: u32 = 0o2000000;
    pub const O_PATH: u32 = 0o10000000;
}

/// What an open file description refers to.
#[derive(Debug)]
pub enum Object {
    /// A host file or directory under the guest root.
    Host(Rc<HostFile>),
    /// The host's standard input, output or error (guest fds 0, 1, 2 at start).
    Stdin,
    Stdout,
    Stderr,
    /// `/dev/tty`: the console (see [`crate::tty`]), read from the host's
    /// standard input, written to its standard output.
    Tty,
    /// `/dev/null`, `/dev/zero`, `/dev/urandom` (and `/dev/random`).
    Null,
    Zero,
    Random,
    /// The read or write end of a pipe (`pipe2`).
    PipeRead(PipeEnd),
    PipeWrite(PipeEnd),
    /// A procfs file or directory (see [`crate::procfs`]).
    Proc(ProcFile),
    /// An eventfd counter (`eventfd2`), shared by fork and dup.
    EventFd(Rc<RefCell<EventFd>>),
    /// A timerfd (`timerfd_create`).
    TimerFd(Rc<RefCell<TimerFd>>),
    /// A signalfd (`signalfd4`): its mask; reads take the reader's signals.
    SignalFd(SignalFd),
    /// An epoll instance (`epoll_create1`).
    Epoll(Rc<RefCell<Epoll>>),
}

/// A host file, shared between open file descriptions and mappings of it.
#[derive(Debug)]
pub struct HostFile {
    pub file: File,
    /// (st_dev, st_ino): identity for the page cache.
    pub id: (u64, u64),
}

impl HostFile {
    pub fn new(file: File) -> io::Result<Self> {
        let m = file.metadata()?;
        Ok(HostFile {
            file,
            id: (m.dev(), m.ino()),
        })
    }
}

impl FileSource for HostFile {
    fn id(&self) -> (u64, u64) {
        self.id
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match self.file.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> io::Result<usize> {
        self.file.write_at(buf, offset)
    }
}

/// An open file description: the object, the file offset and status flags.
#[derive(Debug)]
pub struct OpenFile {
    pub object: Object,
    pub offset: u64,
    /// Access mode and status flags (O_APPEND, O_NONBLOCK...), as F_GETFL reports them.
    pub flags: u32,
    /// The guest path it was opened by, for /proc/PID/fd and traces.
    pub path: String,
}

pub type FileRef = Rc<RefCell<OpenFile>>;

impl OpenFile {
    pub fn new(object: Object, flags: u32, path: impl Into<String>) -> FileRef {
        Rc::new(RefCell::new(OpenFile {
            object,
            offset: 0,
            flags,
            path: path.into(),
        }))
    }

    /// Opened for reading (not O_WRONLY, not O_PATH).
    pub fn readable(&self) -> bool {
        self.flags & oflag::O_ACCMODE != oflag::O_WRONLY && self.flags & oflag::O_PATH == 0
    }

    /// Opened for writing (O_WRONLY or O_RDWR, not O_PATH).
    pub fn writable(&self) -> bool {
        matches!(
            self.flags & oflag::O_ACCMODE,
            oflag::O_WRONLY | oflag::O_RDWR
        ) && self.flags & oflag::O_PATH == 0
    }

    /// read(2): reads at the shared offset and advances it.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        let n = self.pread(buf, self.offset)?;
        if matches!(self.object, Object::Host(_) | Object::Proc(_)) {
            self.offset += n as u64;
        }
        Ok(n)
    }

    /// pread64(2): reads at `offset` without moving the file offset.
    pub fn pread(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        match &self.object {
            Object::Host(h) => {
                if h.file.metadata()?.is_dir() {
                    return Err(Errno::EISDIR);
                }
                Ok(h.file.read_at(buf, offset)?)
            }
            Object::Stdin | Object::Tty => loop {
                match io::stdin().lock().read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => return Ok(r?),
                }
            },
            Object::Stdout | Object::Stderr | Object::PipeWrite(_) => Err(Errno::EBADF),
            Object::PipeRead(end) => end.pipe.borrow_mut().read(buf),
            Object::Proc(f) => {
                if f.dir.is_some() {
                    return Err(Errno::EISDIR);
                }
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(f.data.len());
                let n = buf.len().min(f.data.len() - start);
                buf[..n].copy_from_slice(&f.data[start..start + n]);
                Ok(n)
            }
            Object::Null => Ok(0),
            Object::Zero => {
                buf.fill(0);
                Ok(buf.len())
            }
            Object::Random => {
                rustix::rand::getrandom(&mut *buf, rustix::rand::GetRandomFlags::empty())?;
                Ok(buf.len())
            }
            Object::EventFd(e) => e.borrow_mut().read(buf),
            Object::TimerFd(t) => t.borrow_mut().read(buf),
            // A signalfd reads the reader's signals (`syscall::events`);
            // an epoll file has no read method.
            Object::SignalFd(_) | Object::Epoll(_) => Err(Errno::EINVAL),
        }
    }

    /// write(2): writes at the shared offset (at the end with O_APPEND) and advances it.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Errno> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        if let Object::Host(h) = &self.object {
            if self.flags & oflag::O_APPEND != 0 {
                self.offset = h.file.metadata()?.len();
            }
        }
        let n = self.pwrite(data, self.offset)?;
        if matches!(self.object, Object::Host(_)) {
            self.offset += n as u64;
        }
        Ok(n)
    }

    /// pwrite64(2).
    pub fn pwrite(&mut self, data: &[u8], offset: u64) -> Result<usize, Errno> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        match &self.object {
            Object::Host(h) => Ok(h.file.write_at(data, offset)?),
            Object::Stdout | Object::Tty => write_all_flush(&mut io::stdout().lock(), data),
            Object::Stderr => write_all_flush(&mut io::stderr().lock(), data),
            Object::Stdin | Object::PipeRead(_) | Object::Proc(_) => Err(Errno::EBADF),
            Object::PipeWrite(end) => end.pipe.borrow_mut().write(data),
            Object::Null | Object::Zero | Object::Random => Ok(data.len()),
            Object::EventFd(e) => e.borrow_mut().write(data),
            Object::TimerFd(_) | Object::SignalFd(_) | Object::Epoll(_) => Err(Errno::EINVAL),
        }
    }

    /// True for a pipe end: reads and writes may block.
    pub fn is_pipe(&self) -> bool {
        matches!(self.object, Object::PipeRead(_) | Object::PipeWrite(_))
    }

    /// True for objects whose reads or writes wait (unless O_NONBLOCK)
    /// where they would fail with EAGAIN: pipes, eventfds, timerfds, signalfds.
    pub fn may_block(&self) -> bool {
        self.is_pipe()
            || matches!(
                self.object,
                Object::EventFd(_) | Object::TimerFd(_) | Object::SignalFd(_)
            )
    }

    /// True for objects that have a file offset (lseek works).
    pub fn seekable(&self) -> bool {
        matches!(
            self.object,
            Object::Host(_) | Object::Null | Object::Zero | Object::Random | Object::Proc(_)
        )
    }
}

fn write_all_flush(w: &mut impl Write, data: &[u8]) -> Result<usize, Errno> {
    w.write_all(data)?;
    w.flush()?;
    Ok(data.len())
}

/// One slot of the fd table: the description and the close-on-exec flag
/// (which belongs to the descriptor, not the description).
#[derive(Debug, Clone)]
pub struct FdEntry {
    pub file: FileRef,
    pub cloexec: bool,
}

/// A process's file descriptor table (Linux's files_struct): a handle,
/// shared by the processes cloned with CLONE_FILES (and by a group's
/// threads, through their `Process`). [`FdTable::copy`] is dup_fd, what
/// fork gives the child; [`FdTable::share`] another handle to the same
/// table. Only one thread runs at a time and no method lends out a
/// reference into the table, so a borrow never meets another.
#[derive(Debug, Default)]
pub struct FdTable {
    slots: Rc<RefCell<Vec<Option<FdEntry>>>>,
}

/// Default RLIMIT_NOFILE soft limit.
pub const NOFILE_DEFAULT: u64 = 1024;

impl FdTable {
    /// A table with the host's standard streams as fds 0, 1 and 2.
    pub fn with_stdio() -> Self {
        let t = FdTable::default();
        for (object, flags, name) in [
            (Object::Stdin, oflag::O_RDONLY, "/dev/stdin"),
            (Object::Stdout, oflag::O_WRONLY, "/dev/stdout"),
            (Object::Stderr, oflag::O_WRONLY, "/dev/stderr"),
        ] {
            t.slots.borrow_mut().push(Some(FdEntry {
                file: OpenFile::new(object, flags, name),
                cloexec: false,
            }));
        }
        t
    }

    /// A copy of the table (dup_fd: fork without CLONE_FILES, and exec's
    /// unshare_files): the same open file descriptions in new slots.
    pub fn copy(&self) -> Self {
        FdTable {
            slots: Rc::new(RefCell::new(self.slots.borrow().clone())),
        }
    }

    /// Another handle to this very table (CLONE_FILES).
    pub fn share(&self) -> Self {
        FdTable {
            slots: Rc::clone(&self.slots),
        }
    }

    /// Whether another process uses this table too.
    pub fn is_shared(&self) -> bool {
        Rc::strong_count(&self.slots) > 1
    }

    /// The entry at `fd` (a copy: the description is shared).
    pub fn get(&self, fd: i32) -> Result<FdEntry, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.borrow().get(i).cloned())
            .flatten()
            .ok_or(Errno::EBADF)
    }

    pub fn file(&self, fd: i32) -> Result<FileRef, Errno> {
        Ok(self.get(fd)?.file)
    }

    /// Installs `entry` at the lowest free descriptor >= `min` below `limit`.
    pub fn install(&mut self, entry: FdEntry, min: usize, limit: u64) -> Result<i32, Errno> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut slots = self.slots.borrow_mut();
        let free = (min..limit).find(|&i| slots.get(i).is_none_or(Option::is_none));
        let i = free.ok_or(Errno::EMFILE)?;
        if i >= slots.len() {
            slots.resize(i + 1, None);
        }
        slots[i] = Some(entry);
        Ok(i as i32)
    }

    /// Installs `entry` at exactly `fd` (dup3), closing what was there.
    pub fn install_at(&mut self, fd: i32, entry: FdEntry, limit: u64) -> Result<(), Errno> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        if i as u64 >= limit {
            return Err(Errno::EBADF);
        }
        // What was there is dropped after the borrow ends (closing a pipe
        // end may look at nothing here, but keep drops outside anyway).
        let old = {
            let mut slots = self.slots.borrow_mut();
            if i >= slots.len() {
                slots.resize(i + 1, None);
            }
            slots[i].replace(entry)
        };
        drop(old);
        Ok(())
    }

    pub fn close(&mut self, fd: i32) -> Result<(), Errno> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        let old = self.slots.borrow_mut().get_mut(i).and_then(Option::take);
        old.map(drop).ok_or(Errno::EBADF)
    }

    pub fn set_cloexec(&mut self, fd: i32, on: bool) -> Result<(), Errno> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        match self.slots.borrow_mut().get_mut(i) {
            Some(Some(e)) => {
                e.cloexec = on;
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }

    /// The open descriptors, in increasing order.
    pub fn open_fds(&self) -> Vec<i32> {
        self.slots
            .borrow()
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| i as i32)
            .collect()
    }

    /// The table's size: one more than the highest slot ever used.
    pub fn size(&self) -> usize {
        self.slots.borrow().len()
    }

    /// Closes every close-on-exec descriptor (execve).
    pub fn close_on_exec(&mut self) {
        let mut closed = Vec::new();
        for slot in self.slots.borrow_mut().iter_mut() {
            if slot.as_ref().is_some_and(|e| e.cloexec) {
                closed.extend(slot.take());
            }
        }
        drop(closed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dup_shares_the_offset_of_one_description() {
        let mut t = FdTable::with_stdio();
        let f = OpenFile::new(Object::Null, oflag::O_RDWR, "/dev/null");
        let a = t
            .install(
                FdEntry {
                    file: f,
                    cloexec: false,
                },
                0,
                1024,
            )
            .unwrap();
        assert_eq!(a, 3);
        let b = t.install(t.get(a).unwrap().clone(), 0, 1024).unwrap();
        assert_eq!(b, 4);
        t.file(a).unwrap().borrow_mut().offset = 77;
        assert_eq!(t.file(b).unwrap().borrow().offset, 77);
    }

    #[test]
    fn copied_table_shares_descriptions_but_not_slots() {
        let mut parent = FdTable::with_stdio();
        let child = parent.copy();
        parent.close(1).unwrap();
        assert!(
            child.get(1).is_ok(),
            "closing in the parent leaves the child's fd"
        );
        assert!(Rc::ptr_eq(
            &child.file(0).unwrap(),
            &parent.file(0).unwrap()
        ));
        assert!(!parent.is_shared());
    }

    #[test]
    fn shared_table_sees_every_change_until_copied() {
        // clone(CLONE_FILES), then the child execs (unshare_files).
        let mut parent = FdTable::with_stdio();
        let mut child = parent.share();
        assert!(parent.is_shared());
        child.close(1).unwrap();
        assert_eq!(parent.get(1).err(), Some(Errno::EBADF));
        let e = parent.get(0).unwrap();
        assert_eq!(parent.install(e, 0, 1024), Ok(1));
        assert!(child.get(1).is_ok(), "the child sees the parent's new fd");
        child = child.copy();
        assert!(!parent.is_shared());
        parent.close(2).unwrap();
        assert!(child.get(2).is_ok(), "a copy no longer follows");
    }

    #[test]
    fn lowest_free_descriptor_is_used_and_limit_enforced() {
        let mut t = FdTable::with_stdio();
        t.close(1).unwrap();
        let e = t.get(0).unwrap().clone();
        assert_eq!(t.install(e.clone(), 0, 1024), Ok(1));
        assert_eq!(t.install(e.clone(), 10, 1024), Ok(10));
        assert_eq!(t.install(e, 0, 4), Ok(3));
        assert_eq!(
            t.install(t.get(0).unwrap().clone(), 0, 4),
            Err(Errno::EMFILE)
        );
        assert_eq!(t.close(99), Err(Errno::EBADF));
        assert_eq!(t.close(-1), Err(Errno::EBADF));
    }

    #[test]
    fn cloexec_descriptors_close_at_exec() {
        let mut t = FdTable::with_stdio();
        t.set_cloexec(2, true).unwrap();
        t.close_on_exec();
        assert!(t.get(1).is_ok());
        assert_eq!(t.get(2).err(), Some(Errno::EBADF));
    }

    #[test]
    fn access_mode_is_enforced() {
        let f = OpenFile::new(Object::Zero, oflag::O_WRONLY, "/dev/zero");
        assert_eq!(f.borrow_mut().read(&mut [0; 4]), Err(Errno::EBADF));
        let f = OpenFile::new(Object::Zero, oflag::O_RDONLY, "/dev/zero");
        assert_eq!(f.borrow_mut().write(b"x"), Err(Errno::EBADF));
        let mut buf = [9u8; 4];
        assert_eq!(f.borrow_mut().read(&mut buf), Ok(4));
        assert_eq!(buf, [0; 4]);
    }
}
