// TCP and UDP over loopback between processes: an echo server forking per
// connection with several clients, names of both ends, IPv6 ::1,
// shutdown, nonblocking connect and accept with poll, EADDRINUSE,
// ECONNREFUSED, EPIPE after the peer closed, UDP datagrams and connected
// UDP, socket options. Ports are ephemeral (port 0) so runs never collide.
// Prints one line per check; tests/sockets.rs compares them with
// qemu-riscv64 (the host's Linux).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerror(errno));
    else
        printf("%s: %ld\n", what, r);
}

static struct sockaddr_in lo4(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int port_of(int fd) {
    struct sockaddr_storage a;
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    return a.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&a)->sin_port)
                                  : ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
}

static int wait_child(pid_t pid) {
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int listener(int *port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in a = lo4(0);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 8) < 0)
        return -1;
    *port = port_of(s);
    return s;
}

static void echo(int c) {
    char buf[256];
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0)
        write(c, buf, n);
}

#define CLIENTS 4

static void echo_server(void) {
    printf("== TCP echo server\n");
    int port;
    int srv = listener(&port);
    printf("listening %d ephemeral %d\n", srv >= 0, port >= 32768 && port <= 60999);
    pid_t server = fork();
    if (server == 0) {
        for (int i = 0; i < CLIENTS; i++) {
            int c = accept(srv, NULL, NULL);
            if (c < 0)
                _exit(1);
            if (fork() == 0) {
                close(srv);
                echo(c);
                _exit(0);
            }
            close(c);
        }
        for (int i = 0; i < CLIENTS; i++)
            wait(NULL);
        _exit(0);
    }
    close(srv);
    pid_t clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = fork();
        if (clients[i] == 0) {
            int c = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = lo4(port);
            if (connect(c, (struct sockaddr *)&a, sizeof a) < 0)
                _exit(2);
            char msg[64], buf[64] = {0};
            int len = snprintf(msg, sizeof msg, "client %d says hello", i);
            for (int k = 0; k < 3; k++) {
                write(c, msg, len);
                ssize_t got = 0;
                while (got < len) {
                    ssize_t n = read(c, buf + got, len - got);
                    if (n <= 0)
                        _exit(3);
                    got += n;
                }
                if (memcmp(buf, msg, len) != 0)
                    _exit(4);
            }
            _exit(0);
        }
    }
    for (int i = 0; i < CLIENTS; i++)
        printf("client %d exit %d\n", i, wait_child(clients[i]));
    printf("server exit %d\n", wait_child(server));
}

static void names_and_shutdown(void) {
    printf("== names and shutdown\n");
    int port;
    int srv = listener(&port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(port);
    show("connect", connect(c, (struct sockaddr *)&a, sizeof a));
    show("connect again", connect(c, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in peer, me, sp, sm;
    socklen_t l = sizeof peer;
    int s = accept(srv, (struct sockaddr *)&peer, &l);
    printf("accept %d len %u\n", s >= 0, l);
    l = sizeof me;
    getsockname(c, (struct sockaddr *)&me, &l);
    l = sizeof sp;
    getpeername(s, (struct sockaddr *)&sp, &l);
    l = sizeof sm;
    getsockname(s, (struct sockaddr *)&sm, &l);
    printf("client name %s ephemeral %d; server sees the same %d; accept's address %d\n",
           inet_ntoa(me.sin_addr), ntohs(me.sin_port) >= 32768,
           sp.sin_port == me.sin_port && sp.sin_addr.s_addr == me.sin_addr.s_addr,
           peer.sin_port == me.sin_port);
    printf("accepted socket's name is the server's %d %s\n", ntohs(sm.sin_port) == port,
           inet_ntoa(sm.sin_addr));
    int v = 1;
    socklen_t vl = sizeof v;
    show("TCP_NODELAY", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v));
    v = 0;
    getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl);
    printf("TCP_NODELAY reads %d\n", v);
    getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl);
    printf("SO_TYPE %d", v);
    getsockopt(c, SOL_SOCKET, SO_PROTOCOL, &v, &vl);
    printf(" SO_PROTOCOL %d", v);
    getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
    printf(" SO_ACCEPTCONN %d\n", v);
    write(c, "request", 7);
    show("shutdown SHUT_WR", shutdown(c, SHUT_WR));
    char buf[32] = {0};
    ssize_t n = read(s, buf, sizeof buf);
    printf("server read %zd %s\n", n, buf);
    show("server reads EOF", read(s, buf, sizeof buf));
    struct pollfd p = {s, POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&p, 1, 0);
    printf("server poll after FIN %#x\n", p.revents);
    show("server can still reply", write(s, "reply", 5));
    memset(buf, 0, sizeof buf);
    show("client reads the reply", read(c, buf, sizeof buf));
    show("write after SHUT_WR", send(c, "x", 1, MSG_NOSIGNAL));
    close(s);
    show("client reads EOF", read(c, buf, sizeof buf));
    p.fd = c;
    poll(&p, 1, 0);
    printf("client poll after close %#x\n", p.revents);
    close(c);
    // EPIPE: the peer is gone.
    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    s = accept(srv, NULL, NULL);
    close(s);
    show("first write to a closed peer", send(c, "x", 1, MSG_NOSIGNAL));
    show("second write", send(c, "x", 1, MSG_NOSIGNAL));
    show("read", read(c, buf, sizeof buf));
    close(c);
    // ECONNRESET: the peer closed with data unread.
    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    s = accept(srv, NULL, NULL);
    write(c, "unread", 6);
    close(s);
    show("read after reset", read(c, buf, sizeof buf));
    show("read again", read(c, buf, sizeof buf));
    close(c);
    // A second socket on the listening port.
    int other = socket(AF_INET, SOCK_STREAM, 0);
    show("bind to a listening port", bind(other, (struct sockaddr *)&a, sizeof a));
    close(other);
    close(srv);
    c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect to the closed port", connect(c, (struct sockaddr *)&a, sizeof a));
    close(c);
}

