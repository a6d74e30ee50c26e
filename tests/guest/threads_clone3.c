/* clone3's struct size rules and clone's flag rules, then clone3 in its
 * fork shape (with a larger, zero-padded struct) and its thread shape
 * (own stack, CLONE_SETTLS, CLONE_PARENT_SETTID, CLONE_CHILD_CLEARTID
 * woken at exit). */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long clone3_raw(void *args, size_t size) { return syscall(SYS_clone3, args, size); }

static void show(const char *what, long r) {
    printf("%s: %ld %s\n", what, r, r < 0 ? strerrorname_np(errno) : "");
}

static void on_usr1(int sig) { (void)sig; }

static volatile uint32_t child_tid = 1, parent_tid;
static volatile long thread_saw_tp;
static char stack[64 * 1024] __attribute__((aligned(16)));

/* The thread's body: no libc (it has no TLS of its own); it records its
 * tp and exits with the raw syscall. */
static void __attribute__((noinline, noreturn)) thread_body(void) {
    long tp;
    __asm__ volatile("mv %0, tp" : "=r"(tp));
    thread_saw_tp = tp;
    for (;;)
        __asm__ volatile("li a7, 93\n li a0, 0\n ecall" ::: "a0", "a7", "memory");
}

int main(int argc, char **argv) {
    if (argc > 1)
        return 4;
    struct clone_args a;
    memset(&a, 0, sizeof a);
    a.exit_signal = SIGCHLD;
    show("size 32", clone3_raw(&a, 32));
    show("size 4097", clone3_raw(&a, 4097));
    char big[128];
    memset(big, 0, sizeof big);
    memcpy(big, &a, sizeof a);
    big[100] = 1;
    show("nonzero bytes past the known struct", clone3_raw(big, sizeof big));
    a.flags = SIGCHLD;
    show("exit signal in flags", clone3_raw(&a, sizeof a));
    a.flags = 0;
    a.stack = (uint64_t)stack;
    show("stack without a size", clone3_raw(&a, sizeof a));
    a.stack = 0;
    a.flags = CLONE_THREAD | CLONE_VM;
    show("CLONE_THREAD without CLONE_SIGHAND", clone3_raw(&a, sizeof a));
    a.flags = CLONE_SIGHAND;
    show("CLONE_SIGHAND without CLONE_VM", clone3_raw(&a, sizeof a));
    show("clone: CLONE_THREAD without CLONE_SIGHAND", syscall(SYS_clone, CLONE_THREAD | CLONE_VM, 0, 0, 0, 0));

    /* The fork shape, with a 128-byte struct whose tail is zero. */
    big[100] = 0;
    long pid = clone3_raw(big, sizeof big);
    if (pid == 0)
        _exit(9);
    int st;
    printf("fork shape: reaped %d, exit %d\n", waitpid(pid, &st, 0) == pid, WEXITSTATUS(st));

    /* CLONE_CLEAR_SIGHAND: caught signals revert to SIG_DFL, ignored stay ignored. */
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, SIG_IGN);
    memset(&a, 0, sizeof a);
    a.flags = CLONE_CLEAR_SIGHAND;
    a.exit_signal = SIGCHLD;
    pid = clone3_raw(&a, sizeof a);
    if (pid == 0) {
        struct sigaction s1, s2;
        sigaction(SIGUSR1, 0, &s1);
        sigaction(SIGUSR2, 0, &s2);
        _exit((s1.sa_handler == SIG_DFL) * 10 + (s2.sa_handler == SIG_IGN));
    }
    waitpid(pid, &st, 0);
    printf("CLONE_CLEAR_SIGHAND: child saw %d (11: default, still ignored)\n", WEXITSTATUS(st));
    a.flags = CLONE_CLEAR_SIGHAND | CLONE_SIGHAND | CLONE_VM;
    show("CLONE_CLEAR_SIGHAND with CLONE_SIGHAND", clone3_raw(&a, sizeof a));
    pid_t sp;
    char *sargv[] = {argv[0], "child", 0};
    int e = posix_spawn(&sp, argv[0], 0, 0, sargv, 0);
    waitpid(sp, &st, 0);
    printf("posix_spawn: %d, child exit %d\n", e, WEXITSTATUS(st));

    /* The thread shape. */
    memset(&a, 0, sizeof a);
    a.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
              CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    a.stack = (uint64_t)stack;
    a.stack_size = sizeof stack;
    a.tls = 0x1234560;
    a.parent_tid = (uint64_t)&parent_tid;
    a.child_tid = (uint64_t)&child_tid;
    long tid = clone3_raw(&a, sizeof a);
    if (tid == 0)
        thread_body();
    /* CLONE_CHILD_CLEARTID: the word becomes 0 and we are woken. */
    while (child_tid != 0)
        syscall(SYS_futex, &child_tid, FUTEX_WAIT, child_tid, 0, 0, 0);
    printf("thread shape: parent_tid == tid: %d, tid != pid: %d, its tp: %#lx, cleared: %u\n",
           parent_tid == (uint32_t)tid, tid != getpid(), thread_saw_tp, child_tid);
    return 0;
}
