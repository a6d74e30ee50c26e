// What only cowix can be checked for (tests/sockets.rs expects this output
// exactly; qemu-riscv64 would use the host's network or translate the
// arguments): the guest's network has nothing but loopback, so other
// addresses are unreachable or not local; MSG_CTRUNC when descriptors do
// not fit; socket type bits Linux rejects; blocking waits that another
// process ends (accept, recv, a full stream, poll).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerror(errno));
    else
        printf("%s: %ld\n", what, r);
}

static struct sockaddr_in addr4(const char *ip, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static int wait_child(pid_t pid) {
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("== only loopback\n");
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in far = addr4("10.1.2.3", 80);
    show("connect 10.1.2.3", connect(s, (struct sockaddr *)&far, sizeof far));
    struct sockaddr_in dns = addr4("8.8.8.8", 53);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    show("sendto 8.8.8.8", sendto(u, "q", 1, 0, (struct sockaddr *)&dns, sizeof dns));
    show("bind 10.1.2.3", bind(s, (struct sockaddr *)&far, sizeof far));
    struct sockaddr_in lo2 = addr4("127.0.0.2", 0);
    show("bind 127.0.0.2", bind(s, (struct sockaddr *)&lo2, sizeof lo2));
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 g6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    inet_pton(AF_INET6, "2001:db8::1", &g6.sin6_addr);
    show("connect 2001:db8::1", connect(s6, (struct sockaddr *)&g6, sizeof g6));
    close(s);
    close(s6);
    close(u);

    printf("== argument checks\n");
    show("socket type 99", socket(AF_UNIX, 99, 0));
    show("socket type with bit 0x100", socket(AF_UNIX, SOCK_STREAM | 0x100, 0));
    show("socket AF_INET SOCK_SEQPACKET", socket(AF_INET, SOCK_SEQPACKET, 0));
    show("socket AF_NETLINK", socket(16, SOCK_RAW, 0));
    int sp[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
    int three[3] = {0, 1, 2};
    char ctl[CMSG_SPACE(sizeof three)];
    struct iovec iov = {"z", 1};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof three);
    memcpy(CMSG_DATA(cm), three, sizeof three);
    sendmsg(sp[0], &mh, 0);
    char b;
    struct iovec riov = {&b, 1};
    char rctl[CMSG_SPACE(sizeof(int))];
    struct msghdr rh = {0};
    rh.msg_iov = &riov;
    rh.msg_iovlen = 1;
    rh.msg_control = rctl;
    rh.msg_controllen = sizeof rctl;
    recvmsg(sp[1], &rh, 0);
    cm = CMSG_FIRSTHDR(&rh);
    printf("room for 2 of 3 fds: got %d MSG_CTRUNC %d\n",
           cm ? (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0,
           !!(rh.msg_flags & MSG_CTRUNC));
    close(sp[0]);
    close(sp[1]);

    printf("== blocking\n");
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        // Fill the stream, then the parent drains it while we block.
        static char chunk[65536];
        memset(chunk, 'x', sizeof chunk);
        long total = 0;
        for (int i = 0; i < 16; i++)
            total += write(sv[1], chunk, sizeof chunk);
        _exit(total == 16L * 65536 ? 0 : 1);
    }
    close(sv[1]);
    long got = 0;
    static char buf[100000];
    while (got < 16L * 65536) {
        ssize_t n = recv(sv[0], buf, sizeof buf, MSG_WAITALL);
        if (n <= 0)
            break;
        got += n;
    }
    printf("drained %ld bytes; writer exit %d\n", got, wait_child(pid));
    close(sv[0]);
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in lo = addr4("127.0.0.1", 0);
    bind(srv, (struct sockaddr *)&lo, sizeof lo);
    listen(srv, 0);
    socklen_t l = sizeof lo;
    getsockname(srv, (struct sockaddr *)&lo, &l);
    pid = fork();
    if (pid == 0) {
        // Connects late: the parent is blocked in accept meanwhile.
        for (int i = 0; i < 1000; i++)
            sched_yield();
        int c = socket(AF_INET, SOCK_STREAM, 0);
        connect(c, (struct sockaddr *)&lo, sizeof lo);
        for (int i = 0; i < 1000; i++)
            sched_yield();
        write(c, "late", 4);
        _exit(0);
    }
    int c = accept(srv, NULL, NULL);
    printf("blocking accept %d\n", c >= 0);
    struct pollfd p = {c, POLLIN, 0};
    show("poll waits for data", poll(&p, 1, -1));
    char word[8] = {0};
    show("read", read(c, word, sizeof word));
    printf("%s; child exit %d\n", word, wait_child(pid));
    show("read EOF", read(c, word, sizeof word));
    close(c);
    close(srv);
    printf("== done\n");
    return 0;
}
