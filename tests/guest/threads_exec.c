/* execve from a thread that is not the leader: the other threads are
 * gone, and the new program runs with pid == tid == the old pid. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static char *self;

static void *spin(void *arg) {
    for (;;)
        sched_yield();
    return arg;
}

static void *twice(void *arg) { return (void *)(2 * (long)arg); }

static void *execer(void *arg) {
    (void)arg;
    char pid[32], tid[32];
    snprintf(pid, sizeof pid, "%d", getpid());
    snprintf(tid, sizeof tid, "%ld", syscall(SYS_gettid));
    printf("thread: tid is not the pid: %d\n", atoi(tid) != getpid());
    fflush(stdout);
    char *argv[] = {self, "after", pid, tid, 0};
    execv(self, argv);
    perror("execv");
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4) {
        printf("after exec: same pid: %d, gettid == pid: %d\n", atoi(argv[2]) == getpid(),
               syscall(SYS_gettid) == getpid());
        /* Only this thread runs: a new thread and join work normally. */
        pthread_t t;
        void *r;
        pthread_create(&t, 0, twice, (void *)21);
        pthread_join(t, &r);
        printf("after exec: a new thread returned %ld\n", (long)r);
        return 5;
    }
    self = argv[0];
    pthread_t t;
    pthread_create(&t, 0, spin, 0);
    pthread_create(&t, 0, spin, 0);
    pthread_create(&t, 0, execer, 0);
    for (;;)
        pause();
}
