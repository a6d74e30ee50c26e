//! getresuid/getresgid, getgroups/setgroups and getpriority/setpriority
//! (tests/guest/ids.c) as Linux answers them for cowix's process model:
//! no supplementary groups at start, saved ids equal to the effective
//! ones, nice values inherited at fork and set for a whole group.

mod common;

use common::*;

static_and_dynamic! {
    fn ids_groups_and_nice_values_behave_as_linux(link) {
        let o = link.run(&[], "ids", &[]);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        let root = out.starts_with("root 1\n");
        let groups = if root {
            "setgroups as root: ok\ngetgroups(3): 3\nsorted 3 5 7\ngetgroups(1) with 3: -1 Invalid argument\n"
        } else {
            "setgroups as user: Operation not permitted\n"
        };
        let lower = if root {
            "lower nice as root: ok\n"
        } else {
            "lower nice as user: Permission denied\n"
        };
        let want = format!(
            "root {}\ngetresuid: 0\nids match 1\ngetresgid: 0\ngids match 1\n\
             getresuid to NULL: -1 Bad address\ngetgroups(0): 0\ngetgroups(-1): -1 Invalid argument\n\
             {groups}== priority\nraw getpriority: 20\nnice(3): 3\nraw getpriority after: 17\n\
             getpriority(PRIO_PROCESS, getpid()): 3\ngetpriority(PRIO_USER, 0): 3\n\
             setpriority clamps 100: 0\nnow: 19\nsetpriority back to 4: {}\n{lower}\
             bad which: -1 Invalid argument\nno such process: -1 No such process\n\
             no such group: -1 No such process\nset the group's to 19: 0\nchild nice 19\nparent: 19\n",
            u8::from(root),
            if root { "0" } else { "-1 Permission denied" },
        );
        assert_eq!(out, want);
    }
}
