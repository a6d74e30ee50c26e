//! Random operation sequences checked against a reference model in which
//! each process is a plain map from page to contents.
//!
//! Each process also has an emulated CPU TLB that caches translations until
//! `tlb_generation()` changes: if the memory system forgot to bump it when a
//! PTE lost permission or changed frame, the stale entry would read or write
//! the wrong frame and the comparison with the model would fail.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use common::*;
use cowix_mm::FileSource as _;
use cowix_mm::{
    check_invariants, reclaim, Access, AddressSpace, Advice, Backing, FaultError, ForkMode,
    FrameId, MapFlags, MmError, OnFork, PhysMem, Prot, RemapFlags, SegvCode, SwapFile, VmaName,
    PAGE_SIZE,
};

/// xorshift64*: small, deterministic, good enough for test sequences.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const PAGE: usize = PAGE_SIZE as usize;
const WINDOW: u64 = 0x1000_0000;
const WINDOW_PAGES: u64 = 48;

/// A backing object of the model: a file or a shared anonymous object.
enum Object {
    File(Rc<MemFile>),
    /// A shared anonymous object of this many pages (shmem: a grown
    /// mapping's pages beyond it are SIGBUS, as on Linux).
    SharedAnon(u64),
}

/// What a page of the model holds.
#[derive(Clone, Debug)]
enum Content {
    /// Private anonymous, never written.
    Zero,
    /// Private, written: the process's own bytes.
    Owned(Vec<u8>),
    /// A page of an object: private and not yet written, or shared.
    View { obj: usize, index: u64 },
}

#[derive(Clone, Debug)]
struct Page {
    prot: Prot,
    shared: bool,
    content: Content,
    /// The object page behind it (file or shared anonymous), `None` for
    /// private anonymous memory: what MADV_DONTNEED goes back to.
    origin: Option<(usize, u64)>,
    /// MADV_DONTFORK / MADV_WIPEONFORK.
    on_fork: OnFork,
}

impl Page {
    /// What the page reads as with no private copy (after MADV_DONTNEED,
    /// or in a new part of a grown mapping).
    fn pristine(&self) -> Content {
        match self.origin {
            Some((obj, index)) => Content::View { obj, index },
            None => Content::Zero,
        }
    }
}

/// Objects and the pages of them written through shared mappings.
struct Objects {
    objects: Vec<Object>,
    written: HashMap<(usize, u64), Vec<u8>>,
}

impl Objects {
    /// The current bytes of page `index` of `obj`, or `Err(Bus)` beyond EOF.
    fn page(&self, obj: usize, index: u64) -> Result<Vec<u8>, FaultError> {
        if let Some(bytes) = self.written.get(&(obj, index)) {
            return Ok(bytes.clone());
        }
        match &self.objects[obj] {
            Object::SharedAnon(pages) if index < *pages => Ok(vec![0; PAGE]),
            Object::SharedAnon(_) => Err(FaultError::Bus),
            Object::File(file) => {
                let start = index as usize * PAGE;
                if start >= file.data.len() {
                    return Err(FaultError::Bus);
                }
                let mut bytes = vec![0; PAGE];
                let n = PAGE.min(file.data.len() - start);
                bytes[..n].copy_from_slice(&file.data[start..start + n]);
                Ok(bytes)
            }
        }
    }
}

struct Proc {
    asp: AddressSpace,
    model: BTreeMap<u64, Page>,
    tlb: HashMap<(u64, u8), FrameId>,
    tlb_generation: u64,
}

impl Proc {
    fn sync_tlb(&mut self) {
        if self.tlb_generation != self.asp.tlb_generation() {
            self.tlb.clear();
            self.tlb_generation = self.asp.tlb_generation();
        }
    }

    /// What the emulated CPU does: TLB, else translate, else fault and translate.
    fn frame(
        &mut self,
        pm: &mut PhysMem,
        page: u64,
        access: Access,
    ) -> Result<FrameId, FaultError> {
        self.sync_tlb();
        let key = (page, access as u8);
        if let Some(&frame) = self.tlb.get(&key) {
            return Ok(frame);
        }
        let frame = match self.asp.translate(pm, page, access) {
            Some(frame) => frame,
            None => {
                self.asp.handle_fault(pm, page, access)?;
                self.asp
                    .translate(pm, page, access)
                    .expect("translate fails after a resolved fault")
            }
        };
        self.sync_tlb();
        self.tlb.insert(key, frame);
        Ok(frame)
    }

