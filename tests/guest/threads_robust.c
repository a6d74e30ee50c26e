/* A robust mutex whose owner thread dies: the next locker gets
 * EOWNERDEAD, makes it consistent, and it works again. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t m;

static void *die_holding(void *arg) {
    (void)arg;
    pthread_mutex_lock(&m);
    syscall(SYS_exit, 0); /* the thread ends without unlocking */
    return 0;
}

int main(void) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&m, &a);
    pthread_t t;
    pthread_create(&t, 0, die_holding, 0);
    for (int i = 0; i < 100; i++)
        sched_yield();
    int r = pthread_mutex_lock(&m);
    printf("lock after the owner died: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : strerror(r));
    printf("consistent: %d\n", pthread_mutex_consistent(&m));
    pthread_mutex_unlock(&m);
    r = pthread_mutex_lock(&m);
    printf("lock again: %d\n", r);
    pthread_mutex_unlock(&m);
    return 0;
}
