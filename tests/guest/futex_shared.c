/* A futex in MAP_SHARED memory between a parent and its child (no
 * FUTEX_PRIVATE_FLAG): the child waits, the parent wakes it; and a
 * PTHREAD_PROCESS_SHARED mutex + condvar across the two. */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
    _Atomic uint32_t word;
    _Atomic uint32_t child_waiting;
    pthread_mutex_t m;
    pthread_cond_t c;
    int ready;
};

int main(void) {
    struct shared *s = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&s->m, &ma);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_cond_init(&s->c, &ca);
    pid_t c = fork();
    if (c == 0) {
        atomic_store(&s->child_waiting, 1);
        long r = syscall(SYS_futex, &s->word, FUTEX_WAIT, 0, 0, 0, 0);
        printf("child: woken: %ld, word %u\n", r, atomic_load(&s->word));
        fflush(stdout);
        pthread_mutex_lock(&s->m);
        s->ready = 1;
        pthread_cond_signal(&s->c);
        pthread_mutex_unlock(&s->m);
        _exit(0);
    }
    while (!atomic_load(&s->child_waiting))
        sched_yield();
    for (int i = 0; i < 20; i++)
        sched_yield();
    atomic_store(&s->word, 1);
    long n = syscall(SYS_futex, &s->word, FUTEX_WAKE, 1, 0, 0, 0);
    printf("parent: woke %ld\n", n);
    fflush(stdout);
    pthread_mutex_lock(&s->m);
    while (!s->ready)
        pthread_cond_wait(&s->c, &s->m);
    pthread_mutex_unlock(&s->m);
    int st;
    waitpid(c, &st, 0);
    printf("parent: child signalled the shared condvar, exit %d\n", WEXITSTATUS(st));
    return 0;
}