    /// The model's answer for an access: the page's bytes or the signal.
    fn expect(&self, objects: &Objects, page: u64, access: Access) -> Result<Vec<u8>, FaultError> {
        let Some(p) = self.model.get(&page) else {
            return Err(FaultError::Segv(SegvCode::MapErr));
        };
        if !p.prot.allows(access) {
            return Err(FaultError::Segv(SegvCode::AccErr));
        }
        match &p.content {
            Content::Zero => Ok(vec![0; PAGE]),
            Content::Owned(bytes) => Ok(bytes.clone()),
            Content::View { obj, index } => objects.page(*obj, *index),
        }
    }
}

const PROTS: [Prot; 10] = [
    Prot::READ_WRITE,
    Prot::READ_WRITE,
    Prot::READ_WRITE,
    Prot::NONE,
    Prot::READ,
    Prot::READ_WRITE,
    Prot::READ_EXEC,
    Prot::ALL,
    Prot::EXEC,
    Prot {
        read: false,
        write: true,
        exec: false,
    },
];

struct World {
    rng: Rng,
    pm: PhysMem,
    procs: Vec<Proc>,
    objects: Objects,
    steps: u64,
    /// Memory small enough to force swapping, with a swap area.
    swap: bool,
}

impl World {
    fn new(seed: u64) -> World {
        let mut rng = Rng::new(seed);
        let swap = seed % 3 == 1;
        let max_frames = match seed % 3 {
            0 => 26,
            1 => 34,
            _ => 100_000,
        };
        let mut pm = PhysMem::new(max_frames);
        if swap {
            let dev = SwapFile::create(&std::env::temp_dir(), 1024 * PAGE_SIZE).unwrap();
            pm.enable_swap(Box::new(dev));
        }
        let asp = AddressSpace::new(&mut pm).unwrap();
        let files = vec![
            Object::File(MemFile::patterned(100, PAGE * 3 + 1234, rng.next() as u8)),
            Object::File(MemFile::patterned(101, PAGE * 8, rng.next() as u8)),
        ];
        let proc = Proc {
            asp,
            model: BTreeMap::new(),
            tlb: HashMap::new(),
            tlb_generation: 0,
        };
        World {
            rng,
            pm,
            procs: vec![proc],
            objects: Objects {
                objects: files,
                written: HashMap::new(),
            },
            steps: 0,
            swap,
        }
    }

    /// Reclaims over every process, as the kernel does when a fault runs
    /// out of frames. Returns the frames freed.
    fn reclaim(&mut self, want: u64) -> u64 {
        let mut spaces: Vec<&mut AddressSpace> =
            self.procs.iter_mut().map(|p| &mut p.asp).collect();
        reclaim(&mut self.pm, &mut spaces, want)
    }

    fn check(&self) {
        let spaces: Vec<&AddressSpace> = self.procs.iter().map(|p| &p.asp).collect();
        check_invariants(&self.pm, &spaces);
    }

    /// A page address to operate on: mostly a mapped page, sometimes any
    /// page of the window.
    fn target(&mut self, p: usize, mapped_percent: u64) -> u64 {
        let model = &self.procs[p].model;
        if !model.is_empty() && self.rng.percent(mapped_percent) {
            let n = self.rng.below(model.len() as u64) as usize;
            *model.keys().nth(n).unwrap()
        } else {
            WINDOW + self.rng.below(WINDOW_PAGES) * PAGE_SIZE
        }
    }

    fn step(&mut self) {
        self.steps += 1;
        let p = self.rng.below(self.procs.len() as u64) as usize;
        match self.rng.below(100) {
            0..=12 => self.op_mmap(p),
            13..=18 => self.op_munmap(p),
            19..=25 => self.op_mprotect(p),
            26..=31 => self.op_madvise(p),
            32..=36 => self.op_mremap(p),
            37..=84 => self.op_access(p),
            85..=91 => self.op_fork(p),
            92..=95 => self.op_exit(p),
            98 => self.op_msync(p),
            96 | 97 if self.swap => {
                let want = 1 + self.rng.below(40);
                self.reclaim(want);
            }
            _ => {
                self.pm.drop_clean_cache();
            }
        }
        self.check();
    }

