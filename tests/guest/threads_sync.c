/* A mutex + condvar producer/consumer, pthread_cond_broadcast, a barrier,
 * and the futex operations used directly: WAIT with a timeout, EAGAIN,
 * WAKE counts, CMP_REQUEUE, WAKE_OP, bitsets. */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define N 8
#define ITEMS 2000
static int buf[N], head, tail, count;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static long consumed_sum[2];

static void *producer(void *arg) {
    long base = (long)arg;
    for (int i = 1; i <= ITEMS; i++) {
        pthread_mutex_lock(&m);
        while (count == N)
            pthread_cond_wait(&not_full, &m);
        buf[tail] = base + i;
        tail = (tail + 1) % N;
        count++;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&m);
    }
    return 0;
}

static void *consumer(void *arg) {
    long id = (long)arg;
    for (int i = 0; i < ITEMS; i++) {
        pthread_mutex_lock(&m);
        while (count == 0)
            pthread_cond_wait(&not_empty, &m);
        consumed_sum[id] += buf[head];
        head = (head + 1) % N;
        count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&m);
    }
    return 0;
}

static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static int started, released;
static void *waiter(void *arg) {
    (void)arg;
    pthread_mutex_lock(&m);
    started++;
    while (!released)
        pthread_cond_wait(&go, &m);
    pthread_mutex_unlock(&m);
    return 0;
}

static long futex(void *uaddr, int op, uint32_t val, void *timeout, void *uaddr2, uint32_t val3) {
    return syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

static uint32_t word1, word2;
static atomic_int in_wait;
static long woke_ret[4];
static void *futex_waiter(void *arg) {
    long i = (long)arg;
    atomic_fetch_add(&in_wait, 1);
    woke_ret[i] = futex(&word1, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
    return 0;
}

int main(void) {
    pthread_t p[2], c[2];
    for (long i = 0; i < 2; i++) {
        pthread_create(&p[i], 0, producer, (void *)(i * 100000));
        pthread_create(&c[i], 0, consumer, (void *)i);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(p[i], 0);
        pthread_join(c[i], 0);
    }
    long expect = 2L * ITEMS * (ITEMS + 1) / 2 + 100000L * ITEMS;
    printf("producer/consumer: sum %ld expected %ld\n", consumed_sum[0] + consumed_sum[1], expect);

    pthread_t w[5];
    for (int i = 0; i < 5; i++)
        pthread_create(&w[i], 0, waiter, 0);
    for (;;) {
        pthread_mutex_lock(&m);
        int s = started;
        pthread_mutex_unlock(&m);
        if (s == 5)
            break;
        sched_yield();
    }
    pthread_mutex_lock(&m);
    released = 1;
    pthread_cond_broadcast(&go);
    pthread_mutex_unlock(&m);
    for (int i = 0; i < 5; i++)
        pthread_join(w[i], 0);
    printf("broadcast woke all 5\n");

    /* FUTEX_WAIT: value mismatch, then a timeout. */
    word1 = 1;
    long r = futex(&word1, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
    printf("wait on changed word: %ld %s\n", r, r ? (errno == EAGAIN ? "EAGAIN" : "?") : "");
    struct timespec ts = {0, 20 * 1000 * 1000}, t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = futex(&word1, FUTEX_WAIT_PRIVATE, 1, &ts, 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("timed wait: %ld %s, waited >= 20ms: %d\n", r, errno == ETIMEDOUT ? "ETIMEDOUT" : "?",
           ms >= 20);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    r = futex(&word1, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 1, &ts, 0,
              FUTEX_BITSET_MATCH_ANY);
    printf("absolute realtime wait: %ld %s\n", r, errno == ETIMEDOUT ? "ETIMEDOUT" : "?");
    r = futex(&word1, FUTEX_WAIT_PRIVATE | FUTEX_CLOCK_REALTIME, 1, &ts, 0, 0);
    printf("CLOCK_REALTIME with FUTEX_WAIT: %ld %s\n", r, errno == ENOSYS ? "ENOSYS" : "?");
    r = futex((char *)&word1 + 1, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
    printf("unaligned: %ld %s\n", r, errno == EINVAL ? "EINVAL" : "?");

    /* Four waiters on word1: wake 1, requeue 2 to word2 (CMP_REQUEUE),
     * then WAKE_OP on word2 wakes them, then plain WAKE the last. */
    word1 = 0;
    pthread_t f[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&f[i], 0, futex_waiter, (void *)i);
    while (atomic_load(&in_wait) < 4)
        sched_yield();
    for (int i = 0; i < 20; i++)
        sched_yield(); /* let them all park */
    r = futex(&word1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2L, &word2, 7);
    printf("cmp_requeue with wrong value: %ld %s\n", r, errno == EAGAIN ? "EAGAIN" : "?");
    r = futex(&word1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)2L, &word2, 0);
    printf("cmp_requeue: woke+moved %ld\n", r);
    r = futex(&word1, FUTEX_WAKE_PRIVATE, 0, 0, 0, 0);
    printf("wake 0: %ld\n", r);
    word2 = 5;
    /* word2 += 1; wake 0 on word1; wake 2 on word2 if old value > 4. */
    r = futex(&word1, FUTEX_WAKE_OP_PRIVATE, 0, (void *)2L, &word2,
              FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 4));
    printf("wake_op: woke %ld, word2 now %u\n", r, word2);
    r = futex(&word1, FUTEX_WAKE_BITSET_PRIVATE, 10, 0, 0, 0);
    printf("wake with empty bitset: %ld %s\n", r, errno == EINVAL ? "EINVAL" : "?");
    r = futex(&word1, FUTEX_WAKE_PRIVATE, 10, 0, 0, 0);
    printf("wake the rest: %ld\n", r);
    for (int i = 0; i < 4; i++)
        pthread_join(f[i], 0);
    printf("waiters returned %ld %ld %ld %ld\n", woke_ret[0], woke_ret[1], woke_ret[2], woke_ret[3]);
    return 0;
}
