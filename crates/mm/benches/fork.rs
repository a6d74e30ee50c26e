//! fork of an address space with N touched pages in each mode, and the
//! copy-on-write fault that follows (`cargo bench -p cowix-mm --bench fork`).

use std::hint::black_box;

use cowix_mm::{
    Access, AddressSpace, Backing, ForkMode, MapFlags, PhysMem, Prot, VmaName, PAGE_SIZE,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Maps `pages` private anonymous pages at a fixed base in `asp` and writes
/// each once; returns the base.
fn map_touched(asp: &mut AddressSpace, pm: &mut PhysMem, pages: u64) -> u64 {
    let flags = MapFlags {
        fixed: true,
        ..MapFlags::default()
    };
    let base = 0x4000_0000;
    asp.mmap(
        pm,
        base,
        pages * PAGE_SIZE,
        Prot::READ_WRITE,
        flags,
        Backing::Anonymous,
        VmaName::Anonymous,
    )
    .unwrap();
    for i in 0..pages {
        asp.write_bytes(pm, base + i * PAGE_SIZE, &[1]).unwrap();
    }
    base
}

/// A space with `pages` private anonymous pages, each written once.
fn touched(pages: u64) -> (PhysMem, AddressSpace, u64) {
    let mut pm = PhysMem::new(pages * 3 + 4096);
    let mut asp = AddressSpace::new(&mut pm).unwrap();
    let base = map_touched(&mut asp, &mut pm, pages);
    (pm, asp, base)
}

fn fork(c: &mut Criterion) {
    let mut group = c.benchmark_group("fork");
    group.sample_size(20);
    for pages in [4096u64, 65536] {
        group.throughput(Throughput::Elements(pages));
        for mode in ForkMode::ALL {
            if mode == ForkMode::Copy && pages > 4096 {
                continue;
            }
            let (mut pm, mut asp, _) = touched(pages);
            // Only the fork is timed; the child's release is not.
            group.bench_with_input(BenchmarkId::new(mode.name(), pages), &pages, |b, _| {
                b.iter_custom(|iters| {
                    let mut total = std::time::Duration::ZERO;
                    for _ in 0..iters {
                        let started = std::time::Instant::now();
                        let child = asp.fork(&mut pm, mode).unwrap();
                        total += started.elapsed();
                        child.release(&mut pm);
                    }
                    total
                })
            });
            asp.release(&mut pm);
        }
    }
    group.finish();
}

/// The first write to a page after fork, while the child holds it (one
/// pool for the whole run, so freed frames are reused as in a long-lived
/// kernel; only the faults are timed).
fn cow_fault(c: &mut Criterion) {
    let mut group = c.benchmark_group("cow_fault");
    const PAGES: u64 = 512;
    group.throughput(Throughput::Elements(PAGES));
    for mode in [ForkMode::Cow, ForkMode::ShareTables] {
        let mut pm = PhysMem::new(8192);
        group.bench_function(mode.name(), |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    let mut asp = AddressSpace::new(&mut pm).unwrap();
                    let base = map_touched(&mut asp, &mut pm, PAGES);
                    let child = asp.fork(&mut pm, mode).unwrap();
                    let started = std::time::Instant::now();
                    for i in 0..PAGES {
                        let va = base + i * PAGE_SIZE;
                        black_box(asp.handle_fault(&mut pm, va, Access::Write).unwrap());
                    }
                    total += started.elapsed();
                    child.release(&mut pm);
                    asp.release(&mut pm);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fork, cow_fault);
criterion_main!(benches);