    fn op_mmap(&mut self, p: usize) {
        let npages = 1 + self.rng.below(6);
        let prot = self.rng.pick(&PROTS);
        let fixed = self.rng.percent(70);
        let addr = if fixed {
            WINDOW + self.rng.below(WINDOW_PAGES) * PAGE_SIZE
        } else {
            0
        };
        let kind = self.rng.below(100);
        let shared = (35..50).contains(&kind) || kind >= 80;
        let (backing, file_obj, offset) = if kind < 50 {
            (Backing::Anonymous, None, 0)
        } else {
            let obj = self.rng.below(2) as usize;
            let offset = self.rng.below(5) * PAGE_SIZE;
            let Object::File(file) = &self.objects.objects[obj] else {
                unreachable!()
            };
            (file_backing(file, offset), Some(obj), offset)
        };
        let flags = MapFlags {
            fixed,
            shared,
            ..PRIVATE
        };
        let proc = &mut self.procs[p];
        let start = proc.asp.mmap(
            &mut self.pm,
            addr,
            npages * PAGE_SIZE,
            prot,
            flags,
            backing,
            VmaName::Anonymous,
        );
        if let Err(e) = start {
            // Only a shared leaf table that could not be copied.
            assert_eq!(e, MmError::OutOfMemory, "mmap in the window");
            return;
        }
        let start = start.unwrap();
        if fixed {
            assert_eq!(start, addr);
        } else {
            assert!(
                proc.model
                    .range(start..start + npages * PAGE_SIZE)
                    .next()
                    .is_none(),
                "placed over a mapping"
            );
        }
        let shared_anon = if shared && file_obj.is_none() {
            self.objects.objects.push(Object::SharedAnon(npages));
            Some(self.objects.objects.len() - 1)
        } else {
            None
        };
        for i in 0..npages {
            let origin = match (file_obj.or(shared_anon), file_obj) {
                (None, _) => None,
                (Some(obj), Some(_)) => Some((obj, offset / PAGE_SIZE + i)),
                (Some(obj), None) => Some((obj, i)),
            };
            let page = Page {
                prot,
                shared,
                content: Content::Zero,
                origin,
                on_fork: OnFork::Copy,
            };
            let content = page.pristine();
            proc.model
                .insert(start + i * PAGE_SIZE, Page { content, ..page });
        }
    }

    fn op_munmap(&mut self, p: usize) {
        let start = self.target(p, 60);
        let len = (1 + self.rng.below(6)) * PAGE_SIZE;
        let proc = &mut self.procs[p];
        match proc.asp.munmap(&mut self.pm, start, len) {
            Ok(()) => {}
            Err(MmError::OutOfMemory) => return, // a shared leaf table to copy
            Err(e) => panic!("munmap: {e:?}"),
        }
        let doomed: Vec<u64> = proc
            .model
            .range(start..start + len)
            .map(|(&k, _)| k)
            .collect();
        for k in doomed {
            proc.model.remove(&k);
        }
    }

    fn op_mprotect(&mut self, p: usize) {
        let start = self.target(p, 60);
        let npages = 1 + self.rng.below(6);
        let prot = self.rng.pick(&PROTS);
        let proc = &mut self.procs[p];
        let result = proc
            .asp
            .mprotect(&mut self.pm, start, npages * PAGE_SIZE, prot);
        let all_mapped = (0..npages).all(|i| proc.model.contains_key(&(start + i * PAGE_SIZE)));
        if result == Err(MmError::OutOfMemory) {
            return; // a shared leaf table to copy
        }
        if all_mapped {
            assert_eq!(result, Ok(()));
            for i in 0..npages {
                proc.model.get_mut(&(start + i * PAGE_SIZE)).unwrap().prot = prot;
            }
        } else {
            assert_eq!(result, Err(cowix_mm::MmError::NoMemory));
        }
    }

