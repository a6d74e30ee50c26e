/* SIGCHLD: a handler counts children; sigsuspend waits until all three
 * have exited, then wait reaps them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t exited;
static volatile int last_code, last_status;

static volatile sig_atomic_t usr1;
static void on_usr1(int sig) { usr1 = sig; }

static void on_chld(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    last_code = si->si_code;
    last_status = si->si_status;
    int st;
    while (waitpid(-1, &st, WNOHANG) > 0) exited++;
}

int main(void) {
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGCHLD, &sa, NULL);
    for (int i = 0; i < 3; i++) {
        if (fork() == 0) _exit(10 + i);
    }
    int wakeups = 0;
    while (exited < 3) {
        int r = sigsuspend(&old);
        wakeups++;
        if (r != -1) printf("sigsuspend returned %d\n", r);
    }
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    printf("all %d children exited; woke %s; last code=%d (CLD_EXITED=%d) status=%d; mask restored=%d\n",
           (int)exited, wakeups >= 1 ? "ok" : "never", last_code, CLD_EXITED, last_status >= 10,
           sigismember(&now, SIGCHLD));
    if (fork() == 0) {
        raise(SIGTERM);
        _exit(0);
    }
    while (exited < 4) sigsuspend(&old);
    printf("killed child: code=%d (CLD_KILLED=%d) status=%d\n", last_code, CLD_KILLED, last_status);
    /* A forked child inherits the handler (and the sigreturn trampoline). */
    signal(SIGUSR1, on_usr1);
    if (fork() == 0) {
        raise(SIGUSR1);
        _exit(usr1 + 30);
    }
    while (exited < 5) sigsuspend(&old);
    printf("child's own handler: status=%d\n", last_status);
    return 0;
}
