// AF_UNIX sockets between processes: socketpair echo across fork, message
// boundaries of SOCK_DGRAM and SOCK_SEQPACKET, a path server and client
// (bind, listen, accept, connect, stat, unlink), abstract names and
// autobind, SCM_RIGHTS (a pipe and a file whose offset is shared),
// SCM_CREDENTIALS, SO_PEERCRED, EPIPE/SIGPIPE, ECONNRESET, and errors.
// Prints one line per check; tests/sockets.rs compares them with
// qemu-riscv64 (the host's Linux).
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerror(errno));
    else
        printf("%s: %ld\n", what, r);
}

static socklen_t path_addr(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    memcpy(a->sun_path + 1, name, strlen(name));
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static int wait_child(pid_t pid) {
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void pair_echo(void) {
    printf("== socketpair echo\n");
    int sv[2];
    show("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        char buf[64];
        ssize_t n;
        while ((n = read(sv[1], buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                buf[i] = toupper((unsigned char)buf[i]);
            write(sv[1], buf, n);
        }
        _exit(n == 0 ? 0 : 1);
    }
    close(sv[1]);
    const char *msgs[] = {"hello", "cowix sockets", "bye"};
    for (int i = 0; i < 3; i++) {
        char buf[64] = {0};
        write(sv[0], msgs[i], strlen(msgs[i]));
        ssize_t n = read(sv[0], buf, sizeof buf - 1);
        printf("echo %zd: %s\n", n, buf);
    }
    show("shutdown SHUT_WR", shutdown(sv[0], SHUT_WR));
    char c;
    show("read after the child saw EOF", read(sv[0], &c, 1));
    printf("child exit %d\n", wait_child(pid));
    struct stat st;
    fstat(sv[0], &st);
    printf("S_ISSOCK %d\n", S_ISSOCK(st.st_mode));
    char link[64], proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", sv[0]);
    ssize_t n = readlink(proc, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("fd link starts socket:[ %d\n", strncmp(link, "socket:[", 8) == 0);
    close(sv[0]);
}

static void boundaries(void) {
    printf("== message boundaries\n");
    int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    const char *names[] = {"stream", "dgram", "seqpacket"};
    for (int t = 0; t < 3; t++) {
        int sv[2];
        socketpair(AF_UNIX, types[t], 0, sv);
        send(sv[0], "a", 1, 0);
        send(sv[0], "bb", 2, 0);
        send(sv[0], "hello world", 11, 0);
        int avail = -1;
        ioctl(sv[1], FIONREAD, &avail);
        char buf[64];
        ssize_t peek = recv(sv[1], buf, sizeof buf, MSG_PEEK);
        ssize_t a = recv(sv[1], buf, sizeof buf, 0);
        printf("%s: FIONREAD %d peek %zd first %zd\n", names[t], avail, peek, a);
        if (t > 0) {
            ssize_t b = recv(sv[1], buf, sizeof buf, 0);
            struct iovec iov = {buf, 5};
            struct msghdr mh = {0};
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            ssize_t c = recvmsg(sv[1], &mh, 0);
            printf("%s: second %zd third %zd [%.*s] MSG_TRUNC %d\n", names[t], b, c, (int)c,
                   buf, !!(mh.msg_flags & MSG_TRUNC));
            send(sv[0], "0123456789", 10, 0);
            printf("%s: recv MSG_TRUNC returns %zd\n", names[t],
                   recv(sv[1], buf, 4, MSG_TRUNC));
        }
        errno = 0;
        show("empty MSG_DONTWAIT", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
        close(sv[0]);
        show("after peer close (dontwait)", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
        close(sv[1]);
    }
}

static void path_server(void) {
    printf("== path server\n");
    char path[80];
    snprintf(path, sizeof path, "/tmp/cowix-sock-%d", getpid());
    unlink(path);
    struct sockaddr_un a;
    socklen_t len = path_addr(&a, path);
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    show("listen before bind", listen(srv, 5));
    show("bind", bind(srv, (struct sockaddr *)&a, len));
    struct stat st;
    show("stat", stat(path, &st));
    printf("stat S_ISSOCK %d\n", S_ISSOCK(st.st_mode));
    show("open of a socket node", open(path, O_RDWR));
    int other = socket(AF_UNIX, SOCK_STREAM, 0);
    show("second bind to the path", bind(other, (struct sockaddr *)&a, len));
    show("connect before listen", connect(other, (struct sockaddr *)&a, len));
    close(other);
    show("listen", listen(srv, 5));
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&a, len) < 0)
            _exit(2);
        struct ucred cr;
        socklen_t cl = sizeof cr;
        getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl);
        write(c, "hello from client", 17);
        char buf[64] = {0};
        read(c, buf, sizeof buf - 1);
        _exit(strcmp(buf, "welcome") == 0 && cr.pid == getppid() ? 0 : 3);
    }
    struct sockaddr_un peer;
    socklen_t pl = sizeof peer;
    int s = accept(srv, (struct sockaddr *)&peer, &pl);
    printf("accept ok %d peer len %u\n", s >= 0, pl);
    struct sockaddr_un me;
    socklen_t ml = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &ml);
    printf("accepted socket's name is the path %d (len ok %d)\n", strcmp(me.sun_path, path) == 0,
           ml == len);
    struct ucred cr;
    socklen_t cl = sizeof cr;
    show("SO_PEERCRED", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    printf("peer pid is the child %d uid %d gid %d\n", cr.pid == pid, cr.uid == geteuid(),
           cr.gid == getegid());
    char buf[64] = {0};
    read(s, buf, sizeof buf - 1);
    printf("server got: %s\n", buf);
    write(s, "welcome", 7);
    printf("client exit %d\n", wait_child(pid));
    show("read after client exit", read(s, buf, sizeof buf));
    close(s);
    close(srv);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect after the server closed", connect(c, (struct sockaddr *)&a, len));
    show("unlink", unlink(path));
    show("connect after unlink", connect(c, (struct sockaddr *)&a, len));
    close(c);
    // A regular file is not a socket.
    int f = open(path, O_CREAT | O_WRONLY, 0600);
    close(f);
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect to a regular file", connect(c, (struct sockaddr *)&a, len));
    unlink(path);
    close(c);
}

static void abstract_names(void) {
    printf("== abstract names\n");
    char name[64];
    snprintf(name, sizeof name, "cowix-abstract-%d", getpid());
    struct sockaddr_un a;
    socklen_t len = abstract_addr(&a, name);
    int srv = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show("bind abstract", bind(srv, (struct sockaddr *)&a, len));
    int dup = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show("bind the same name", bind(dup, (struct sockaddr *)&a, len));
    close(dup);
    listen(srv, 1);
    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    getsockname(srv, (struct sockaddr *)&got, &gl);
    printf("getsockname len %d same %d\n", gl == len, memcmp(&got, &a, len) == 0);
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    show("connect abstract", connect(c, (struct sockaddr *)&a, len));
    int stream = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect stream to seqpacket", connect(stream, (struct sockaddr *)&a, len));
    close(stream);
    int s = accept(srv, NULL, NULL);
    send(c, "one", 3, 0);
    send(c, "two!", 4, 0);
    char buf[16];
    ssize_t n1 = recv(s, buf, sizeof buf, 0);
    ssize_t n2 = recv(s, buf, sizeof buf, 0);
    printf("seqpacket over abstract: %zd %zd\n", n1, n2);
    gl = sizeof got;
    getpeername(c, (struct sockaddr *)&got, &gl);
    printf("getpeername is the server %d\n", gl == len && memcmp(&got, &a, len) == 0);
    close(s);
    close(c);
    close(srv);
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect to a closed abstract name", connect(c, (struct sockaddr *)&a, len));
    // Autobind: a name of five hex digits in the abstract namespace.
    struct sockaddr_un fam = {.sun_family = AF_UNIX};
    show("autobind", bind(c, (struct sockaddr *)&fam, sizeof(sa_family_t)));
    gl = sizeof got;
    getsockname(c, (struct sockaddr *)&got, &gl);
    printf("autobind name len %u abstract %d\n", gl, got.sun_path[0] == 0);
    close(c);
}

static int send_fds(int sock, const int *fds, int n, const char *byte) {
    char ctl[CMSG_SPACE(sizeof(int) * 4)];
    memset(ctl, 0, sizeof ctl);
    struct iovec iov = {(void *)byte, 1};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    return sendmsg(sock, &mh, 0);
}

// Receives up to `room` descriptors into fds; returns how many came.
static int recv_fds(int sock, int *fds, int room, int *flags) {
    char ctl[CMSG_SPACE(sizeof(int) * 4)];
    char b;
    struct iovec iov = {&b, 1};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * room);
    if (recvmsg(sock, &mh, 0) < 0)
        return -1;
    *flags = mh.msg_flags;
    int n = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds, CMSG_DATA(cm), n * sizeof(int));
        }
    return n;
}

