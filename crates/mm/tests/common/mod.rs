//! Helpers shared by the integration tests: an in-memory file and shorthands.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;

use cowix_mm::{AddressSpace, Backing, FileSource, MapFlags, PhysMem, Prot, VmaName, PAGE_SIZE};

/// A file held in memory. `reads` counts `read_at` calls; `fail` makes them error.
/// `data` is the original contents; write-back (`write_at`) lands in
/// `written` (byte offset → byte), which reads then see.
#[derive(Debug)]
pub struct MemFile {
    pub id: (u64, u64),
    pub data: Vec<u8>,
    pub reads: Cell<u64>,
    pub fail: Cell<bool>,
    pub written: RefCell<BTreeMap<u64, u8>>,
}

impl MemFile {
    pub fn new(ino: u64, data: Vec<u8>) -> Rc<MemFile> {
        Rc::new(MemFile {
            id: (1, ino),
            data,
            reads: Cell::new(0),
            fail: Cell::new(false),
            written: RefCell::new(BTreeMap::new()),
        })
    }

    /// A file of `len` bytes where byte i is `(i / PAGE_SIZE + seed) as u8 ^ (i as u8)`,
    /// so every page differs from the others and from zero.
    pub fn patterned(ino: u64, len: usize, seed: u8) -> Rc<MemFile> {
        let data = (0..len)
            .map(|i| ((i / PAGE_SIZE as usize) as u8).wrapping_add(seed) ^ (i as u8) | 1)
            .collect();
        MemFile::new(ino, data)
    }
}

impl FileSource for MemFile {
    fn id(&self) -> (u64, u64) {
        self.id
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.reads.set(self.reads.get() + 1);
        if self.fail.get() {
            return Err(io::Error::other("injected read failure"));
        }
        let start = (offset as usize).min(self.data.len());
        let n = buf.len().min(self.data.len() - start);
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        for (&at, &b) in self.written.borrow().range(offset..offset + n as u64) {
            buf[(at - offset) as usize] = b;
        }
        Ok(n)
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> io::Result<usize> {
        assert!(
            offset as usize + buf.len() <= self.data.len(),
            "MemFile::write_at: write-back past end of file"
        );
        let mut written = self.written.borrow_mut();
        for (i, &b) in buf.iter().enumerate() {
            written.insert(offset + i as u64, b);
        }
        Ok(buf.len())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.data.len() as u64)
    }
}

pub fn file_backing(file: &Rc<MemFile>, offset: u64) -> Backing {
    let file: Rc<dyn FileSource> = file.clone();
    Backing::File { file, offset }
}

pub const PRIVATE: MapFlags = MapFlags {
    fixed: false,
    fixed_noreplace: false,
    shared: false,
    grows_down: false,
    populate: false,
};
pub const SHARED: MapFlags = MapFlags {
    shared: true,
    ..PRIVATE
};
pub const FIXED: MapFlags = MapFlags {
    fixed: true,
    ..PRIVATE
};

pub fn pages(n: u64) -> u64 {
    n * PAGE_SIZE
}

/// Maps `len` bytes of private anonymous memory anywhere.
pub fn map_anon(asp: &mut AddressSpace, pm: &mut PhysMem, len: u64, prot: Prot) -> u64 {
    asp.mmap(
        pm,
        0,
        len,
        prot,
        PRIVATE,
        Backing::Anonymous,
        VmaName::Anonymous,
    )
    .expect("map_anon")
}

/// Maps `len` bytes of anonymous memory at `addr` (a hint, or the place
/// itself under `fixed`) with `flags`; the mapping must succeed.
pub fn map_anon_at(
    asp: &mut AddressSpace,
    pm: &mut PhysMem,
    addr: u64,
    len: u64,
    prot: Prot,
    flags: MapFlags,
) -> u64 {
    asp.mmap(
        pm,
        addr,
        len,
        prot,
        flags,
        Backing::Anonymous,
        VmaName::Anonymous,
    )
    .expect("map_anon_at")
}

/// Maps `len` bytes of `file` from offset 0 anywhere, private or shared as
/// `flags` say, under `name`; the mapping must succeed.
pub fn map_file(
    asp: &mut AddressSpace,
    pm: &mut PhysMem,
    len: u64,
    prot: Prot,
    flags: MapFlags,
    file: &Rc<MemFile>,
    name: VmaName,
) -> u64 {
    map_backing(asp, pm, len, prot, flags, file_backing(file, 0), name)
}

/// [`map_file`] for any `backing` (another offset, another kind of file).
pub fn map_backing(
    asp: &mut AddressSpace,
    pm: &mut PhysMem,
    len: u64,
    prot: Prot,
    flags: MapFlags,
    backing: Backing,
    name: VmaName,
) -> u64 {
    asp.mmap(pm, 0, len, prot, flags, backing, name)
        .expect("map_backing")
}

pub fn read_u8(asp: &mut AddressSpace, pm: &mut PhysMem, addr: u64) -> u8 {
    let mut b = [0u8];
    asp.read_bytes(pm, addr, &mut b).expect("read_u8");
    b[0]
}

pub fn write_u8(asp: &mut AddressSpace, pm: &mut PhysMem, addr: u64, value: u8) {
    asp.write_bytes(pm, addr, &[value]).expect("write_u8");
}