static void nonblocking(void) {
    printf("== nonblocking connect and accept\n");
    int port;
    int srv = listener(&port);
    fcntl(srv, F_SETFL, O_NONBLOCK);
    show("accept with none pending", accept(srv, NULL, NULL));
    struct pollfd p = {srv, POLLIN, 0};
    show("poll listener (empty)", poll(&p, 1, 0));
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = lo4(port);
    show("nonblocking connect", connect(c, (struct sockaddr *)&a, sizeof a));
    struct pollfd q = {c, POLLOUT, 0};
    show("poll client POLLOUT", poll(&q, 1, 1000));
    printf("client revents %#x\n", q.revents);
    int err = -1;
    socklen_t l = sizeof err;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &l);
    printf("SO_ERROR %d\n", err);
    show("poll listener", poll(&p, 1, 1000));
    printf("listener revents %#x\n", p.revents);
    int s = accept4(srv, NULL, NULL, SOCK_NONBLOCK);
    printf("accept4 %d nonblocking %d\n", s >= 0, !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    char buf[8];
    show("read nothing yet", read(s, buf, sizeof buf));
    write(c, "ping", 4);
    struct pollfd r = {s, POLLIN, 0};
    poll(&r, 1, 1000);
    int avail = 0;
    ioctl(s, FIONREAD, &avail);
    printf("FIONREAD %d\n", avail);
    show("read", read(s, buf, sizeof buf));
    int off = 0;
    ioctl(s, FIONBIO, &off);
    printf("FIONBIO cleared O_NONBLOCK %d\n", !(fcntl(s, F_GETFL) & O_NONBLOCK));
    close(s);
    close(c);
    close(srv);
    // A nonblocking connect to a port nobody listens on.
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("nonblocking connect to a closed port", connect(c, (struct sockaddr *)&a, sizeof a));
    q.fd = c;
    q.events = POLLIN | POLLOUT;
    show("poll", poll(&q, 1, 1000));
    printf("revents %#x\n", q.revents);
    l = sizeof err;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &l);
    printf("SO_ERROR %s\n", strerror(err));
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &l);
    printf("SO_ERROR again %s\n", strerror(err));
    close(c);
}

static void udp(void) {
    printf("== UDP\n");
    int a = socket(AF_INET, SOCK_DGRAM, 0);
    int b = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in la = lo4(0);
    bind(a, (struct sockaddr *)&la, sizeof la);
    bind(b, (struct sockaddr *)&la, sizeof la);
    struct sockaddr_in to = lo4(port_of(b));
    show("sendto", sendto(a, "one", 3, 0, (struct sockaddr *)&to, sizeof to));
    show("sendto", sendto(a, "second", 6, 0, (struct sockaddr *)&to, sizeof to));
    char buf[64];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    printf("recvfrom %zd from a %d len %u\n", n, ntohs(from.sin_port) == port_of(a), fl);
    n = recv(b, buf, 3, 0);
    printf("truncated %zd\n", n);
    show("empty", recv(b, buf, sizeof buf, MSG_DONTWAIT));
    struct sockaddr_in ta = lo4(port_of(a));
    show("connect", connect(b, (struct sockaddr *)&ta, sizeof ta));
    show("send connected", send(b, "back", 4, 0));
    show("recv", recv(a, buf, sizeof buf, 0));
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in tb = lo4(port_of(b));
    sendto(c, "stranger", 8, 0, (struct sockaddr *)&tb, sizeof tb);
    show("a connected socket ignores strangers", recv(b, buf, sizeof buf, MSG_DONTWAIT));
    show("send unconnected without address", send(c, "x", 1, 0));
    struct sockaddr_in fam = {.sin_family = AF_UNSPEC};
    show("dissolve with AF_UNSPEC", connect(b, (struct sockaddr *)&fam, sizeof fam));
    show("getpeername after", getpeername(b, (struct sockaddr *)&from, &fl));
    static char big[70000];
    // A connected UDP socket hears of a closed port (ICMP port unreachable).
    int lone = socket(AF_INET, SOCK_DGRAM, 0);
    bind(lone, (struct sockaddr *)&la, sizeof la);
    struct sockaddr_in gone = lo4(port_of(lone));
    close(lone);
    int d = socket(AF_INET, SOCK_DGRAM, 0);
    connect(d, (struct sockaddr *)&gone, sizeof gone);
    show("send to a closed port", send(d, "x", 1, 0));
    struct pollfd pd = {d, POLLIN, 0};
    poll(&pd, 1, 1000);
    printf("poll %#x\n", pd.revents);
    show("recv", recv(d, buf, sizeof buf, MSG_DONTWAIT));
    show("recv again", recv(d, buf, sizeof buf, MSG_DONTWAIT));
    close(d);
    show("too big", sendto(a, big, sizeof big, 0, (struct sockaddr *)&tb, sizeof tb));
    show("listen on UDP", listen(a, 1));
    close(a);
    close(b);
    close(c);
}

