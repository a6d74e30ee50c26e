/* Real-time signal queueing: sigqueue instances delivered in order with
 * their si_value to an SA_SIGINFO handler, standard signals coalescing,
 * lowest number first across numbers, sigwaitinfo/sigtimedwait taking
 * one instance each, RLIMIT_SIGPENDING (EAGAIN), SigQ in
 * /proc/self/status, rt_sigqueueinfo/rt_tgsigqueueinfo's checks, and
 * sigqueue to another process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int got_sig[64], got_val[64], got_code[64];
static volatile int ngot;

static void on_sig(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    if (ngot < 64) {
        got_sig[ngot] = sig;
        got_val[ngot] = si->si_value.sival_int;
        got_code[ngot] = si->si_code;
        ngot++;
    }
}

static void catch_sig(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask); /* one handler at a time: delivery order shows */
    sigaction(sig, &sa, NULL);
}

static void block(int sig, int how) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(how, &s, NULL);
}

static void print_got(const char *what) {
    printf("%s:", what);
    for (int i = 0; i < ngot; i++) {
        if (got_sig[i] >= SIGRTMIN)
            printf(" RTMIN+%d=%d", got_sig[i] - SIGRTMIN, got_val[i]);
        else
            printf(" %d", got_sig[i]);
    }
    printf("\n");
    ngot = 0;
}

static int sigq(void) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strstr(buf, "SigQ:");
    return p ? atoi(p + 5) : -1;
}

static int queue(pid_t pid, int sig, int val) {
    union sigval v;
    v.sival_int = val;
    return sigqueue(pid, sig, v);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pid_t me = getpid();
    int r1 = SIGRTMIN + 1;

    /* 1. Five instances of one real-time signal, in order. */
    catch_sig(r1);
    block(r1, SIG_BLOCK);
    /* SigQ counts the user's queued signals (other processes' too). */
    int base = sigq();
    for (int i = 1; i <= 5; i++) queue(me, r1, i);
    printf("SigQ with 5 queued: +%d\n", sigq() - base);
    block(r1, SIG_UNBLOCK);
    print_got("5 instances");
    printf("si_code=%d (SI_QUEUE=%d)\n", got_code[0], SI_QUEUE);

    /* 2. A standard signal coalesces. */
    catch_sig(SIGUSR1);
    block(SIGUSR1, SIG_BLOCK);
    for (int i = 1; i <= 3; i++) queue(me, SIGUSR1, i);
    kill(me, SIGUSR1);
    block(SIGUSR1, SIG_UNBLOCK);
    printf("SIGUSR1 x4: %d delivery, value=%d\n", ngot, got_val[0]);
    ngot = 0;

    /* 3. Mixed numbers: lowest first, FIFO within a number. */
    int r2 = SIGRTMIN + 2, r3 = SIGRTMIN + 3;
    catch_sig(r2);
    catch_sig(r3);
    catch_sig(SIGUSR2);
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    queue(me, r3, 31);
    queue(me, r1, 11);
    queue(me, r3, 32);
    queue(me, r2, 21);
    queue(me, r1, 12);
    queue(me, SIGUSR2, 99);
    sigprocmask(SIG_SETMASK, &old, NULL);
    print_got("mixed");

    /* 4. sigwaitinfo and sigtimedwait take one instance each. */
    block(r2, SIG_BLOCK);
    queue(me, r2, 41);
    queue(me, r2, 42);
    sigset_t w;
    sigemptyset(&w);
    sigaddset(&w, r2);
    siginfo_t si;
    int s = sigwaitinfo(&w, &si);
    printf("sigwaitinfo: RTMIN+%d value=%d code=%d pid_ok=%d\n", s - SIGRTMIN, si.si_value.sival_int,
           si.si_code, si.si_pid == me);
    struct timespec zero = {0, 0};
    s = sigtimedwait(&w, &si, &zero);
    printf("sigtimedwait: RTMIN+%d value=%d\n", s - SIGRTMIN, si.si_value.sival_int);
    s = sigtimedwait(&w, &si, &zero);
    printf("then: %d %s\n", s, s < 0 ? strerror(errno) : "");

    /* 5. RLIMIT_SIGPENDING. */
    base = sigq();
    struct rlimit rl = {base + 4, base + 4};
    setrlimit(RLIMIT_SIGPENDING, &rl);
    int ok = 0, err = 0;
    for (int i = 0; i < 6; i++) {
        if (queue(me, r2, 100 + i) == 0)
            ok++;
        else
            err = errno;
    }
    printf("rlimit 4: queued %d, then %s\n", ok, strerror(err));
    printf("kill beyond the limit: %d\n", kill(me, r2));
    int taken = 0;
    while (sigtimedwait(&w, &si, &zero) == r2) taken++;
    printf("taken: %d\n", taken);
    rl.rlim_cur = rl.rlim_max = 1000;
    setrlimit(RLIMIT_SIGPENDING, &rl);

    /* 6. rt_sigqueueinfo's checks. */
    block(SIGRTMIN, SIG_BLOCK);
    pid_t child = fork();
    if (child == 0) {
        sigset_t cw;
        sigemptyset(&cw);
        sigaddset(&cw, SIGRTMIN);
        siginfo_t ci;
        int n = sigwaitinfo(&cw, &ci); /* SIGRTMIN is blocked (inherited) */
        _exit(n == SIGRTMIN && ci.si_code == SI_QUEUE ? ci.si_value.sival_int : 99);
    }
    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1;
    si.si_code = SI_USER;
    long r = syscall(SYS_rt_sigqueueinfo, child, SIGUSR1, &si);
    printf("SI_USER to another: %ld %s\n", r, strerror(errno));
    si.si_code = SI_TKILL;
    r = syscall(SYS_rt_sigqueueinfo, child, SIGUSR1, &si);
    printf("SI_TKILL to another: %ld %s\n", r, strerror(errno));
    si.si_code = SI_QUEUE;
    r = syscall(SYS_rt_sigqueueinfo, child, 65, &si);
    printf("signal 65: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_rt_sigqueueinfo, 99999, SIGUSR1, &si);
    printf("no such pid: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_rt_tgsigqueueinfo, 0, me, SIGUSR1, &si);
    printf("tgid 0: %ld %s\n", r, strerror(errno));
    r = syscall(SYS_rt_tgsigqueueinfo, child, me, SIGUSR1, &si);
    printf("wrong tgid: %ld %s\n", r, strerror(errno));
    si.si_code = SI_USER;
    si.si_value.sival_int = 77;
    r = syscall(SYS_rt_tgsigqueueinfo, me, gettid(), SIGUSR1, &si);
    printf("SI_USER to self: %ld, delivered %d value=%d code=%d\n", r, ngot, got_val[0], got_code[0]);
    ngot = 0;
    queue(child, SIGRTMIN, 7);
    int st;
    waitpid(child, &st, 0);
    printf("child got value %d\n", WEXITSTATUS(st));
    return 0;
}
