//! Pipes (fs/pipe.c): a 64 KiB ring buffer shared by a read end and a write
//! end.
//!
//! Each end is held by an open file description ([`crate::fd::Object::PipeRead`],
//! [`crate::fd::Object::PipeWrite`]); when the last description of an end is
//! dropped (every fd referring to it closed, in every process), the end's
//! count falls and the other side sees EOF (no writers) or EPIPE (no
//! readers). Blocking is the syscall layer's business: this module only says
//! "would block" with `EAGAIN`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::errno::Errno;

/// Default pipe capacity (`PIPE_DEF_BUFFERS * PAGE_SIZE`).
pub const PIPE_CAPACITY: usize = 64 * 1024;
/// Writes of at most this many bytes are atomic (`PIPE_BUF`, pipe(7)).
pub const PIPE_BUF: usize = 4096;

/// The buffer and how many open descriptions hold each end.
#[derive(Debug, Default)]
pub struct Pipe {
    buf: VecDeque<u8>,
    readers: usize,
    writers: usize,
    /// pipefs inode number, shown as `pipe:[N]` in /proc/PID/fd.
    id: u64,
    /// The wakeups of the write side (reads that made room in a full
    /// pipe) and of the read side (writes) that an edge-triggered epoll
    /// reports.
    pub reads: u64,
    pub writes: u64,
}

/// pipefs inode numbers, handed out in creation order (per host thread,
/// so a run numbers its pipes the same way every time).
fn next_pipe_id() -> u64 {
    thread_local!(static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(4026532000) });
    NEXT.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

impl Pipe {
    /// The pipe's inode number (`pipe:[N]`).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Reads up to `out.len()` bytes. `Ok(0)` is EOF (empty, no writers);
    /// `EAGAIN` means empty with writers left (the caller blocks or fails).
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, Errno> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.buf.is_empty() {
            return if self.writers == 0 {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let n = out.len().min(self.buf.len());
        let was_full = PIPE_CAPACITY - self.buf.len() < PIPE_BUF;
        for (o, b) in out.iter_mut().zip(self.buf.drain(..n)) {
            *o = b;
        }
        if was_full {
            // pipe_read() wakes writers only when it made room in a full pipe.
            self.reads += 1;
        }
        Ok(n)
    }

    /// Writes what fits of `data` (pipe(7)): `EPIPE` with no readers; a write
    /// of at most PIPE_BUF bytes goes in whole or not at all; a longer one
    /// takes what fits. `EAGAIN` when nothing could be written.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Errno> {
        if self.readers == 0 {
            return Err(Errno::EPIPE);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let room = PIPE_CAPACITY - self.buf.len();
        let n = if data.len() <= PIPE_BUF && room < data.len() {
            0
        } else {
            room.min(data.len())
        };
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        self.buf.extend(&data[..n]);
        self.writes += 1;
        Ok(n)
    }

    /// The poll events of one end (fs/pipe.c: pipe_poll()): the read end
    /// is readable (POLLIN) with bytes waiting and hung up (POLLHUP) with
    /// no writers left; the write end is writable (POLLOUT) with room for
    /// an atomic write and in error (POLLERR) with no readers left.
    pub fn poll(&self, write: bool) -> u16 {
        use crate::syscall::poll::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
        let mut m = 0;
        if write {
            if PIPE_CAPACITY - self.buf.len() >= PIPE_BUF {
                m |= POLLOUT | POLLWRNORM;
            }
            if self.readers == 0 {
                m |= POLLERR;
            }
        } else {
            if !self.buf.is_empty() {
                m |= POLLIN | POLLRDNORM;
            }
            if self.writers == 0 {
                m |= POLLHUP;
            }
        }
        m
    }

    /// Bytes waiting to be read (FIONREAD).
    pub fn available(&self) -> usize {
        self.buf.len()
    }
}

/// One end of a pipe; dropping it (with its open file description) closes it.
#[derive(Debug)]
pub struct PipeEnd {
    pub pipe: Rc<RefCell<Pipe>>,
    write: bool,
}

impl PipeEnd {
    /// A new pipe's read and write ends.
    pub fn pair() -> (PipeEnd, PipeEnd) {
        let pipe = Rc::new(RefCell::new(Pipe {
            buf: VecDeque::new(),
            readers: 1,
            writers: 1,
            id: next_pipe_id(),
            reads: 0,
            writes: 0,
        }));
        (
            PipeEnd {
                pipe: pipe.clone(),
                write: false,
            },
            PipeEnd { pipe, write: true },
        )
    }

    /// Another end of the same pipe (opening `/proc/PID/fd/N` of a pipe:
    /// a new open file description, for reading or for writing).
    pub fn reopen(&self, write: bool) -> PipeEnd {
        {
            let mut p = self.pipe.borrow_mut();
            if write {
                p.writers += 1;
            } else {
                p.readers += 1;
            }
        }
        PipeEnd {
            pipe: self.pipe.clone(),
            write,
        }
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut p = self.pipe.borrow_mut();
        if self.write {
            p.writers -= 1;
        } else {
            p.readers -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_blocks_while_writers_remain_then_sees_eof() {
        let (r, w) = PipeEnd::pair();
        let mut buf = [0u8; 8];
        assert_eq!(r.pipe.borrow_mut().read(&mut buf), Err(Errno::EAGAIN));
        assert_eq!(w.pipe.borrow_mut().write(b"abc"), Ok(3));
        assert_eq!(r.pipe.borrow_mut().read(&mut buf[..2]), Ok(2));
        assert_eq!(&buf[..2], b"ab");
        drop(w);
        assert_eq!(r.pipe.borrow_mut().read(&mut buf), Ok(1));
        assert_eq!(
            r.pipe.borrow_mut().read(&mut buf),
            Ok(0),
            "EOF once empty with no writer"
        );
    }

    #[test]
    fn write_without_readers_is_epipe() {
        let (r, w) = PipeEnd::pair();
        drop(r);
        assert_eq!(w.pipe.borrow_mut().write(b"x"), Err(Errno::EPIPE));
    }

    #[test]
    fn capacity_small_writes_are_atomic_large_ones_partial() {
        let (r, w) = PipeEnd::pair();
        let big = vec![7u8; PIPE_CAPACITY - 100];
        assert_eq!(w.pipe.borrow_mut().write(&big), Ok(PIPE_CAPACITY - 100));
        assert_eq!(
            w.pipe.borrow_mut().write(&[1; 200]),
            Err(Errno::EAGAIN),
            "PIPE_BUF-sized write is all or nothing"
        );
        assert_eq!(
            w.pipe.borrow_mut().write(&[1; 5000]),
            Ok(100),
            "a larger write takes what fits"
        );
        assert_eq!(w.pipe.borrow_mut().write(&[1; 5000]), Err(Errno::EAGAIN));
        assert_eq!(r.pipe.borrow().available(), PIPE_CAPACITY);
    }
}