static void scm_rights(void) {
    printf("== SCM_RIGHTS\n");
    char path[80];
    snprintf(path, sizeof path, "/tmp/cowix-scm-%d", getpid());
    int file = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    write(file, "0123456789", 10);
    lseek(file, 3, SEEK_SET);
    int pfd[2];
    pipe(pfd);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        close(pfd[0]);
        close(pfd[1]);
        close(file);
        int fds[4], flags;
        int n = recv_fds(sv[1], fds, 4, &flags);
        if (n != 2)
            _exit(2);
        write(fds[0], "through the passed pipe", 23);
        char buf[4] = {0};
        read(fds[1], buf, 3); // from the shared offset 3
        _exit(strcmp(buf, "345") == 0 ? 0 : 3);
    }
    close(sv[1]);
    int fds[2] = {pfd[1], file};
    show("sendmsg with 2 fds", send_fds(sv[0], fds, 2, "x"));
    close(pfd[1]);
    printf("child exit %d\n", wait_child(pid));
    char buf[64] = {0};
    read(pfd[0], buf, sizeof buf - 1);
    printf("parent read from the pipe: %s\n", buf);
    printf("shared offset now %ld\n", (long)lseek(file, 0, SEEK_CUR));
    show("read from the pipe after the child's copy closed", read(pfd[0], buf, 1));
    close(sv[0]);
    int three[3] = {0, 1, 2};
    int got[4], flags = 0, n;
    int sp[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
    send_fds(sp[0], three, 3, "z");
    n = recv_fds(sp[1], got, 4, &flags);
    printf("three fds: got %d MSG_CTRUNC %d\n", n, !!(flags & MSG_CTRUNC));
    int bad[1] = {999};
    show("sendmsg with a closed fd", send_fds(sp[0], bad, 1, "q"));
    // SCM_CREDENTIALS with SO_PASSCRED.
    int on = 1;
    setsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    send(sp[0], "c", 1, 0);
    char ctl[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = {buf, 1};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    show("recvmsg with SO_PASSCRED", recvmsg(sp[1], &mh, 0));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    struct ucred uc = {0};
    if (cm && cm->cmsg_type == SCM_CREDENTIALS)
        memcpy(&uc, CMSG_DATA(cm), sizeof uc);
    printf("SCM_CREDENTIALS pid is mine %d uid %d\n", uc.pid == getpid(), uc.uid == getuid());
    // Sending others' credentials is refused.
    struct ucred fake = {getpid() + 1000, getuid(), getgid()};
    memset(ctl, 0, sizeof ctl);
    mh.msg_controllen = sizeof ctl;
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_CREDENTIALS;
    cm->cmsg_len = CMSG_LEN(sizeof fake);
    memcpy(CMSG_DATA(cm), &fake, sizeof fake);
    if (geteuid() != 0)
        show("sendmsg with another pid's credentials", sendmsg(sp[0], &mh, 0));
    else
        printf("sendmsg with another pid's credentials: -1 Operation not permitted\n");
    close(sp[0]);
    close(sp[1]);
    close(pfd[0]);
    close(file);
    unlink(path);
}

static int sigpipes;
static void on_pipe(int s) { (void)s; sigpipes++; }

static void broken(void) {
    printf("== EPIPE and ECONNRESET\n");
    signal(SIGPIPE, on_pipe);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    show("write to a closed peer", write(sv[0], "x", 1));
    printf("SIGPIPE count %d\n", sigpipes);
    show("send MSG_NOSIGNAL", send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("SIGPIPE count %d\n", sigpipes);
    struct pollfd p = {sv[0], POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&p, 1, 0);
    printf("poll of the survivor %#x\n", p.revents);
    show("read at EOF", read(sv[0], &p, 1));
    close(sv[0]);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "unread", 6);
    close(sv[1]);
    p.fd = sv[0];
    poll(&p, 1, 0);
    printf("poll after the peer closed unread %#x\n", p.revents);
    show("read after the peer closed unread", read(sv[0], &p, 1));
    show("read again", read(sv[0], &p, 1));
    close(sv[0]);
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    close(sv[1]);
    show("dgram send to a closed peer", send(sv[0], "x", 1, MSG_NOSIGNAL));
    close(sv[0]);
    signal(SIGPIPE, SIG_DFL);
}

static void mmsg_and_select(void) {
    printf("== sendmmsg, recvmmsg, select\n");
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct mmsghdr out[3];
    struct iovec oiov[3];
    const char *words[] = {"alpha", "be", "gamma!"};
    memset(out, 0, sizeof out);
    for (int i = 0; i < 3; i++) {
        oiov[i].iov_base = (void *)words[i];
        oiov[i].iov_len = strlen(words[i]);
        out[i].msg_hdr.msg_iov = &oiov[i];
        out[i].msg_hdr.msg_iovlen = 1;
    }
    show("sendmmsg", sendmmsg(sv[0], out, 3, 0));
    printf("msg_len %u %u %u\n", out[0].msg_len, out[1].msg_len, out[2].msg_len);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(sv[1], &rd);
    struct timeval tv = {0, 0};
    show("select readable", select(sv[1] + 1, &rd, NULL, NULL, &tv));
    printf("set %d\n", FD_ISSET(sv[1], &rd));
    struct mmsghdr in[4];
    struct iovec iiov[4];
    char bufs[4][16];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 4; i++) {
        iiov[i].iov_base = bufs[i];
        iiov[i].iov_len = sizeof bufs[i];
        in[i].msg_hdr.msg_iov = &iiov[i];
        in[i].msg_hdr.msg_iovlen = 1;
    }
    show("recvmmsg MSG_DONTWAIT", recvmmsg(sv[1], in, 4, MSG_DONTWAIT, NULL));
    printf("got %.*s %.*s %.*s\n", (int)in[0].msg_len, bufs[0], (int)in[1].msg_len, bufs[1],
           (int)in[2].msg_len, bufs[2]);
    show("recvmmsg empty", recvmmsg(sv[1], in, 4, MSG_DONTWAIT, NULL));
    FD_ZERO(&rd);
    FD_SET(sv[1], &rd);
    show("select empty", select(sv[1] + 1, &rd, NULL, NULL, &tv));
    close(sv[0]);
    close(sv[1]);
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static void timeouts(void) {
    printf("== SO_RCVTIMEO and SO_SNDTIMEO\n");
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct timeval tv = {0, 50000}, back;
    show("SO_RCVTIMEO 50 ms", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    socklen_t l = sizeof back;
    getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &back, &l);
    printf("reads back %ld.%06ld len %u\n", (long)back.tv_sec, (long)back.tv_usec, l);
    long t0 = now_ms();
    char b[8];
    show("recv times out", recv(sv[0], b, sizeof b, 0));
    long waited = now_ms() - t0;
    printf("waited at least 40 ms %d, less than 2 s %d\n", waited >= 40, waited < 2000);
    write(sv[1], "ok", 2);
    show("recv with data there", recv(sv[0], b, sizeof b, 0));
    // The peer's queue full: a send times out with what it could queue.
    int flags = fcntl(sv[1], F_GETFL);
    fcntl(sv[1], F_SETFL, flags | O_NONBLOCK);
    static char chunk[4096];
    while (send(sv[1], chunk, sizeof chunk, 0) > 0) {
    }
    fcntl(sv[1], F_SETFL, flags);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    t0 = now_ms();
    show("send on a full stream times out", send(sv[1], chunk, sizeof chunk, 0));
    printf("waited at least 40 ms %d\n", now_ms() - t0 >= 40);
    struct timeval bad = {1, 2000000};
    show("tv_usec out of range", setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad));
    struct timeval zero = {0, 0};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof zero);
    show("recv of queued data after clearing it", recv(sv[0], b, 1, 0));
    usleep(1000);
    show("nanosleep still works after a timed wait", usleep(20000));
    close(sv[0]);
    close(sv[1]);

    // A signal with an SA_RESTART handler ends a timed wait with EINTR
    // (sock_intr_errno); an unbounded one would be restarted.
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct timeval long_tv = {5, 0};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &long_tv, sizeof long_tv);
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 30000}};
    setitimer(ITIMER_REAL, &it, NULL);
    t0 = now_ms();
    show("timed recv hit by an SA_RESTART handler", recv(sv[0], b, sizeof b, 0));
    printf("handler ran %d, before the timeout %d\n", alarms, now_ms() - t0 < 4000);
    signal(SIGALRM, SIG_DFL);
    close(sv[0]);
    close(sv[1]);
}

