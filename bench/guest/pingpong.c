// Event round trips between two processes: each waits in epoll_wait on
// its own eventfd, reads it, and writes the other's. Prints the round
// trips made (the timing is the caller's).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void side(int mine, int theirs, long n, int first) {
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = mine};
    epoll_ctl(ep, EPOLL_CTL_ADD, mine, &ev);
    uint64_t one = 1, v;
    if (first && write(theirs, &one, 8) != 8) exit(1);
    for (long i = 0; i < n; i++) {
        if (epoll_wait(ep, &ev, 1, -1) != 1 || read(mine, &v, 8) != 8) exit(2);
        if ((!first || i + 1 < n) && write(theirs, &one, 8) != 8) exit(3);
    }
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 20000;
    int a = eventfd(0, 0), b = eventfd(0, 0);
    pid_t pid = fork();
    if (pid == 0) {
        side(b, a, n, 0);
        _exit(0);
    }
    side(a, b, n, 1);
    int st;
    waitpid(pid, &st, 0);
    printf("%ld round trips, child status %d\n", n, st);
    return 0;
}
