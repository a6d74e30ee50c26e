//! Self-modifying code through the whole machine: tests/guest/selfmod.c
//! generates code in an mmap'ed page, runs it until it is cached, rewrites
//! it (by a store, with and without fence.i, while the page is not
//! executable, by read(2), by mapping a new page over it) and runs it again.

mod common;

use common::*;

static_and_dynamic! {
    fn rewritten_code_is_what_runs(link) {
        let dir = link.scratch("selfmod");
        let code = dir.host().join("addi7.bin");
        // addi a0, a0, 7; ret
        std::fs::write(
            &code,
            [0x0075_0513u32, 0x0000_8067].map(u32::to_le_bytes).concat(),
        )
        .unwrap();
        let o = link.run(&[], "selfmod", &[&format!("{}/addi7.bin", dir.guest())]);
        assert_eq!(
            stdout(&o),
            "generated                    11\n\
             rewritten by a store         110\n\
             hot before the store         110\n\
             rewritten, no fence.i        210\n\
             rewritten while not exec     7\n\
             rewritten by read(2)         17\n\
             remapped                     1010\n",
            "stderr: {}",
            stderr(&o)
        );
        assert_eq!(o.status.code(), Some(0));
    }
}
