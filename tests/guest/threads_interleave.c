/* Three threads append their number to a shared log as they go, with
 * unequal work between appends: the log records how the scheduler
 * interleaved them. cowix's scheduler is deterministic, so two runs
 * print the same log. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define STEPS 40
static char log_[3 * STEPS + 1];
static atomic_int at;

static void *work(void *arg) {
    long id = (long)arg;
    for (int s = 0; s < STEPS; s++) {
        for (volatile long i = 0; i < 20000 * (id + 1) + 7000 * (s % 5); i++) {
        }
        log_[atomic_fetch_add(&at, 1)] = (char)('a' + id);
    }
    return 0;
}

int main(void) {
    pthread_t t[3];
    for (long i = 0; i < 3; i++)
        pthread_create(&t[i], 0, work, (void *)i);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], 0);
    printf("%s\n", log_);
    return 0;
}
