/* pthread_create/join with results, pthread_exit, detached threads,
 * tids, and clone's CLONE_CHILD_CLEARTID wake that pthread_join relies on. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static pid_t tids[4];

static void *sum_to(void *arg) {
    long n = (long)arg;
    long s = 0;
    for (long i = 0; i <= n; i++)
        s += i;
    tids[n / 100000 - 1] = syscall(SYS_gettid);
    if (n == 300000)
        pthread_exit((void *)(s + 1)); /* leaves through pthread_exit */
    return (void *)s;
}

static atomic_int detached_done;

static void *detached(void *arg) {
    (void)arg;
    for (volatile int i = 0; i < 100000; i++) {
    }
    atomic_fetch_add(&detached_done, 1);
    return 0;
}

int main(void) {
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        if (pthread_create(&t[i], 0, sum_to, (void *)(100000 * (i + 1))))
            return 1;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        printf("thread %d returned %ld\n", i, (long)r);
    }
    pid_t me = getpid();
    int distinct = 1;
    for (int i = 0; i < 4; i++) {
        if (tids[i] == me || tids[i] <= 0)
            distinct = 0;
        for (int j = 0; j < i; j++)
            if (tids[i] == tids[j])
                distinct = 0;
    }
    printf("main: getpid == gettid: %d; thread tids distinct and not the pid: %d\n",
           me == syscall(SYS_gettid), distinct);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < 8; i++) {
        pthread_t d;
        if (pthread_create(&d, &a, detached, 0))
            return 2;
    }
    while (atomic_load(&detached_done) < 8)
        sched_yield();
    printf("detached threads done: %d\n", atomic_load(&detached_done));
    /* Many short-lived threads: their stacks are reused as they end. */
    long total = 0;
    for (int round = 0; round < 50; round++) {
        pthread_t x;
        void *r;
        pthread_create(&x, 0, sum_to, (void *)100000L);
        pthread_join(x, &r);
        total += (long)r;
    }
    printf("50 create/join rounds: %ld\n", total);
    return 0;
}