    fn op_access(&mut self, p: usize) {
        let page = self.target(p, 90);
        let offset = self.rng.below(PAGE_SIZE) as usize;
        let len = 1 + self.rng.below(16.min(PAGE_SIZE - offset as u64)) as usize;
        let access = match self.rng.below(10) {
            0..=3 => Access::Read,
            4..=8 => Access::Write,
            _ => Access::Execute,
        };
        let expected = self.procs[p].expect(&self.objects, page, access);
        let mut got = self.procs[p].frame(&mut self.pm, page, access);
        if self.swap && got == Err(FaultError::OutOfMemory) && self.reclaim(8) > 0 {
            got = self.procs[p].frame(&mut self.pm, page, access);
        }
        let proc = &mut self.procs[p];
        let frame = match (got, &expected) {
            (Err(FaultError::OutOfMemory), Ok(_) | Err(FaultError::Bus)) => return,
            (Err(e), Err(x)) => {
                assert_eq!(e, *x, "step {}: {access:?} at {page:#x}", self.steps);
                return;
            }
            (got, expected) => {
                let frame = got.unwrap_or_else(|e| {
                    panic!(
                        "step {}: {access:?} at {page:#x}: got {e:?}; model {:?}; vma {:x?}",
                        self.steps,
                        proc.model.get(&page),
                        proc.asp.find_vma(page)
                    )
                });
                assert!(
                    expected.is_ok(),
                    "step {}: {access:?} at {page:#x} succeeded, model says {expected:?}",
                    self.steps
                );
                frame
            }
        };
        let expected = expected.unwrap();
        if access != Access::Write {
            assert_eq!(
                &self.pm.bytes(frame)[offset..offset + len],
                &expected[offset..offset + len],
                "step {}: {access:?} at {page:#x}+{offset:#x} ({:?})",
                self.steps,
                proc.model[&page]
            );
            return;
        }
        // Bytes past end of file in a file's last page are never written
        // back, so they read as zeros again once the page was evicted (as in
        // Linux): the model does not write there.
        let len = match &proc.model[&page].content {
            Content::View { obj, index } => match &self.objects.objects[*obj] {
                Object::File(file) => {
                    let eof = file.data.len() as u64;
                    let in_file = eof.saturating_sub(index * PAGE_SIZE).min(PAGE_SIZE) as usize;
                    len.min(in_file.saturating_sub(offset))
                }
                Object::SharedAnon(_) => len,
            },
            _ => len,
        };
        let data: Vec<u8> = (0..len).map(|_| self.rng.next() as u8).collect();
        self.pm.bytes_mut(frame)[offset..offset + len].copy_from_slice(&data);
        let entry = proc.model.get_mut(&page).unwrap();
        let mut bytes = expected;
        bytes[offset..offset + len].copy_from_slice(&data);
        match (&entry.content, entry.shared) {
            (Content::View { obj, index }, true) => {
                self.objects.written.insert((*obj, *index), bytes);
            }
            _ => entry.content = Content::Owned(bytes),
        }
    }

    /// msync of a random range: ENOMEM exactly when a page is unmapped.
    /// The contents the model expects do not change.
    fn op_msync(&mut self, p: usize) {
        let start = self.target(p, 60);
        let npages = 1 + self.rng.below(6);
        let proc = &mut self.procs[p];
        let result = proc.asp.msync(&mut self.pm, start, npages * PAGE_SIZE);
        let all_mapped = (0..npages).all(|i| proc.model.contains_key(&(start + i * PAGE_SIZE)));
        if all_mapped {
            assert_eq!(result, Ok(()), "step {}: msync at {start:#x}", self.steps);
        } else {
            assert_eq!(result, Err(cowix_mm::MmError::NoMemory));
        }
    }

    fn op_fork(&mut self, p: usize) {
        if self.procs.len() >= 4 {
            return;
        }
        let mode = self.rng.pick(&ForkMode::ALL);
        let parent = &mut self.procs[p];
        match parent.asp.fork(&mut self.pm, mode) {
            Ok(asp) => {
                let model = parent
                    .model
                    .iter()
                    .filter(|(_, page)| matches!(page.on_fork, OnFork::Copy | OnFork::Wipe))
                    .map(|(&va, page)| {
                        let mut page = page.clone();
                        if page.on_fork == OnFork::Wipe {
                            page.content = Content::Zero;
                        }
                        (va, page)
                    })
                    .collect();
                self.procs.push(Proc {
                    asp,
                    model,
                    tlb: HashMap::new(),
                    tlb_generation: 0,
                });
            }
            Err(e) => assert_eq!(e, cowix_mm::MmError::OutOfMemory),
        }
    }

