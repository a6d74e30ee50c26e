// getresuid/getresgid, getgroups/setgroups and getpriority/setpriority
// (nice) with their errors; tests/ids.rs checks the lines (the host's
// groups differ from cowix's, so qemu is no oracle here).
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerror(errno));
    else
        printf("%s: %ld\n", what, r);
}

int main(void) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    int root = geteuid() == 0;
    printf("root %d\n", root);
    show("getresuid", getresuid(&r, &e, &s));
    printf("ids match %d\n", r == getuid() && e == geteuid() && s == geteuid());
    show("getresgid", getresgid(&gr, &ge, &gs));
    printf("gids match %d\n", gr == getgid() && ge == getegid() && gs == getegid());
    show("getresuid to NULL", syscall(SYS_getresuid, 0L, 0L, 0L));
    show("getgroups(0)", getgroups(0, NULL));
    show("getgroups(-1)", syscall(SYS_getgroups, -1, 0L));
    gid_t set[3] = {7, 3, 5}, got[3] = {0, 0, 0};
    long sr = setgroups(3, set);
    printf("setgroups as %s: %s\n", root ? "root" : "user", sr == 0 ? "ok" : strerror(errno));
    if (sr == 0) {
        show("getgroups(3)", getgroups(3, got));
        printf("sorted %u %u %u\n", got[0], got[1], got[2]);
        show("getgroups(1) with 3", getgroups(1, got));
    }

    printf("== priority\n");
    show("raw getpriority", syscall(SYS_getpriority, PRIO_PROCESS, 0));
    show("nice(3)", nice(3));
    show("raw getpriority after", syscall(SYS_getpriority, PRIO_PROCESS, 0));
    show("getpriority(PRIO_PROCESS, getpid())", getpriority(PRIO_PROCESS, getpid()));
    show("getpriority(PRIO_USER, 0)", getpriority(PRIO_USER, 0));
    show("setpriority clamps 100", setpriority(PRIO_PROCESS, 0, 100));
    show("now", getpriority(PRIO_PROCESS, 0));
    show("setpriority back to 4", setpriority(PRIO_PROCESS, 0, 4));
    printf("lower nice as %s: %s\n", root ? "root" : "user",
           setpriority(PRIO_PROCESS, 0, 2) == 0 ? "ok" : strerror(errno));
    show("bad which", syscall(SYS_getpriority, 7, 0));
    show("no such process", getpriority(PRIO_PROCESS, 99999));
    show("no such group", setpriority(PRIO_PGRP, 99999, 1));
    int p[2];
    pipe(p);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        char go;
        read(p[0], &go, 1);
        printf("child nice %d\n", getpriority(PRIO_PROCESS, 0));
        fflush(stdout);
        _exit(0);
    }
    show("set the group's to 19", setpriority(PRIO_PGRP, 0, 19));
    fflush(stdout);
    write(p[1], "g", 1);
    waitpid(c, NULL, 0);
    show("parent", getpriority(PRIO_PROCESS, 0));
    return 0;
}
