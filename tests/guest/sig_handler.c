/* Guest signal handlers: raise() with a plain handler, an SA_SIGINFO
 * handler's siginfo, a blocked signal that stays pending until unblocked,
 * SA_RESETHAND, registers preserved across a handler. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t flag;
static volatile int info_signo, info_code, info_pid_ok, nested_blocked;

static void on_usr1(int sig) { flag = sig; }

static void on_info(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    info_signo = si->si_signo;
    info_code = si->si_code;
    info_pid_ok = si->si_pid == getpid();
    sigset_t cur;
    sigprocmask(SIG_SETMASK, NULL, &cur);
    nested_blocked = sigismember(&cur, sig);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    double d = 1.5;
    raise(SIGUSR1);
    printf("handler ran: flag=%d d=%g\n", flag, d * 2);

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    printf("siginfo: signo=%d code=%d pid_ok=%d blocked_in_handler=%d\n", info_signo, info_code,
           info_pid_ok, nested_blocked);
    info_signo = 0;
    kill(getpid(), SIGUSR2);
    printf("kill: signo=%d code=%d pid_ok=%d\n", info_signo, info_code, info_pid_ok);

    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    flag = 0;
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    sigpending(&pend);
    printf("blocked: flag=%d pending=%d\n", flag, sigismember(&pend, SIGUSR1));
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    sigpending(&pend);
    printf("unblocked: flag=%d pending=%d\n", flag, sigismember(&pend, SIGUSR1));

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGUSR1, &sa, NULL);
    flag = 0;
    raise(SIGUSR1);
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    printf("resethand: flag=%d now default=%d\n", flag, old.sa_handler == SIG_DFL);
    sigset_t w;
    sigemptyset(&w);
    sigaddset(&w, SIGUSR2);
    sigprocmask(SIG_BLOCK, &w, NULL);
    info_signo = 0;
    raise(SIGUSR2);
    siginfo_t si;
    int got = sigwaitinfo(&w, &si);
    printf("sigwaitinfo: %d code=%d handler ran=%d\n", got, si.si_code, info_signo != 0);
    struct timespec ts = {0, 10 * 1000 * 1000};
    got = sigtimedwait(&w, &si, &ts);
    printf("sigtimedwait: %d %s\n", got, got < 0 ? strerror(errno) : "");
    signal(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    printf("ignored ok\n");
    fflush(stdout);
    signal(SIGUSR1, SIG_DFL);
    raise(SIGUSR1);
    printf("not reached\n");
    return 0;
}