    fn op_madvise(&mut self, p: usize) {
        let start = self.target(p, 70);
        let npages = 1 + self.rng.below(6);
        let end = start + npages * PAGE_SIZE;
        let advice = self.rng.pick(&[
            Advice::DontNeed,
            Advice::DontNeed,
            Advice::Free,
            Advice::DontFork,
            Advice::DoFork,
            Advice::WipeOnFork,
            Advice::WipeOnFork,
            Advice::KeepOnFork,
            Advice::Hint,
        ]);
        let proc = &mut self.procs[p];
        let result = proc
            .asp
            .madvise(&mut self.pm, start, npages * PAGE_SIZE, advice);
        if result == Err(MmError::OutOfMemory) {
            // A shared leaf table could not be copied: the pages before
            // were dropped, which the model cannot know. Read the truth
            // back for the range into the model (contents only).
            let pages: Vec<u64> = proc.model.range(start..end).map(|(&k, _)| k).collect();
            self.pm.set_max_frames(100_000);
            for va in pages {
                let page = proc.model.get_mut(&va).unwrap();
                if page.shared {
                    continue;
                }
                let mut buf = vec![0; PAGE];
                if !page.prot.allows(Access::Read) {
                    continue;
                }
                if proc.asp.read_bytes(&mut self.pm, va, &mut buf).is_ok() {
                    let pristine = page.pristine();
                    let now_pristine = match &pristine {
                        Content::Zero => buf.iter().all(|&b| b == 0),
                        Content::View { obj, index } => {
                            self.objects.page(*obj, *index).is_ok_and(|b| b == buf)
                        }
                        Content::Owned(_) => unreachable!(),
                    };
                    page.content = if now_pristine {
                        pristine
                    } else {
                        Content::Owned(buf)
                    };
                }
            }
            return;
        }
        if std::env::var_os("MODEL_TRACE").is_some() {
            eprintln!(
                "step {} p{p}: madvise {start:#x}+{npages} {advice:?} = {result:?}",
                self.steps
            );
        }
        let needs_private_anon = matches!(advice, Advice::WipeOnFork | Advice::Free);
        let mut expected = Ok(());
        let mut at = start;
        let pages: Vec<u64> = proc.model.range(start..end).map(|(&k, _)| k).collect();
        for va in pages {
            let page = proc.model.get_mut(&va).unwrap();
            if needs_private_anon && (page.shared || page.origin.is_some()) {
                expected = Err(MmError::InvalidArgument);
                break;
            }
            if va > at {
                expected = Err(MmError::NoMemory);
            }
            at = va + PAGE_SIZE;
            match advice {
                Advice::DontNeed | Advice::Free if !page.shared => page.content = page.pristine(),
                // VM_DONTCOPY and VM_WIPEONFORK are two independent flags.
                Advice::DontFork | Advice::DoFork | Advice::WipeOnFork | Advice::KeepOnFork => {
                    let (mut skip, mut wipe) = match page.on_fork {
                        OnFork::Copy => (false, false),
                        OnFork::Skip => (true, false),
                        OnFork::Wipe => (false, true),
                        OnFork::SkipWipe => (true, true),
                    };
                    match advice {
                        Advice::DontFork => skip = true,
                        Advice::DoFork => skip = false,
                        Advice::WipeOnFork => wipe = true,
                        _ => wipe = false,
                    }
                    page.on_fork = match (skip, wipe) {
                        (false, false) => OnFork::Copy,
                        (true, false) => OnFork::Skip,
                        (false, true) => OnFork::Wipe,
                        (true, true) => OnFork::SkipWipe,
                    };
                }
                _ => {}
            }
        }
        if expected.is_ok() && at < end {
            expected = Err(MmError::NoMemory);
        }
        assert_eq!(
            result, expected,
            "step {}: madvise {advice:?} {start:#x}+{npages}",
            self.steps
        );
    }

