// POSIX timers (timer_create/settime/gettime/getoverrun/delete):
// SIGEV_SIGNAL with si_value and SI_TIMER, overruns while the signal is
// blocked, SIGEV_NONE, SIGEV_THREAD_ID, SIGEV_THREAD (glibc's helper
// thread), CPU-time clocks, errors, and the fork/exec rules (not
// inherited by fork, deleted at exec). Output is exact.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits, code, value, overrun, getover, in_tid;
static timer_t cur_timer;

static void on_timer(int s, siginfo_t *si, void *uc) {
    (void)s;
    (void)uc;
    hits++;
    code = si->si_code;
    value = si->si_value.sival_int;
    overrun = si->si_overrun;
    getover = timer_getoverrun(cur_timer);
    in_tid = (int)syscall(SYS_gettid);
}

static void settime(timer_t t, long value_ns, long interval_ns) {
    struct itimerspec its = {
        .it_interval = {interval_ns / 1000000000, interval_ns % 1000000000},
        .it_value = {value_ns / 1000000000, value_ns % 1000000000},
    };
    if (timer_settime(t, 0, &its, NULL) != 0) {
        perror("timer_settime");
        exit(1);
    }
}

static volatile sig_atomic_t thread_calls;
static void on_thread(union sigval v) { thread_calls += v.sival_int; }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 2 && strcmp(argv[1], "after-exec") == 0) {
        timer_t t = (timer_t)(long)atoi(argv[2]);
        struct itimerspec its;
        errno = 0;
        int r = timer_gettime(t, &its);
        printf("after exec: timer_gettime %d %s\n", r, strerror(errno));
        return 0;
    }
    int sig = SIGRTMIN + 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_timer;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);

    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    sev.sigev_value.sival_int = 42;
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &sev, &t) != 0) {
        perror("timer_create");
        return 1;
    }
    cur_timer = t;
    settime(t, 10000000, 0);
    while (!hits) {
    }
    printf("one-shot: hits %d code %s value %d overrun %d\n", (int)hits,
           code == SI_TIMER ? "SI_TIMER" : "other", (int)value, (int)overrun);
    struct itimerspec its;
    timer_gettime(t, &its);
    printf("expired one-shot gettime: %ld %ld\n", (long)its.it_value.tv_sec, (long)its.it_value.tv_nsec);

    // Overruns: the signal blocked while a 1 ms timer expires many times.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_BLOCK, &set, NULL);
    hits = 0;
    settime(t, 1000000, 1000000);
    struct timespec ts = {0, 30000000};
    nanosleep(&ts, NULL);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    settime(t, 0, 0);
    printf("blocked 30 ms: hits %d overrun >= 10 %s getoverrun == si_overrun %s\n", (int)hits,
           overrun >= 10 ? "yes" : "no", getover == overrun ? "yes" : "no");

    // Periodic: several signals.
    hits = 0;
    settime(t, 2000000, 2000000);
    while (hits < 4) {
    }
    settime(t, 0, 0);
    timer_gettime(t, &its);
    printf("periodic: 4 hits, disarmed %s\n", its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0 ? "yes" : "no");

    // SIGEV_NONE: nothing is sent; gettime shows the time left.
    struct sigevent none = {.sigev_notify = SIGEV_NONE};
    timer_t tn;
    timer_create(CLOCK_MONOTONIC, &none, &tn);
    settime(tn, 5000000000L, 0);
    timer_gettime(tn, &its);
    printf("SIGEV_NONE: left in (4 s, 5 s] %s\n",
           its.it_value.tv_sec == 4 || (its.it_value.tv_sec == 5 && its.it_value.tv_nsec == 0) ? "yes" : "no");
    timer_delete(tn);

    // SIGEV_THREAD_ID: the signal goes to the named thread.
    struct sigevent tid_ev;
    memset(&tid_ev, 0, sizeof tid_ev);
    tid_ev.sigev_notify = SIGEV_THREAD_ID;
    tid_ev.sigev_signo = sig;
    tid_ev.sigev_value.sival_int = 7;
    tid_ev._sigev_un._tid = (int)syscall(SYS_gettid);
    timer_t tt;
    if (timer_create(CLOCK_MONOTONIC, &tid_ev, &tt) != 0) perror("timer_create THREAD_ID");
    cur_timer = tt;
    hits = 0;
    settime(tt, 1000000, 0);
    while (!hits) {
    }
    printf("SIGEV_THREAD_ID: value %d in my thread %s\n", (int)value,
           in_tid == (int)syscall(SYS_gettid) ? "yes" : "no");
    timer_delete(tt);

    // A CPU-time clock: fires after 20 ms of the process's CPU time.
    timer_t tc;
    sev.sigev_value.sival_int = 99;
    if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &sev, &tc) != 0) {
        perror("timer_create CPU clock");
        return 1;
    }
    cur_timer = tc;
    hits = 0;
    settime(tc, 20000000, 0);
    volatile unsigned long spin = 0;
    while (!hits) spin++;
    printf("CPU clock: value %d after spinning\n", (int)value);
    timer_delete(tc);

    // The CPU clocks glibc names by id.
    clockid_t pc, tc2;
    struct timespec a, b2;
    clock_getcpuclockid(0, &pc);
    pthread_getcpuclockid(pthread_self(), &tc2);
    int ra = clock_gettime(pc, &a), rb = clock_gettime(tc2, &b2);
    printf("cpu clock ids: %d %d, process time > 20 ms %s, thread time > 0 %s\n", ra, rb,
           a.tv_sec > 0 || a.tv_nsec > 20000000 ? "yes" : "no", b2.tv_sec > 0 || b2.tv_nsec > 0 ? "yes" : "no");

    // SIGEV_THREAD: glibc runs the function in a helper thread.
    struct sigevent th;
    memset(&th, 0, sizeof th);
    th.sigev_notify = SIGEV_THREAD;
    th.sigev_notify_function = on_thread;
    th.sigev_value.sival_int = 1;
    timer_t tth;
    if (timer_create(CLOCK_MONOTONIC, &th, &tth) != 0) perror("timer_create SIGEV_THREAD");
    settime(tth, 2000000, 2000000);
    while (thread_calls < 3) {
        struct timespec s = {0, 1000000};
        nanosleep(&s, NULL);
    }
    timer_delete(tth);
    printf("SIGEV_THREAD: callback ran >= 3 times\n");

    // Errors.
    errno = 0;
    printf("bad clock: %d %s\n", timer_create(12345, &sev, &tn), strerror(errno));
    sev.sigev_signo = 65;
    errno = 0;
    printf("bad signal: %d %s\n", timer_create(CLOCK_MONOTONIC, &sev, &tn), strerror(errno));
    sev.sigev_signo = sig;
    struct itimerspec bad = {{0, 0}, {0, 1000000000}};
    errno = 0;
    printf("bad nsec: %d %s\n", timer_settime(t, 0, &bad, NULL), strerror(errno));
    errno = 0;
    printf("delete unknown: %d %s\n", timer_delete((timer_t)777L), strerror(errno));
    errno = 0;
    printf("getoverrun unknown: %d %s\n", timer_getoverrun((timer_t)777L), strerror(errno));

    // fork: the child has no timers; exec deletes them.
    settime(t, 100000000000L, 0);
    pid_t pid = fork();
    if (pid == 0) {
        errno = 0;
        int r = timer_gettime(t, &its);
        printf("fork child: timer_gettime %d %s\n", r, strerror(errno));
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    char id[16];
    snprintf(id, sizeof id, "%ld", (long)t);
    fflush(stdout);
    execl("/proc/self/exe", argv[0], "after-exec", id, (char *)NULL);
    perror("execl");
    return 1;
}
