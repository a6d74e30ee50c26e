/* Signals and threads: a tgkill'ed thread runs the handler itself; a
 * process-directed kill is taken by the thread that does not block it;
 * masks are per thread; a thread's own fault goes to that thread. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int handled_by; /* tid that ran the handler */
static atomic_int handled_signo;
static atomic_int worker_tid;
static atomic_int stop;
static atomic_int kill_from_worker;

static void handler(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    atomic_store(&handled_signo, sig * 1000 + (si->si_code == SI_TKILL ? 1 : si->si_code == SI_USER ? 2 : 9));
    atomic_store(&handled_by, (int)syscall(SYS_gettid));
}

static char altstack[16384];

static void *worker(void *arg) {
    (void)arg;
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0}, old;
    sigaltstack(&ss, 0);
    sigaltstack(0, &old);
    printf("worker: its altstack is set: %d\n", old.ss_sp == altstack && old.ss_flags == 0);
    atomic_store(&worker_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&stop)) {
        if (atomic_exchange(&kill_from_worker, 0))
            kill(getpid(), SIGUSR2);
        sched_yield();
    }
    return 0;
}

static void *blocker(void *arg) {
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, 0);
    while (!atomic_load(&stop))
        sched_yield();
    sigset_t pend;
    sigpending(&pend);
    printf("blocker: SIGUSR2 pending for it: %d\n", sigismember(&pend, SIGUSR2));
    return 0;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, 0);
    sigaction(SIGUSR2, &sa, 0);

    pthread_t w;
    pthread_create(&w, 0, worker, 0);
    while (!atomic_load(&worker_tid))
        sched_yield();
    int wt = atomic_load(&worker_tid);
    stack_t mine;
    sigaltstack(0, &mine);
    printf("main: no altstack of its own: %d\n", mine.ss_flags == SS_DISABLE);
    syscall(SYS_tgkill, getpid(), wt, SIGUSR1);
    while (!atomic_load(&handled_by))
        sched_yield();
    printf("tgkill: handled by the worker: %d, signo*1000+code %d\n",
           atomic_load(&handled_by) == wt, atomic_load(&handled_signo));
    long r = syscall(SYS_tgkill, getpid() + 1000, wt, SIGUSR1);
    printf("tgkill with the wrong tgid: %ld\n", r);
    printf("kill(a thread's tid, 0): %d\n", kill(wt, 0));

    /* Main blocks SIGUSR1; kill(getpid()) must go to the worker. */
    atomic_store(&handled_by, 0);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &s, 0);
    kill(getpid(), SIGUSR1);
    while (!atomic_load(&handled_by))
        sched_yield();
    printf("kill: handled by the thread not blocking it: %d, signo*1000+code %d\n",
           atomic_load(&handled_by) == wt, atomic_load(&handled_signo));
    sigset_t pend;
    sigpending(&pend);
    printf("main: SIGUSR1 still pending: %d\n", sigismember(&pend, SIGUSR1));

    /* The worker kills the process with a signal main does not block:
     * complete_signal picks the leader, so main runs the handler. */
    atomic_store(&handled_by, 0);
    atomic_store(&kill_from_worker, 1);
    while (!atomic_load(&handled_by))
        sched_yield();
    printf("kill from the worker: handled by main: %d\n",
           atomic_load(&handled_by) == (int)syscall(SYS_gettid));

    /* tgkill to a thread that blocks the signal: it stays pending for it alone. */
    pthread_t b;
    atomic_store(&handled_by, 0);
    pthread_create(&b, 0, blocker, 0);
    for (int i = 0; i < 50; i++)
        sched_yield();
    pthread_kill(b, SIGUSR2);
    for (int i = 0; i < 50; i++)
        sched_yield();
    printf("blocked thread-directed signal not handled: %d\n", atomic_load(&handled_by) == 0);
    sigpending(&pend);
    printf("main: SIGUSR2 pending for main: %d\n", sigismember(&pend, SIGUSR2));
    atomic_store(&stop, 1);
    pthread_join(w, 0);
    pthread_join(b, 0);
    return 0;
}
