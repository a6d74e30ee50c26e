/* Scheduling policies per thread: the ranges, the checks, inheritance by
 * new threads and SCHED_RESET_ON_FORK. (Nothing here depends on privilege.) */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long policy_seen;

static void *report(void *arg) {
    (void)arg;
    policy_seen = sched_getscheduler(0);
    return 0;
}

static long in_thread(void) {
    pthread_t t;
    pthread_create(&t, 0, report, 0);
    pthread_join(t, 0);
    return policy_seen;
}

static void show(const char *what, long r) {
    printf("%s: %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerrorname_np(errno) : "");
}

int main(void) {
    printf("FIFO %d..%d, RR %d..%d, OTHER %d..%d, BATCH %d..%d\n",
           sched_get_priority_min(SCHED_FIFO), sched_get_priority_max(SCHED_FIFO),
           sched_get_priority_min(SCHED_RR), sched_get_priority_max(SCHED_RR),
           sched_get_priority_min(SCHED_OTHER), sched_get_priority_max(SCHED_OTHER),
           sched_get_priority_min(SCHED_BATCH), sched_get_priority_max(SCHED_BATCH));
    show("priority max of policy 42", sched_get_priority_max(42));
    show("getscheduler", sched_getscheduler(0));
    struct sched_param p = {.sched_priority = 5};
    show("OTHER with priority 5", sched_setscheduler(0, SCHED_OTHER, &p));
    show("policy 42", sched_setscheduler(0, 42, &p));
    p.sched_priority = 100;
    show("FIFO priority 100", sched_setscheduler(0, SCHED_FIFO, &p));
    show("getparam(NULL)", syscall(SYS_sched_getparam, 0, 0));
    show("getscheduler(-1)", sched_getscheduler(-1));
    show("getscheduler(no such pid)", sched_getscheduler(99999));
    p.sched_priority = 0;
    show("BATCH", sched_setscheduler(0, SCHED_BATCH, &p));
    show("getscheduler", sched_getscheduler(0));
    show("a new thread's policy", in_thread());
    show("IDLE with RESET_ON_FORK", sched_setscheduler(0, SCHED_IDLE | SCHED_RESET_ON_FORK, &p));
    show("getscheduler", sched_getscheduler(0));
    show("a new thread's policy", in_thread());
    sched_getparam(0, &p);
    show("getparam", p.sched_priority);
    p.sched_priority = 3;
    show("setparam 3 under IDLE", sched_setparam(0, &p));
    return 0;
}
