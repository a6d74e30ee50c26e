// /proc/self/fdinfo of an eventfd, a signalfd, a timerfd and an epoll.
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <signal.h>
#include <unistd.h>
int main(void) {
    int e = eventfd(5, EFD_SEMAPHORE);
    sigset_t m; sigemptyset(&m); sigaddset(&m, SIGUSR1);
    int s = signalfd(-1, &m, 0);
    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{2, 0}, {100, 0}};
    timerfd_settime(t, 0, &its, NULL);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = 0x1234};
    epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev);
    char path[64], buf[512];
    int fds[] = {e, s, t, ep};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fds[i]);
        FILE *f = fopen(path, "r");
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        printf("--- %d\n%s", fds[i], buf);
        fclose(f);
    }
    return 0;
}
