//! Error types of the memory system. Each converts to a Linux errno or signal
//! once, at the kernel's system-call or trap boundary.

use std::fmt;

/// Why an mmap/munmap/mprotect/fork or a frame allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MmError {
    /// No free frame (the pool is at `max_frames` and nothing is reclaimable).
    OutOfMemory,
    /// A malformed argument (`EINVAL`): unaligned address or offset, zero length.
    InvalidArgument,
    /// `ENOMEM`-like: the range is not (fully) mapped, or there is no room.
    NoMemory,
    /// `MAP_FIXED_NOREPLACE` and the range is already in use (`EEXIST`).
    Exists,
    /// `EFAULT`: mremap of a range that is not mapped, or not in one VMA.
    Fault,
}

impl MmError {
    /// The Linux errno this error maps to (positive).
    pub fn errno(self) -> i32 {
        match self {
            MmError::OutOfMemory | MmError::NoMemory => 12, // ENOMEM
            MmError::InvalidArgument => 22,                 // EINVAL
            MmError::Exists => 17,                          // EEXIST
            MmError::Fault => 14,                           // EFAULT
        }
    }
}

impl fmt::Display for MmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MmError::OutOfMemory => "out of physical frames",
            MmError::InvalidArgument => "invalid argument",
            MmError::NoMemory => "range not mapped or no room in the address space",
            MmError::Exists => "range already mapped",
            MmError::Fault => "range not inside one mapping",
        })
    }
}

impl std::error::Error for MmError {}

/// The `si_code` of a SIGSEGV (include/uapi/asm-generic/siginfo.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegvCode {
    /// `SEGV_MAPERR`: no mapping at the address.
    MapErr,
    /// `SEGV_ACCERR`: a mapping exists but forbids the access.
    AccErr,
}

impl SegvCode {
    /// The numeric `si_code` value.
    pub fn si_code(self) -> i32 {
        match self {
            SegvCode::MapErr => 1,
            SegvCode::AccErr => 2,
        }
    }
}

/// A fault that could not be resolved: what Linux would do to the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultError {
    /// Deliver SIGSEGV with this code.
    Segv(SegvCode),
    /// Deliver SIGBUS (`BUS_ADRERR`): a file page wholly beyond end of file,
    /// or an I/O error reading it (mm/filemap.c:filemap_fault()).
    Bus,
    /// No frame to resolve the fault with; the kernel kills the process
    /// (VM_FAULT_OOM).
    OutOfMemory,
}

impl fmt::Display for FaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultError::Segv(SegvCode::MapErr) => f.write_str("SIGSEGV (SEGV_MAPERR)"),
            FaultError::Segv(SegvCode::AccErr) => f.write_str("SIGSEGV (SEGV_ACCERR)"),
            FaultError::Bus => f.write_str("SIGBUS (BUS_ADRERR)"),
            FaultError::OutOfMemory => f.write_str("out of memory during fault"),
        }
    }
}

impl std::error::Error for FaultError {}

impl From<MmError> for FaultError {
    /// Only frame exhaustion can happen inside a fault; anything else is a
    /// kernel bug.
    fn from(e: MmError) -> Self {
        match e {
            MmError::OutOfMemory => FaultError::OutOfMemory,
            other => panic!("FaultError::from: unexpected {other:?} during a fault"),
        }
    }
}
