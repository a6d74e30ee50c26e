/* Atomics from several threads: C11 fetch_add and compare_exchange
 * counters and a hand-written LR/SC loop, 4 threads each, long enough to
 * be switched many times mid-loop. The final counts must be exact. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define THREADS 4
#define ITERS 300000

static atomic_long add_counter;
static atomic_long cas_counter;
static uint64_t lrsc_counter;
static uint32_t lrsc_word;
static long plain_per_thread[THREADS];

static void lrsc_add64(uint64_t *p, uint64_t v) {
    uint64_t old, tmp;
    __asm__ volatile("1: lr.d %0, (%2)\n"
                     "   add  %1, %0, %3\n"
                     "   sc.d %1, %1, (%2)\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(old), "=&r"(tmp)
                     : "r"(p), "r"(v)
                     : "memory");
}

static void lrsc_add32(uint32_t *p, uint32_t v) {
    uint32_t old, tmp;
    __asm__ volatile("1: lr.w.aqrl %0, (%2)\n"
                     "   addw %1, %0, %3\n"
                     "   sc.w.aqrl %1, %1, (%2)\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(old), "=&r"(tmp)
                     : "r"(p), "r"(v)
                     : "memory");
}

static void *work(void *arg) {
    long id = (long)arg;
    for (long i = 0; i < ITERS; i++) {
        atomic_fetch_add_explicit(&add_counter, 1, memory_order_relaxed);
        long cur = atomic_load(&cas_counter);
        while (!atomic_compare_exchange_weak(&cas_counter, &cur, cur + 2)) {
        }
        lrsc_add64(&lrsc_counter, 3);
        lrsc_add32(&lrsc_word, 1);
        plain_per_thread[id]++;
    }
    return 0;
}

int main(void) {
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], 0, work, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], 0);
    printf("fetch_add: %ld (expected %d)\n", atomic_load(&add_counter), THREADS * ITERS);
    printf("compare_exchange: %ld (expected %d)\n", atomic_load(&cas_counter), 2 * THREADS * ITERS);
    printf("lr.d/sc.d: %lu (expected %d)\n", (unsigned long)lrsc_counter, 3 * THREADS * ITERS);
    printf("lr.w/sc.w: %u (expected %d)\n", lrsc_word, THREADS * ITERS);
    for (int i = 0; i < THREADS; i++)
        printf("thread %d did %ld\n", i, plain_per_thread[i]);
    return 0;
}