    fn op_mremap(&mut self, p: usize) {
        let addr = self.target(p, 85);
        let old_len = (1 + self.rng.below(4)) * PAGE_SIZE;
        let mut new_len = (1 + self.rng.below(6)) * PAGE_SIZE;
        let may_move = self.rng.percent(70);
        let fixed = may_move && self.rng.percent(30);
        let dont_unmap = may_move && self.rng.percent(10);
        if dont_unmap {
            new_len = old_len;
        }
        let new_addr = WINDOW + self.rng.below(WINDOW_PAGES) * PAGE_SIZE;
        let flags = RemapFlags {
            may_move,
            fixed,
            dont_unmap,
        };
        let proc = &mut self.procs[p];
        let vma = proc.asp.find_vma(addr).cloned();
        let result = proc
            .asp
            .mremap(&mut self.pm, addr, old_len, new_len, flags, new_addr);
        if std::env::var_os("MODEL_TRACE").is_some() {
            eprintln!("step {} p{p}: mremap {addr:#x} {old_len:#x}->{new_len:#x} {flags:?} {new_addr:#x} = {result:x?} vma {:x?}", self.steps, vma.as_ref().map(|v| (v.start, v.end)));
        }
        let dest = match result {
            Ok(dest) => dest,
            Err(MmError::OutOfMemory) => return,
            Err(e) => {
                let overlap = addr < new_addr + new_len && new_addr < addr + old_len;
                let ok = match e {
                    MmError::Fault => vma.as_ref().is_none_or(|v| {
                        addr + old_len.min(if fixed { new_len } else { old_len }) > v.end
                    }),
                    MmError::InvalidArgument => fixed && overlap,
                    MmError::NoMemory => !may_move || fixed,
                    _ => false,
                };
                assert!(ok, "step {}: mremap {addr:#x} {old_len:#x}->{new_len:#x} {flags:?} {new_addr:#x}: {e:?} (vma {vma:?})", self.steps);
                return;
            }
        };
        let vma = vma.expect("mremap succeeded without a vma");
        if old_len > new_len {
            let tail: Vec<u64> = proc
                .model
                .range(addr + new_len..addr + old_len)
                .map(|(&k, _)| k)
                .collect();
            for k in tail {
                proc.model.remove(&k);
            }
        }
        if !fixed && !dont_unmap && old_len >= new_len {
            assert_eq!(dest, addr, "a shrink stays in place");
            return;
        }
        // The pages as they were, and the template for new ones.
        let first = proc.model[&addr].clone();
        let moved = old_len.min(new_len);
        let old: Vec<(u64, Page)> = proc
            .model
            .range(addr..addr + moved)
            .map(|(&k, v)| (k, v.clone()))
            .collect();
        assert_eq!(
            old.len() as u64,
            moved / PAGE_SIZE,
            "moved range in the model"
        );
        // What goes away for a move: the old range (unless dont_unmap)
        // and whatever was at a fixed destination.
        if dest != addr {
            for (va, _) in &old {
                if dont_unmap {
                    let page = proc.model.get_mut(va).unwrap();
                    page.content = page.pristine();
                } else {
                    proc.model.remove(va);
                }
            }
            let doomed: Vec<u64> = proc
                .model
                .range(dest..dest + new_len)
                .map(|(&k, _)| k)
                .collect();
            for k in doomed {
                proc.model.remove(&k);
            }
            for (va, page) in old {
                proc.model.insert(va - addr + dest, page);
            }
        }
        let _ = vma;
        for i in moved / PAGE_SIZE..new_len / PAGE_SIZE {
            let mut page = first.clone();
            page.origin = first.origin.map(|(obj, index)| (obj, index + i));
            page.content = page.pristine();
            proc.model.insert(dest + i * PAGE_SIZE, page);
        }
    }

    fn op_exit(&mut self, p: usize) {
        if self.procs.len() > 1 {
            let proc = self.procs.swap_remove(p);
            proc.asp.release(&mut self.pm);
        }
    }

