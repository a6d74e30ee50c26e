/* One thread changes the shared address space while another keeps using
 * it: the other must never see a stale translation. munmap + a new
 * mapping at the same address, mprotect to read-only, and fork's
 * write-protection (the other thread's next write breaks COW instead of
 * writing the child's page) all show up in the other thread at once. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int *page;
static atomic_int phase, seen;
static sigjmp_buf jb;

static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    atomic_store(&seen, si->si_code == SEGV_ACCERR ? 100 : 200);
    siglongjmp(jb, 1);
}

static void *reader(void *arg) {
    (void)arg;
    volatile int last = -1;
    while (atomic_load(&phase) < 3) {
        int p = atomic_load(&phase);
        int v = page[0]; /* keeps the translation hot in this thread's TLB */
        if (p == 1 && v != last) {
            last = v;
            atomic_store(&seen, v);
        }
        if (p == 2) {
            if (sigsetjmp(jb, 1) == 0)
                page[1] = 5; /* read-only now: must fault */
            while (atomic_load(&phase) == 2)
                sched_yield();
        }
    }
    while (atomic_load(&phase) == 3)
        page[2] = page[0]; /* reads and writes the page up to the fork */
    page[0] = 9;
    atomic_store(&seen, 9);
    return 0;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, 0);
    page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    page[0] = 1;
    atomic_store(&phase, 1);
    pthread_t t;
    pthread_create(&t, 0, reader, 0);
    while (atomic_load(&seen) != 1)
        sched_yield();
    for (int i = 0; i < 1000000; i++) /* let the reader spin on the page */
        __asm__ volatile("");
    munmap((void *)page, 4096);
    void *again = mmap((void *)page, 4096, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    page[0] = 2;
    while (atomic_load(&seen) != 2)
        sched_yield();
    printf("remapped page seen by the other thread: %d (same address %d)\n",
           atomic_load(&seen), again == (void *)page);
    atomic_store(&seen, 0);
    mprotect((void *)page, 4096, PROT_READ);
    atomic_store(&phase, 2);
    while (atomic_load(&seen) == 0)
        sched_yield();
    printf("write after mprotect in the other thread: %s\n",
           atomic_load(&seen) == 100 ? "SIGSEGV (SEGV_ACCERR)" : "wrong");
    mprotect((void *)page, 4096, PROT_READ | PROT_WRITE);
    page[0] = 7;
    atomic_store(&phase, 3);
    for (int i = 0; i < 50; i++)
        sched_yield();
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < 100; i++)
            sched_yield();
        _exit(page[0]);
    }
    atomic_store(&phase, 4);
    pthread_join(t, 0);
    int st;
    waitpid(c, &st, 0);
    printf("after fork: child saw %d, parent has %d\n", WEXITSTATUS(st), page[0]);
    return 0;
}
