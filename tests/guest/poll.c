// ppoll, pselect6, close_range and the relisting of /proc/self/fd, as
// Python's subprocess and glibc's closefrom use them. Prints one line per
// check; tests/poll.rs compares them with qemu-riscv64 (the host's Linux).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int got_usr1;
static void on_usr1(int s) { (void)s; got_usr1++; }

static void show(const char *what, long r, short revents) {
    printf("%s: %ld%s%s revents=%#x\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "",
           (unsigned)(unsigned short)revents);
}

// A child that waits `ms` and then writes one byte to `fd` (or, if fd < 0,
// sends SIGUSR1 to its parent).
static pid_t later(int fd, int ms) {
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec d = {0, ms * 1000000L};
        nanosleep(&d, NULL);
        if (fd >= 0)
            write(fd, "x", 1);
        else
            kill(getppid(), SIGUSR1);
        _exit(0);
    }
    return pid;
}

static int count_fds(DIR *d) {
    int n = 0;
    struct dirent *e;
    rewinddir(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    return n;
}

int main(int argc, char **argv) {
    (void)argc;
    int p[2];
    struct timespec zero = {0, 0};
    if (pipe(p) != 0)
        return 1;
    struct pollfd f[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}};
    printf("== ppoll\n");
    long r = ppoll(f, 1, &zero, NULL);
    show("empty pipe, zero timeout", r, f[0].revents);
    r = ppoll(f, 3, &zero, NULL);
    printf("write end and fd -1: %ld %#x %#x %#x\n", r, f[0].revents, f[1].revents, f[2].revents);
    write(p[1], "ab", 2);
    r = ppoll(f, 1, NULL, NULL);
    show("two bytes waiting", r, f[0].revents);
    struct pollfd bad = {100, POLLIN, 0};
    r = ppoll(&bad, 1, &zero, NULL);
    show("closed fd", r, bad.revents);
    char buf[16];
    read(p[0], buf, sizeof buf);
    long t0 = now_ms();
    struct timespec ts = {0, 40 * 1000000L};
    r = ppoll(f, 1, &ts, NULL);
    show("timeout on an empty pipe", r, f[0].revents);
    printf("waited at least 40 ms: %d\n", now_ms() - t0 >= 40);
    pid_t c = later(p[1], 30);
    r = ppoll(f, 1, NULL, NULL);
    show("woken by a write from another process", r, f[0].revents);
    waitpid(c, NULL, 0);
    read(p[0], buf, sizeof buf);
    struct timespec badts = {0, 1000000000L};
    r = ppoll(f, 1, &badts, NULL);
    show("tv_nsec of 1e9", r, 0);
    r = syscall(SYS_ppoll, 8L, 1, &zero, NULL, 8);
    show("unreadable array", r, 0);
    struct rlimit rl = {16, 16};
    setrlimit(RLIMIT_NOFILE, &rl);
    struct pollfd many[17];
    for (int i = 0; i < 17; i++)
        many[i] = (struct pollfd){-1, 0, 0};
    r = ppoll(many, 17, &zero, NULL);
    show("nfds above RLIMIT_NOFILE", r, 0);
    r = ppoll(many, 16, &zero, NULL);
    show("nfds at RLIMIT_NOFILE", r, 0);
    r = syscall(SYS_ppoll, f, 1, &zero, &zero, 4);
    show("sigset size 4", r, 0);

    printf("== signals\n");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    c = later(-1, 30);
    r = ppoll(f, 1, NULL, NULL);
    show("signal with SA_RESTART (ppoll is never restarted)", r, 0);
    printf("handler ran %d\n", got_usr1);
    waitpid(c, NULL, 0);
    sigset_t block, during, after;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigemptyset(&during);
    c = later(-1, 30);
    r = ppoll(f, 1, NULL, &during);
    show("blocked signal let in by ppoll's mask", r, 0);
    sigprocmask(SIG_BLOCK, NULL, &after);
    printf("handler ran %d, blocked again after: %d\n", got_usr1, sigismember(&after, SIGUSR1));
    waitpid(c, NULL, 0);
    kill(getpid(), SIGUSR1);
    r = ppoll(f, 1, &zero, NULL);
    show("pending but blocked signal does not interrupt", r, 0);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    printf("handler ran %d once unblocked\n", got_usr1);

    printf("== hang-ups\n");
    int q[2];
    pipe(q);
    close(q[1]);
    struct pollfd h = {q[0], POLLIN, 0};
    r = ppoll(&h, 1, &zero, NULL);
    show("read end without writers", r, h.revents);
    close(q[0]);
    pipe(q);
    close(q[0]);
    h = (struct pollfd){q[1], POLLOUT, 0};
    signal(SIGPIPE, SIG_IGN);
    r = ppoll(&h, 1, &zero, NULL);
    show("write end without readers", r, h.revents);
    close(q[1]);
    int reg = open(argv[0], O_RDONLY);
    h = (struct pollfd){reg, POLLIN | POLLOUT | POLLPRI, 0};
    r = ppoll(&h, 1, NULL, NULL);
    show("regular file", r, h.revents);
    close(reg);

    printf("== pselect6\n");
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(p[0], &rd);
    FD_SET(p[1], &wr);
    r = pselect(p[1] + 1, &rd, &wr, NULL, &zero, NULL);
    printf("empty pipe: %ld read %d write %d\n", r, FD_ISSET(p[0], &rd), FD_ISSET(p[1], &wr));
    write(p[1], "z", 1);
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    FD_SET(p[1], &rd);
    r = pselect(p[1] + 1, &rd, NULL, NULL, NULL, NULL);
    printf("byte waiting: %ld read %d, write end readable %d\n", r, FD_ISSET(p[0], &rd), FD_ISSET(p[1], &rd));
    read(p[0], buf, 1);
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    t0 = now_ms();
    struct timespec t30 = {0, 30 * 1000000L};
    r = pselect(p[0] + 1, &rd, NULL, NULL, &t30, NULL);
    printf("timeout: %ld, set cleared %d, waited %d\n", r, !FD_ISSET(p[0], &rd), now_ms() - t0 >= 30);
    FD_ZERO(&rd);
    FD_SET(9, &rd);
    r = pselect(10, &rd, NULL, NULL, &zero, NULL);
    show("closed fd in the set", r, 0);
    r = pselect(-1, NULL, NULL, NULL, &zero, NULL);
    show("negative nfds", r, 0);
    r = pselect(0, NULL, NULL, NULL, &t30, NULL);
    show("no fds: a sleep", r, 0);

    printf("== close_range\n");
    for (int i = 5; i <= 8; i++)
        dup2(p[0], i);
    r = close_range(7, ~0U, 0);
    printf("close_range(7, ~0): %ld, fd 6 %d, fd 7 %d, fd 8 %d\n", r, fcntl(6, F_GETFD) >= 0,
           fcntl(7, F_GETFD) >= 0, fcntl(8, F_GETFD) >= 0);
    r = close_range(5, 6, CLOSE_RANGE_CLOEXEC);
    printf("CLOSE_RANGE_CLOEXEC: %ld, fd 5 cloexec %d, fd 6 cloexec %d\n", r, fcntl(5, F_GETFD),
           fcntl(6, F_GETFD));
    r = close_range(6, 5, 0);
    show("first > last", r, 0);
    r = close_range(5, 6, 1);
    show("unknown flag", r, 0);

    printf("== /proc/self/fd\n");
    DIR *d = opendir("/proc/self/fd");
    int before = count_fds(d);
    close(5);
    close(6);
    int after_close = count_fds(d);
    printf("two fewer after rewinding: %d\n", before - after_close);
    closedir(d);
    return 0;
}
