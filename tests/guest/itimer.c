// Interval timers (setitimer/getitimer/alarm): periodic SIGALRM with a
// handler, a blocking read interrupted (EINTR) or restarted (SA_RESTART),
// alarm's return values, ITIMER_VIRTUAL and ITIMER_PROF firing while the
// process spins, SIGALRM's default action, and the fork/exec rules
// (cleared in a fork child, kept across exec). Output is exact.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alrm, vtalrm, prof;
static int wfd = -1;

static void on_alrm(int s) { (void)s; alrm++; }
static void on_vtalrm(int s) { (void)s; vtalrm++; }
static void on_prof(int s) { (void)s; prof++; }
static void on_alrm_write(int s) {
    (void)s;
    alrm++;
    if (write(wfd, "x", 1) != 1) _exit(9);
}

static void handle(int sig, void (*fn)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void arm(int which, long value_us, long interval_us) {
    struct itimerval it = {
        .it_interval = {interval_us / 1000000, interval_us % 1000000},
        .it_value = {value_us / 1000000, value_us % 1000000},
    };
    if (setitimer(which, &it, NULL) != 0) {
        perror("setitimer");
        exit(1);
    }
}

int main(int argc, char **argv) {
    struct itimerval cur;
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) {
        getitimer(ITIMER_REAL, &cur);
        printf("after exec: ITIMER_REAL armed %s, interval %ld s\n",
               cur.it_value.tv_sec > 0 ? "yes" : "no", (long)cur.it_interval.tv_sec);
        return 0;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "vcount") == 0) {
        // How far a loop gets before ITIMER_VIRTUAL fires: under cowix the
        // same every run (CPU time is retired instructions).
        handle(SIGVTALRM, on_vtalrm, 0);
        arm(ITIMER_VIRTUAL, 5000, 0);
        volatile unsigned long count = 0;
        while (!vtalrm) count++;
        printf("%lu\n", count);
        return 0;
    }

    // alarm's return values: seconds left, rounded to the nearest.
    printf("alarm(5) = %u\n", alarm(5));
    printf("alarm(3) = %u\n", alarm(3));
    getitimer(ITIMER_REAL, &cur);
    printf("getitimer: value <= 3 s %s, interval %ld\n",
           cur.it_value.tv_sec <= 3 && (cur.it_value.tv_sec > 0 || cur.it_value.tv_usec > 0) ? "yes" : "no",
           (long)cur.it_interval.tv_sec);
    printf("alarm(0) = %u\n", alarm(0));
    getitimer(ITIMER_REAL, &cur);
    printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, (long)cur.it_value.tv_usec);

    // Periodic SIGALRM while spinning in user code.
    handle(SIGALRM, on_alrm, 0);
    arm(ITIMER_REAL, 10000, 10000);
    while (alrm < 5) {
    }
    arm(ITIMER_REAL, 0, 0);
    printf("periodic: %d SIGALRM\n", (int)alrm);

    // The old value comes back from setitimer.
    struct itimerval it = {{0, 250000}, {7, 0}}, old;
    setitimer(ITIMER_REAL, &it, NULL);
    it.it_value.tv_sec = 0;
    it.it_value.tv_usec = 0;
    setitimer(ITIMER_REAL, &it, &old);
    printf("old: interval %ld.%06ld value<=7s %s\n", (long)old.it_interval.tv_sec,
           (long)old.it_interval.tv_usec, old.it_value.tv_sec <= 7 && old.it_value.tv_sec >= 6 ? "yes" : "no");

    // A blocking read interrupted: EINTR without SA_RESTART.
    int p[2];
    if (pipe(p) != 0) return 1;
    wfd = p[1];
    char c;
    alrm = 0;
    arm(ITIMER_REAL, 20000, 0);
    ssize_t n = read(p[0], &c, 1);
    printf("read without SA_RESTART: %zd %s (alarms %d)\n", n, n < 0 ? strerror(errno) : "", (int)alrm);

    // With SA_RESTART the read goes on and gets the handler's byte.
    handle(SIGALRM, on_alrm_write, SA_RESTART);
    alrm = 0;
    arm(ITIMER_REAL, 20000, 0);
    n = read(p[0], &c, 1);
    printf("read with SA_RESTART: %zd '%c' (alarms %d)\n", n, n == 1 ? c : '?', (int)alrm);

    // pause() until SIGALRM.
    handle(SIGALRM, on_alrm, 0);
    alrm = 0;
    arm(ITIMER_REAL, 20000, 0);
    int r = pause();
    printf("pause: %d %s alarms %d\n", r, strerror(errno), (int)alrm);

    // nanosleep: interrupted, with the time left.
    alrm = 0;
    arm(ITIMER_REAL, 20000, 0);
    struct timespec req = {1, 0}, rem = {0, 0};
    r = nanosleep(&req, &rem);
    printf("nanosleep: %d %s alarms %d, left > 0.5 s %s\n", r, strerror(errno), (int)alrm,
           rem.tv_nsec > 500000000 && rem.tv_sec == 0 ? "yes" : "no");

    // sigsuspend with SIGALRM blocked outside it.
    sigset_t blk, none, now;
    sigemptyset(&blk);
    sigaddset(&blk, SIGALRM);
    sigprocmask(SIG_BLOCK, &blk, NULL);
    sigemptyset(&none);
    alrm = 0;
    arm(ITIMER_REAL, 20000, 0);
    r = sigsuspend(&none);
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("sigsuspend: %d %s alarms %d, blocked again %s\n", r, strerror(errno), (int)alrm,
           sigismember(&now, SIGALRM) ? "yes" : "no");
    sigprocmask(SIG_UNBLOCK, &blk, NULL);

    // ITIMER_VIRTUAL and ITIMER_PROF count the process's CPU time.
    handle(SIGVTALRM, on_vtalrm, 0);
    handle(SIGPROF, on_prof, 0);
    arm(ITIMER_VIRTUAL, 20000, 0);
    arm(ITIMER_PROF, 30000, 0);
    volatile unsigned long spin = 0;
    while (!vtalrm || !prof) spin++;
    getitimer(ITIMER_VIRTUAL, &cur);
    printf("spinning: SIGVTALRM %d SIGPROF %d, virtual disarmed %s\n", (int)vtalrm, (int)prof,
           cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0 ? "yes" : "no");
    // Sleeping takes no CPU time: a virtual timer does not fire meanwhile.
    vtalrm = 0;
    arm(ITIMER_VIRTUAL, 5000, 0);
    struct timespec ts = {0, 30000000};
    nanosleep(&ts, NULL);
    printf("virtual during sleep: %d\n", (int)vtalrm);
    arm(ITIMER_VIRTUAL, 0, 0);

    // A 1 us virtual interval: signals come, and the program still ends.
    vtalrm = 0;
    arm(ITIMER_VIRTUAL, 1, 1);
    for (volatile unsigned long i = 0; i < 20000000; i++) {
    }
    arm(ITIMER_VIRTUAL, 0, 0);
    printf("tiny virtual interval: signals %s\n", vtalrm > 0 ? "yes" : "no");

    // Bad arguments.
    errno = 0;
    printf("setitimer(99): %d %s\n", setitimer(99, &it, NULL), strerror(errno));
    it.it_value.tv_usec = 1000000;
    errno = 0;
    printf("usec 1000000: %d %s\n", setitimer(ITIMER_REAL, &it, NULL), strerror(errno));
    errno = 0;
    printf("getitimer(-1): %d %s\n", getitimer(-1, &cur), strerror(errno));

    // SIGALRM's default action ends the process.
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        arm(ITIMER_REAL, 10000, 0);
        for (;;) pause();
    }
    int st;
    waitpid(pid, &st, 0);
    printf("default SIGALRM: signaled %d sig %d\n", WIFSIGNALED(st), WTERMSIG(st));

    // A fork child starts with no itimers; exec keeps them.
    arm(ITIMER_REAL, 100000000, 5000000);
    pid = fork();
    if (pid == 0) {
        getitimer(ITIMER_REAL, &cur);
        printf("fork child: ITIMER_REAL armed %s\n",
               cur.it_value.tv_sec || cur.it_value.tv_usec ? "yes" : "no");
        arm(ITIMER_REAL, 100000000, 3000000);
        execl("/proc/self/exe", argv[0], "after-exec", (char *)NULL);
        perror("execl");
        _exit(1);
    }
    waitpid(pid, &st, 0);
    getitimer(ITIMER_REAL, &cur);
    printf("parent keeps its own: interval %ld\n", (long)cur.it_interval.tv_sec);
    return 0;
}
