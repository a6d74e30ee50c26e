#define _GNU_SOURCE
/* A signal to a thread parked in FUTEX_WAIT: without SA_RESTART the wait
 * fails with EINTR; with SA_RESTART it goes on waiting (until woken) when
 * it has no timeout, and fails with EINTR when it has one. */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint32_t word;
static atomic_int handled, parked;
static long result, err;
static int timed;

static void on_usr1(int sig) {
    (void)sig;
    atomic_fetch_add(&handled, 1);
}

static void *waiter(void *arg) {
    (void)arg;
    struct timespec ts = {30, 0};
    atomic_store(&parked, 1);
    result = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, timed ? &ts : 0, 0, 0);
    err = result < 0 ? errno : 0;
    return 0;
}

static void round_(const char *what, int restart, int with_timeout) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, 0);
    timed = with_timeout;
    atomic_store(&handled, 0);
    atomic_store(&parked, 0);
    pthread_t t;
    pthread_create(&t, 0, waiter, 0);
    while (!atomic_load(&parked))
        sched_yield();
    for (int i = 0; i < 20; i++)
        sched_yield();
    pthread_kill(t, SIGUSR1);
    while (!atomic_load(&handled))
        sched_yield();
    for (int i = 0; i < 20; i++)
        sched_yield();
    long woke = syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
    pthread_join(t, 0);
    printf("%s: handler ran %d, wait returned %ld %s, still waiting after it: %ld\n", what,
           atomic_load(&handled), result, err ? strerrorname_np(err) : "", woke);
}

int main(void) {
    round_("no SA_RESTART", 0, 0);
    round_("SA_RESTART", 1, 0);
    round_("SA_RESTART with a timeout", 1, 1);
    return 0;
}
