/* fork from a thread: the child has only the forking thread (the others'
 * work stops there), can make threads of its own, and its parent waits
 * for it as for any child. Then posix_spawn (clone3 CLONE_VM|CLONE_VFORK)
 * from a thread while another runs. */
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_long ticks;
static atomic_int stop;

static void *ticker(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        atomic_fetch_add(&ticks, 1);
        sched_yield();
    }
    return 0;
}

static void *add(void *arg) { return (void *)((long)arg + 1); }

static char *self;

static void *forker(void *arg) {
    (void)arg;
    while (atomic_load(&ticks) < 10)
        sched_yield();
    pid_t c = fork();
    if (c == 0) {
        long before = atomic_load(&ticks);
        for (int i = 0; i < 200; i++)
            sched_yield();
        long after = atomic_load(&ticks);
        pthread_t t;
        void *r;
        pthread_create(&t, 0, add, (void *)41);
        pthread_join(t, &r);
        printf("child: ticker did not run: %d, gettid == getpid: %d, new thread: %ld\n",
               before == after, syscall(SYS_gettid) == getpid(), (long)r);
        fflush(stdout);
        _exit(3);
    }
    int st;
    pid_t w = waitpid(c, &st, 0);
    printf("parent: reaped the child: %d, exit %d\n", w == c, WEXITSTATUS(st));
    char *argv[] = {self, "spawned", 0};
    pid_t sp;
    int e = posix_spawn(&sp, self, 0, 0, argv, 0);
    w = waitpid(sp, &st, 0);
    printf("posix_spawn from a thread: %d, reaped %d, exit %d\n", e, w == sp, WEXITSTATUS(st));
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1)
        return 6;
    self = argv[0];
    pthread_t a, b;
    pthread_create(&a, 0, ticker, 0);
    pthread_create(&b, 0, forker, 0);
    pthread_join(b, 0);
    long t1 = atomic_load(&ticks);
    while (atomic_load(&ticks) < t1 + 5)
        sched_yield();
    printf("parent: ticker still runs\n");
    atomic_store(&stop, 1);
    pthread_join(a, 0);
    return 0;
}