static void ipv6(void) {
    printf("== IPv6 loopback\n");
    int srv = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    show("bind ::1", bind(srv, (struct sockaddr *)&a, sizeof a));
    listen(srv, 1);
    a.sin6_port = htons(port_of(srv));
    int c = socket(AF_INET6, SOCK_STREAM, 0);
    show("connect ::1", connect(c, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in6 peer;
    socklen_t l = sizeof peer;
    int s = accept(srv, (struct sockaddr *)&peer, &l);
    char txt[64];
    inet_ntop(AF_INET6, &peer.sin6_addr, txt, sizeof txt);
    printf("peer %s len %u\n", txt, l);
    write(c, "six", 3);
    char buf[8] = {0};
    show("read", read(s, buf, sizeof buf));
    close(s);
    close(c);
    close(srv);
    // A dual-stack listener on :: takes IPv4 clients as v4-mapped.
    srv = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
    bind(srv, (struct sockaddr *)&any, sizeof any);
    listen(srv, 1);
    c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a4 = lo4(port_of(srv));
    show("IPv4 connect to a dual-stack listener", connect(c, (struct sockaddr *)&a4, sizeof a4));
    l = sizeof peer;
    s = accept(srv, (struct sockaddr *)&peer, &l);
    inet_ntop(AF_INET6, &peer.sin6_addr, txt, sizeof txt);
    printf("peer %s\n", txt);
    close(s);
    close(c);
    close(srv);
}

static void sendfile_into_tcp(void) {
    printf("== sendfile\n");
    char path[64];
    snprintf(path, sizeof path, "/tmp/cowix-sendfile-%d", getpid());
    int f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    static char data[300000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = 'a' + i % 26;
    write(f, data, sizeof data);
    lseek(f, 0, SEEK_SET);
    int port;
    int srv = listener(&port);
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = lo4(port);
        connect(c, (struct sockaddr *)&a, sizeof a);
        static char got[300000];
        size_t n = 0;
        ssize_t k;
        while ((k = read(c, got + n, sizeof got - n)) > 0)
            n += k;
        _exit(n == sizeof data && memcmp(got, data, n) == 0 ? 0 : 1);
    }
    int s = accept(srv, NULL, NULL);
    long sent = 0;
    while (sent < (long)sizeof data) {
        ssize_t k = sendfile(s, f, NULL, sizeof data - sent);
        if (k <= 0)
            break;
        sent += k;
    }
    printf("sendfile sent %ld, offset %ld\n", sent, (long)lseek(f, 0, SEEK_CUR));
    close(s);
    printf("reader exit %d\n", wait_child(pid));
    close(srv);
    close(f);
    unlink(path);
}

static void epoll_sockets(void) {
    printf("== epoll\n");
    int port;
    int srv = listener(&port);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = srv};
    epoll_ctl(ep, EPOLL_CTL_ADD, srv, &ev);
    struct epoll_event out[4];
    show("listener idle", epoll_wait(ep, out, 4, 0));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = lo4(port);
    connect(c, (struct sockaddr *)&a, sizeof a);
    int n = epoll_wait(ep, out, 4, 1000);
    printf("listener ready %d, the listener %d\n", n, n == 1 && out[0].data.fd == srv);
    int s = accept(srv, NULL, NULL);
    epoll_ctl(ep, EPOLL_CTL_DEL, srv, NULL);
    ev.events = EPOLLIN | EPOLLET | EPOLLRDHUP;
    ev.data.fd = s;
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    show("connection idle", epoll_wait(ep, out, 4, 0));
    write(c, "a", 1);
    n = epoll_wait(ep, out, 4, 1000);
    printf("after a write %d events %#x\n", n, n > 0 ? out[0].events : 0);
    show("no new edge", epoll_wait(ep, out, 4, 0));
    write(c, "b", 1);
    show("a second write, unread", epoll_wait(ep, out, 4, 1000));
    shutdown(c, SHUT_WR);
    n = epoll_wait(ep, out, 4, 1000);
    printf("after SHUT_WR %d events %#x\n", n, n > 0 ? out[0].events : 0);
    close(s);
    close(c);
    close(ep);
    close(srv);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    echo_server();
    names_and_shutdown();
    nonblocking();
    udp();
    ipv6();
    sendfile_into_tcp();
    epoll_sockets();
    printf("== done\n");
    return 0;
}