static int *volatile bad_ptr = (int *)8;

static void options_and_errors(void) {
    printf("== options and errors\n");
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    printf("O_NONBLOCK %d FD_CLOEXEC %d\n", !!(fcntl(s, F_GETFL) & O_NONBLOCK),
           !!(fcntl(s, F_GETFD) & FD_CLOEXEC));
    int v;
    socklen_t l = sizeof v;
    getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l);
    printf("SO_TYPE %d", v);
    getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &l);
    printf(" SO_DOMAIN %d", v);
    getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l);
    printf(" SO_PROTOCOL %d", v);
    getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &l);
    printf(" SO_ERROR %d", v);
    getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &l);
    printf(" SO_ACCEPTCONN %d\n", v);
    v = 10000;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &l);
    printf("SO_RCVBUF after setting 10000: %d\n", v);
    v = 1;
    setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
    v = 0;
    getsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, &l);
    printf("SO_KEEPALIVE %d\n", v);
    struct linger lg = {1, 5}, lg2;
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    l = sizeof lg2;
    getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &l);
    printf("SO_LINGER %d %d len %u\n", lg2.l_onoff, lg2.l_linger, l);
    char b;
    show("recv on an empty nonblocking socket", recv(s, &b, 1, 0));
    show("read too", read(s, &b, 1));
    show("send unconnected", send(s, "x", 1, 0));
    show("listen on dgram", listen(s, 1));
    show("accept on dgram", accept(s, NULL, NULL));
    show("getpeername unconnected", getpeername(s, (struct sockaddr *)&lg, &l));
    show("getsockopt unknown", getsockopt(s, SOL_SOCKET, 9999, &v, &l));
    show("setsockopt SO_TYPE", setsockopt(s, SOL_SOCKET, SO_TYPE, &v, sizeof v));
    show("setsockopt short", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, 2));
    show("shutdown how 5", shutdown(s, 5));
    show("lseek on a socket", lseek(s, 0, SEEK_SET));
    close(s);
    show("socket bad family", socket(12345, SOCK_STREAM, 0));
    show("socket family 45 (unsupported)", socket(45, SOCK_STREAM, 0));
    show("socket bad protocol", socket(AF_UNIX, SOCK_STREAM, 7));
    show("socket tcp with udp", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    show("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0}));
    show("socketpair bad pointer", socketpair(AF_UNIX, SOCK_STREAM, 0, bad_ptr));
    struct sockaddr_un any = {.sun_family = AF_UNIX};
    show("bind on a closed fd", bind(99, (struct sockaddr *)&any, sizeof any));
    int p[2];
    pipe(p);
    show("bind a pipe fd", bind(p[0], (struct sockaddr *)&any, sizeof any));
    show("getsockopt on a pipe", getsockopt(p[0], SOL_SOCKET, SO_TYPE, &v, &l));
    close(p[0]);
    close(p[1]);
    s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    show("bind len too long", bind(s, (struct sockaddr *)&a, sizeof a + 10));
    show("bind bad pointer", bind(s, (struct sockaddr *)8, sizeof a));
    a.sun_family = AF_INET;
    show("bind wrong family", bind(s, (struct sockaddr *)&a, sizeof a));
    show("accept not listening", accept(s, NULL, NULL));
    show("accept4 bad flags", accept4(s, NULL, NULL, 0x1));
    show("connect to a missing path",
         connect(s, (struct sockaddr *)&(struct sockaddr_un){AF_UNIX, "/nonexistent/sock"},
                 sizeof(struct sockaddr_un)));
    show("recvmsg bad msghdr", recvmsg(s, (struct msghdr *)8, MSG_DONTWAIT));
    close(s);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    pair_echo();
    boundaries();
    path_server();
    abstract_names();
    scm_rights();
    broken();
    options_and_errors();
    mmsg_and_select();
    timeouts();
    printf("== done\n");
    return 0;
}
