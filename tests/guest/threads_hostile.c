/* Bad arguments to the thread syscalls: every call returns an errno (or
 * is harmless), none kills the machine. A thread exits with a robust
 * list and a clear_child_tid pointer that point at garbage. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static uint32_t word;
static long robust_head[3];

static void *bad_exit(void *arg) {
    (void)arg;
    /* A robust list whose entries loop on themselves, and one pointing
     * into unmapped memory; then a clear_child_tid in unmapped memory. */
    robust_head[0] = (long)robust_head;
    robust_head[1] = 0x7ff0000000L;
    robust_head[2] = 0x10;
    syscall(SYS_set_robust_list, robust_head, 24);
    syscall(SYS_set_tid_address, (void *)0x10);
    syscall(SYS_exit, 0);
    return 0;
}

static void *loop_list(void *arg) {
    (void)arg;
    static long self_loop[3];
    self_loop[0] = (long)&self_loop[0] + 0; /* points at itself, not the head */
    static long head[3];
    head[0] = (long)self_loop;
    head[1] = 0;
    head[2] = 0;
    syscall(SYS_set_robust_list, head, 24);
    syscall(SYS_exit, 0);
    return 0;
}

int main(void) {
    int errors = 0;
    void *ptrs[] = {0, (void *)1, (void *)0x3, (void *)-4L, (void *)0xfffffffffffff000UL, &word};
    /* The commands cowix implements, and FUTEX_FD (ENOSYS since 2.6.26). */
    int ops[] = {FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE,
                 FUTEX_WAKE_OP, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET};
    for (unsigned k = 0; k < sizeof ops / sizeof *ops; k++)
        for (int fl = 0; fl < 4; fl++)
            for (unsigned p = 0; p < sizeof ptrs / sizeof *ptrs; p++) {
                int o = ops[k] | (fl & 1 ? FUTEX_PRIVATE_FLAG : 0) | (fl & 2 ? FUTEX_CLOCK_REALTIME : 0);
                struct timespec bad = {-1, -1};
                void *timeouts[] = {&bad, (void *)8, 0};
                for (int t = 0; t < 3; t++) {
                    word = 1; /* never equal to the val 0 below: no wait parks */
                    long r = syscall(SYS_futex, ptrs[p], o, 0, timeouts[t], ptrs[(p + 1) % 6], 0);
                    if (r < 0 && errno != EINVAL && errno != EFAULT && errno != ENOSYS &&
                        errno != EAGAIN && errno != ETIMEDOUT)
                        errors++;
                }
            }
    printf("futex errnos as expected: %d\n", errors == 0);
    for (long size = 0; size < 200; size += 7)
        syscall(SYS_clone3, (void *)8, size);
    syscall(SYS_clone3, (void *)-4096L, 88);
    syscall(SYS_clone, CLONE_SIGHAND, 0, 0, 0, 0); /* EINVAL: SIGHAND needs VM */
    syscall(SYS_tgkill, -1, -1, 9);
    syscall(SYS_tgkill, getpid(), 99999, 0);
    syscall(SYS_tkill, 0x7fffffff, 1);
    syscall(SYS_set_robust_list, 0, 23);
    pthread_t t;
    pthread_create(&t, 0, bad_exit, 0);
    pthread_create(&t, 0, loop_list, 0);
    for (int i = 0; i < 100; i++)
        sched_yield();
    printf("survived\n");
    return 0;
}
