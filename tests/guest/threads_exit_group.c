/* exit_group from a thread while the others run: the process ends with
 * its code and none of the others prints again. With "segv", the thread
 * dies of SIGSEGV instead, which kills the whole group. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *spin(void *arg) {
    for (;;)
        sched_yield();
    return arg;
}

static void *quitter(void *arg) {
    for (volatile int i = 0; i < 100000; i++) {
    }
    if (arg) {
        printf("quitter: faulting\n");
        fflush(stdout);
        *(volatile int *)arg = 1;
    }
    printf("quitter: exiting the process\n");
    fflush(stdout);
    exit(7);
}

int main(int argc, char **argv) {
    (void)argv;
    pthread_t t;
    for (int i = 0; i < 3; i++)
        pthread_create(&t, 0, spin, 0);
    pthread_create(&t, 0, quitter, argc > 1 ? (void *)8 : 0);
    for (;;) {
        for (volatile int i = 0; i < 1000; i++) {
        }
    }
}