    /// Reads every mapped page of every process in full, then tears down.
    fn finish(mut self) {
        self.pm.set_max_frames(100_000);
        for p in 0..self.procs.len() {
            let pages: Vec<u64> = self.procs[p].model.keys().copied().collect();
            for page in pages {
                let proc = &mut self.procs[p];
                let expected = proc.expect(&self.objects, page, Access::Read);
                match (proc.frame(&mut self.pm, page, Access::Read), expected) {
                    (Ok(frame), Ok(bytes)) => assert_eq!(
                        &self.pm.bytes(frame)[..],
                        &bytes[..],
                        "final read at {page:#x}"
                    ),
                    (Err(e), Err(x)) => assert_eq!(e, x, "final read at {page:#x}"),
                    (got, want) => panic!("final read at {page:#x}: got {got:?}, model {want:?}"),
                }
            }
        }
        self.check();
        for proc in self.procs.drain(..) {
            proc.asp.release(&mut self.pm);
        }
        check_invariants(&self.pm, &[]);
        assert_eq!(self.pm.swap_info().used_slots, 0, "a swap slot leaked");
        // Every write through a shared mapping reached the file (write-back
        // at munmap, exit, reclaim), up to end of file.
        for (&(obj, index), bytes) in &self.objects.written {
            let Object::File(file) = &self.objects.objects[obj] else {
                continue;
            };
            let mut on_disk = vec![0u8; PAGE];
            let n = file.read_at(index * PAGE_SIZE, &mut on_disk).unwrap();
            assert_eq!(
                &on_disk[..n],
                &bytes[..n],
                "file {obj} page {index} was not written back"
            );
        }
        self.pm.drop_clean_cache();
        let dirty = self
            .pm
            .page_cache()
            .pages()
            .filter(|(_, _, page)| page.dirty)
            .count() as u64;
        assert_eq!(
            self.pm.stats().frames_in_use,
            dirty,
            "only dirty file pages outlive every process"
        );
        assert!(self
            .pm
            .page_cache()
            .pages()
            .all(|(id, _, _)| id.0 != cowix_mm::SHARED_ANON_DEV));
    }
}

fn run(seed: u64, steps: usize) {
    let mut world = World::new(seed);
    for _ in 0..steps {
        world.step();
    }
    world.finish();
}

/// `MODEL_SEEDS=N` runs N seeds instead of 150 (e.g. 3000 in release
/// mode, about a minute).
#[test]
fn random_sequences_match_the_reference_model() {
    for seed in 0..std::env::var("MODEL_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150u64)
    {
        run(seed, 300);
    }
}

#[test]
fn long_random_sequence_matches_the_reference_model() {
    run(0xc0ff_ee00, 5000);
    run(0xc0ff_ee02, 5000); // seed % 3 == 2: no memory limit
}

/// Guards the two tests above against going weak: the random sequences must
/// reach every way a fault can be resolved or refused, and memory pressure.
#[test]
fn random_sequences_reach_every_fault_path() {
    let mut total = cowix_mm::FaultCounters::default();
    let mut evictions = 0;
    let mut swap_outs = 0;
    let (mut shared, mut copies, mut drops) = (0, 0, 0);
    for seed in 0..30 {
        let mut world = World::new(seed);
        for _ in 0..300 {
            world.step();
        }
        let f = world.pm.stats().faults;
        evictions += world.pm.stats().page_cache_evictions;
        swap_outs += world.pm.stats().swap_outs;
        shared += world.pm.stats().leaf_tables_shared;
        copies += world.pm.stats().leaf_table_copies;
        drops += world.pm.stats().leaf_table_drops;
        total.zero_page += f.zero_page;
        total.zero_fill += f.zero_fill;
        total.cow_copy += f.cow_copy;
        total.cow_reuse += f.cow_reuse;
        total.file += f.file;
        total.file_cow += f.file_cow;
        total.shared_write += f.shared_write;
        total.segv += f.segv;
        total.bus += f.bus;
        total.oom += f.oom;
        total.swap_in += f.swap_in;
        world.finish();
    }
    let t = total;
    for (name, n) in [
        ("zero_page", t.zero_page),
        ("zero_fill", t.zero_fill),
        ("cow_copy", t.cow_copy),
        ("cow_reuse", t.cow_reuse),
        ("file", t.file),
        ("file_cow", t.file_cow),
        ("shared_write", t.shared_write),
        ("segv", t.segv),
        ("bus", t.bus),
        ("oom", t.oom),
        ("swap_in", t.swap_in),
        ("evictions", evictions),
        ("swap_outs", swap_outs),
        ("leaf tables shared", shared),
        ("leaf table copies", copies),
        ("leaf table drops", drops),
    ] {
        assert!(n >= 5, "{name} reached only {n} times: {t:?}");
    }
}
