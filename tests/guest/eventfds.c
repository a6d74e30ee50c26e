// eventfd (counter and semaphore modes, across fork, overflow blocking),
// timerfd (periodic reads, absolute times, gettime, errors) and signalfd
// (reading blocked pending signals, sigqueue values, several at once,
// errors). Output is exact.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t rd(int fd, int *err) {
    uint64_t v = 0;
    ssize_t n = read(fd, &v, 8);
    *err = n < 0 ? errno : 0;
    return n == 8 ? v : (uint64_t)-1;
}

static void wr(int fd, uint64_t v) {
    if (write(fd, &v, 8) != 8) {
        perror("write");
        exit(1);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int err;

    // eventfd: the counter adds writes; a read takes it all.
    int e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    wr(e, 3);
    wr(e, 4);
    printf("counter: read %llu\n", (unsigned long long)rd(e, &err));
    rd(e, &err);
    printf("empty nonblocking read: %s\n", strerror(err));
    char small[4];
    errno = 0;
    printf("4-byte read: %zd %s\n", read(e, small, 4), strerror(errno));
    uint64_t max = UINT64_MAX;
    errno = 0;
    printf("write of 2^64-1: %zd %s\n", write(e, &max, 8), strerror(errno));
    wr(e, UINT64_MAX - 1);
    uint64_t one = 1;
    errno = 0;
    printf("overflowing write: %zd %s\n", write(e, &one, 8), strerror(errno));
    struct pollfd pfd = {e, POLLIN | POLLOUT, 0};
    poll(&pfd, 1, 0);
    printf("poll at max-1: in %d out %d\n", !!(pfd.revents & POLLIN), !!(pfd.revents & POLLOUT));
    close(e);

    // Semaphore mode: each read takes 1.
    int s = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
    for (int i = 0; i < 3; i++) printf("semaphore read %d: %llu\n", i, (unsigned long long)rd(s, &err));
    rd(s, &err);
    printf("semaphore empty: %s\n", strerror(err));
    errno = 0;
    printf("eventfd bad flags: %d %s\n", eventfd(0, 0x40), strerror(errno));
    struct stat st;
    fstat(s, &st);
    printf("fstat mode %o\n", st.st_mode);
    close(s);

    // Across fork: the parent's blocking read waits for the child's write.
    int b = eventfd(0, 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        wr(b, 5);
        _exit(0);
    }
    printf("blocking read across fork: %llu\n", (unsigned long long)rd(b, &err));
    waitpid(pid, NULL, 0);
    // A write that would overflow blocks until the other side reads.
    wr(b, UINT64_MAX - 1);
    pid = fork();
    if (pid == 0) {
        wr(b, 2);
        _exit(0);
    }
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    int st2;
    printf("writer still blocked: %s\n", waitpid(pid, &st2, WNOHANG) == 0 ? "yes" : "no");
    printf("read frees it: %llu\n", (unsigned long long)rd(b, &err));
    waitpid(pid, &st2, 0);
    printf("writer done: exit %d, counter %llu\n", WEXITSTATUS(st2), (unsigned long long)rd(b, &err));
    // Semaphore across fork: parent and child each take one.
    int sem = eventfd(2, EFD_SEMAPHORE);
    pid = fork();
    if (pid == 0) _exit((int)rd(sem, &err));
    waitpid(pid, &st2, 0);
    printf("semaphore across fork: child got %d, parent gets %llu\n", WEXITSTATUS(st2),
           (unsigned long long)rd(sem, &err));

    // timerfd: a periodic 10 ms timer; blocking reads count expirations.
    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 10000000}, {0, 10000000}};
    timerfd_settime(t, 0, &its, NULL);
    uint64_t total = 0;
    int reads = 0;
    while (total < 5) {
        uint64_t n = rd(t, &err);
        if (n == 0 || n == (uint64_t)-1) break;
        total += n;
        reads++;
    }
    struct itimerspec cur;
    timerfd_gettime(t, &cur);
    printf("timerfd: >= 5 expirations in %s reads, interval %ld ns, next within 10 ms %s\n",
           reads <= 5 ? "<= 5" : "> 5", cur.it_interval.tv_nsec,
           cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec <= 10000000 ? "yes" : "no");
    // Absolute, in the past: one expiration at once.
    struct itimerspec abs = {{0, 0}, {0, 1}};
    struct itimerspec old;
    timerfd_settime(t, TFD_TIMER_ABSTIME, &abs, &old);
    printf("absolute past: %llu, old interval %ld ns\n", (unsigned long long)rd(t, &err),
           old.it_interval.tv_nsec);
    // Nonblocking, not yet expired: EAGAIN.
    int tn = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    struct itimerspec later = {{0, 0}, {10, 0}};
    timerfd_settime(tn, 0, &later, NULL);
    rd(tn, &err);
    printf("not expired: %s\n", strerror(err));
    struct itimerspec zero = {{0, 0}, {0, 0}};
    timerfd_settime(tn, 0, &zero, NULL);
    timerfd_gettime(tn, &cur);
    printf("disarmed gettime: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
    errno = 0;
    printf("timerfd bad clock: %d %s\n", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), strerror(errno));
    errno = 0;
    printf("timerfd bad flags: %d %s\n", timerfd_create(CLOCK_MONOTONIC, 1), strerror(errno));
    errno = 0;
    printf("settime on an eventfd: %d %s\n", timerfd_settime(b, 0, &its, NULL), strerror(errno));
    struct itimerspec badns = {{0, 0}, {0, 1000000000}};
    errno = 0;
    printf("settime bad nsec: %d %s\n", timerfd_settime(t, 0, &badns, NULL), strerror(errno));
    errno = 0;
    printf("settime bad flags: %d %s\n", timerfd_settime(t, 4, &its, NULL), strerror(errno));

    // signalfd: blocked signals are read, not delivered.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigaddset(&mask, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK);
    kill(getpid(), SIGUSR1);
    struct signalfd_siginfo si;
    ssize_t n = read(sfd, &si, sizeof si);
    printf("signalfd: %zd bytes, signo %u, from me %s, code %d\n", n, si.ssi_signo,
           si.ssi_pid == (uint32_t)getpid() ? "yes" : "no", si.ssi_code);
    errno = 0;
    printf("nothing pending: %zd %s\n", read(sfd, &si, sizeof si), strerror(errno));
    union sigval v = {.sival_int = 1234};
    sigqueue(getpid(), SIGRTMIN, v);
    kill(getpid(), SIGUSR2);
    struct signalfd_siginfo two[4];
    n = read(sfd, two, sizeof two);
    printf("two at once: %zd bytes, %u then %u (int %d)\n", n, two[0].ssi_signo,
           two[1].ssi_signo - SIGRTMIN, two[1].ssi_int);
    errno = 0;
    printf("short buffer: %zd %s\n", read(sfd, small, 4), strerror(errno));
    sigset_t other;
    sigemptyset(&other);
    sigaddset(&other, SIGUSR2);
    printf("mask update keeps fd: %s\n", signalfd(sfd, &other, 0) == sfd ? "yes" : "no");
    kill(getpid(), SIGUSR1);
    errno = 0;
    printf("USR1 not in the new mask: %zd %s\n", read(sfd, &si, sizeof si), strerror(errno));
    struct pollfd sp = {sfd, POLLIN, 0};
    printf("poll with USR1 pending: %d\n", poll(&sp, 1, 0));
    kill(getpid(), SIGUSR2);
    printf("poll with USR2 pending: %d\n", poll(&sp, 1, 0));
    errno = 0;
    printf("signalfd of an eventfd: %d %s\n", signalfd(b, &mask, 0), strerror(errno));
    errno = 0;
    printf("signalfd bad flags: %d %s\n", signalfd(-1, &mask, 1), strerror(errno));
    // A blocking signalfd read waits for a signal from a child.
    int sb = signalfd(-1, &mask, 0);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigwaitinfo(&usr1, NULL); // drop the pending USR1
    read(sfd, &si, sizeof si); // and USR2
    pid = fork();
    if (pid == 0) {
        nanosleep(&ts, NULL);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    n = read(sb, &si, sizeof si);
    printf("blocking signalfd read: %zd signo %u from child %s\n", n, si.ssi_signo,
           si.ssi_pid == (uint32_t)pid ? "yes" : "no");
    waitpid(pid, NULL, 0);
    return 0;
}
