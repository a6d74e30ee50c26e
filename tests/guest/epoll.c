// epoll over pipes, eventfd and timerfd: level- vs edge-triggered and
// one-shot semantics, epoll_wait's timeout and signal mask, epoll of
// epoll, registrations that end with their description, and the errors
// of epoll_ctl and epoll_wait. Output is exact.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int wait_list(int ep, int timeout, const char *what) {
    struct epoll_event ev[8];
    int n = epoll_wait(ep, ev, 8, timeout);
    printf("%s: %d", what, n);
    for (int i = 0; i < n; i++) printf(" [%llu:%s%s%s]", (unsigned long long)ev[i].data.u64,
                                       ev[i].events & EPOLLIN ? "IN" : "",
                                       ev[i].events & EPOLLOUT ? "OUT" : "",
                                       ev[i].events & EPOLLHUP ? "HUP" : "");
    if (n < 0) printf(" %s", strerror(errno));
    printf("\n");
    return n;
}

static void add(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data.u64 = data};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("epoll_ctl ADD");
        exit(1);
    }
}

static long ms_since(struct timespec *a) {
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

static void on_alrm(int s) { (void)s; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int lt[2], et[2];
    if (pipe(lt) || pipe(et)) return 1;
    int efd = eventfd(0, EFD_NONBLOCK);
    add(ep, lt[0], EPOLLIN, 1);
    add(ep, et[0], EPOLLIN | EPOLLET, 2);
    add(ep, efd, EPOLLIN | EPOLLONESHOT, 3);
    wait_list(ep, 0, "nothing ready");

    // Level-triggered: reported while data waits.
    write(lt[1], "ab", 2);
    wait_list(ep, 0, "level, data");
    wait_list(ep, 0, "level, same data");
    char buf[8];
    read(lt[0], buf, 2);
    wait_list(ep, 0, "level, drained");

    // Edge-triggered: once per write, not again for the same data.
    write(et[1], "abc", 3);
    wait_list(ep, 0, "edge, write");
    wait_list(ep, 0, "edge, no new write");
    read(et[0], buf, 1);
    wait_list(ep, 0, "edge, after a partial read");
    write(et[1], "d", 1);
    wait_list(ep, 0, "edge, another write");
    read(et[0], buf, 8);

    // Edge-triggered write end: reported again only when a read makes
    // room in a full pipe.
    int wp[2];
    pipe(wp);
    fcntl(wp[1], F_SETFL, O_NONBLOCK);
    add(ep, wp[1], EPOLLOUT | EPOLLET, 9);
    wait_list(ep, 0, "edge write end");
    wait_list(ep, 0, "edge write end, again");
    write(wp[1], "a", 1);
    read(wp[0], buf, 1);
    wait_list(ep, 0, "edge write end, read of a non-full pipe");
    static char big[4096];
    while (write(wp[1], big, sizeof big) > 0) {
    }
    wait_list(ep, 0, "edge write end, full");
    read(wp[0], big, sizeof big);
    read(wp[0], big, sizeof big);
    wait_list(ep, 0, "edge write end, room made");
    epoll_ctl(ep, EPOLL_CTL_DEL, wp[1], NULL);

    // One-shot: once, until EPOLL_CTL_MOD re-arms it.
    uint64_t one = 1;
    write(efd, &one, 8);
    wait_list(ep, 0, "oneshot");
    write(efd, &one, 8);
    wait_list(ep, 0, "oneshot, disabled");
    struct epoll_event mod = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 33};
    epoll_ctl(ep, EPOLL_CTL_MOD, efd, &mod);
    wait_list(ep, 0, "oneshot, re-armed");
    epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL);

    // A write end: EPOLLOUT; a closed write end: EPOLLHUP on the read end.
    add(ep, lt[1], EPOLLOUT, 4);
    wait_list(ep, 0, "write end");
    epoll_ctl(ep, EPOLL_CTL_DEL, lt[1], NULL);
    close(lt[1]);
    wait_list(ep, 0, "writer gone");
    epoll_ctl(ep, EPOLL_CTL_DEL, lt[0], NULL);

    // timerfd: the wait blocks until it expires.
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    add(ep, tfd, EPOLLIN, 5);
    struct itimerspec its = {{0, 0}, {0, 30000000}};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    timerfd_settime(tfd, 0, &its, NULL);
    wait_list(ep, -1, "timerfd, blocking");
    printf("waited >= 25 ms: %s\n", ms_since(&t0) >= 25 ? "yes" : "no");
    uint64_t ticks;
    read(tfd, &ticks, 8);
    epoll_ctl(ep, EPOLL_CTL_DEL, tfd, NULL);

    // A timeout with nothing ready.
    clock_gettime(CLOCK_MONOTONIC, &t0);
    wait_list(ep, 50, "timeout 50 ms");
    printf("waited >= 45 ms: %s\n", ms_since(&t0) >= 45 ? "yes" : "no");
    struct timespec to = {0, 30000000};
    struct epoll_event ev2[2];
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("epoll_pwait2 30 ms: %ld, waited >= 25 ms %s\n",
           syscall(SYS_epoll_pwait2, ep, ev2, 2, &to, NULL, 8), ms_since(&t0) >= 25 ? "yes" : "no");
    struct timespec badto = {0, 1000000000};
    errno = 0;
    printf("epoll_pwait2 bad timeout: %ld %s\n", syscall(SYS_epoll_pwait2, ep, ev2, 2, &badto, NULL, 8),
           strerror(errno));

    // Data from another process wakes a blocked wait.
    int cp[2];
    pipe(cp);
    add(ep, cp[0], EPOLLIN, 6);
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        write(cp[1], "z", 1);
        _exit(0);
    }
    wait_list(ep, -1, "woken by a child");
    waitpid(pid, NULL, 0);
    read(cp[0], buf, 1);

    // epoll_pwait's mask: SIGALRM blocked except while waiting.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sigaction(SIGALRM, &sa, NULL);
    sigset_t block, waitmask, after;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigemptyset(&waitmask);
    ualarm(20000, 0);
    struct epoll_event ev[2];
    int n = epoll_pwait(ep, ev, 2, -1, &waitmask);
    printf("epoll_pwait: %d %s\n", n, strerror(errno));
    sigprocmask(SIG_BLOCK, NULL, &after);
    printf("SIGALRM blocked again: %s\n", sigismember(&after, SIGALRM) ? "yes" : "no");

    // epoll of epoll: the inner is readable when it has something ready.
    int inner = epoll_create1(0);
    int ip[2];
    pipe(ip);
    add(inner, ip[0], EPOLLIN, 70);
    int outer = epoll_create1(0);
    add(outer, inner, EPOLLIN, 71);
    wait_list(outer, 0, "outer, inner idle");
    write(ip[1], "q", 1);
    wait_list(outer, 0, "outer, inner ready");
    struct epoll_event loop = {.events = EPOLLIN};
    errno = 0;
    printf("cycle: %d %s\n", epoll_ctl(inner, EPOLL_CTL_ADD, outer, &loop), strerror(errno));
    int chain[6];
    chain[0] = epoll_create1(0);
    int depth_err = 0, depth = 0;
    for (int i = 1; i < 6; i++) {
        chain[i] = epoll_create1(0);
        struct epoll_event e = {.events = EPOLLIN};
        if (epoll_ctl(chain[i], EPOLL_CTL_ADD, chain[i - 1], &e) != 0) {
            depth_err = errno;
            break;
        }
        depth = i;
    }
    printf("nesting: %d levels, then %s\n", depth, strerror(depth_err));

    // A registration lives as long as its description: a dup keeps it.
    int d[2];
    pipe(d);
    int ep2 = epoll_create1(0);
    add(ep2, d[0], EPOLLIN, 80);
    int keep = dup(d[0]);
    close(d[0]);
    write(d[1], "k", 1);
    wait_list(ep2, 0, "fd closed, dup open");
    errno = 0;
    printf("DEL of the closed fd: %d %s\n", epoll_ctl(ep2, EPOLL_CTL_DEL, d[0], NULL), strerror(errno));
    close(keep);
    int again[2];
    pipe(again); // takes the freed numbers
    struct epoll_event re = {.events = EPOLLIN, .data.u64 = 81};
    printf("same fd number, new description: ADD %d\n", epoll_ctl(ep2, EPOLL_CTL_ADD, again[0], &re));
    wait_list(ep2, 0, "only the new one");

    // Errors.
    struct epoll_event e = {.events = EPOLLIN};
    errno = 0;
    printf("ADD twice: %d %s\n", epoll_ctl(ep2, EPOLL_CTL_ADD, again[0], &e), strerror(errno));
    errno = 0;
    printf("MOD missing: %d %s\n", epoll_ctl(ep2, EPOLL_CTL_MOD, again[1], &e), strerror(errno));
    errno = 0;
    printf("DEL missing: %d %s\n", epoll_ctl(ep2, EPOLL_CTL_DEL, again[1], &e), strerror(errno));
    errno = 0;
    printf("epfd itself: %d %s\n", epoll_ctl(ep2, EPOLL_CTL_ADD, ep2, &e), strerror(errno));
    errno = 0;
    printf("not an epoll: %d %s\n", epoll_ctl(again[1], EPOLL_CTL_ADD, again[0], &e), strerror(errno));
    errno = 0;
    printf("bad op: %d %s\n", epoll_ctl(ep2, 9, again[1], &e), strerror(errno));
    errno = 0;
    printf("closed fd: %d %s\n", epoll_ctl(ep2, EPOLL_CTL_ADD, 999, &e), strerror(errno));
    int reg = open("/proc/self/exe", O_RDONLY);
    errno = 0;
    printf("regular file: %d %s\n", epoll_ctl(ep2, EPOLL_CTL_ADD, reg, &e), strerror(errno));
    struct epoll_event ex = {.events = EPOLLIN | EPOLLEXCLUSIVE};
    printf("EPOLLEXCLUSIVE add: %d\n", epoll_ctl(ep2, EPOLL_CTL_ADD, again[1], &ex));
    errno = 0;
    printf("EPOLLEXCLUSIVE mod: %d %s\n", epoll_ctl(ep2, EPOLL_CTL_MOD, again[1], &ex), strerror(errno));
    errno = 0;
    printf("EPOLLEXCLUSIVE on an epoll: %d %s\n", epoll_ctl(outer, EPOLL_CTL_ADD, ep2, &ex), strerror(errno));
    errno = 0;
    printf("bad event pointer: %d %s\n", epoll_ctl(ep2, EPOLL_CTL_MOD, again[0], (void *)8), strerror(errno));
    errno = 0;
    printf("maxevents 0: %d %s\n", epoll_wait(ep2, ev, 0, 0), strerror(errno));
    errno = 0;
    printf("wait on a pipe: %d %s\n", epoll_wait(again[0], ev, 1, 0), strerror(errno));
    errno = 0;
    printf("wait on a closed fd: %d %s\n", epoll_wait(999, ev, 1, 0), strerror(errno));
    errno = 0;
    printf("bad flags: %d %s\n", epoll_create1(1), strerror(errno));
    errno = 0;
    printf("epoll read: %zd %s\n", read(ep2, buf, 8), strerror(errno));
    return 0;
}
