/* Two threads hand a token back and forth through a mutex and two
 * condition variables N times (argv[1], default 20000): every hand-over
 * is a futex wake and a futex wait, and a switch between threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv[2] = {PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER};
static int turn;
static long rounds;
static long passes[2];

static void *player(void *arg) {
    long me = (long)arg;
    pthread_mutex_lock(&m);
    for (long i = 0; i < rounds; i++) {
        while (turn != me)
            pthread_cond_wait(&cv[me], &m);
        passes[me]++;
        turn = !me;
        pthread_cond_signal(&cv[!me]);
    }
    pthread_mutex_unlock(&m);
    return 0;
}

int main(int argc, char **argv) {
    rounds = argc > 1 ? atol(argv[1]) : 20000;
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        pthread_create(&t[i], 0, player, (void *)i);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], 0);
    printf("passes: %ld %ld\n", passes[0], passes[1]);
    return 0;
}
