/* Fork benchmark, built both for the host (native Linux fork) and for
 * riscv64 (fork under cowix, whose guest clock is host time, so the timings
 * below are cowix's host time):
 *
 *   mmap MIB MiB of private anonymous memory and write every page;
 *   ROUNDS times: time fork() in the parent (the child _exits at once);
 *   then fork a child that waits on a pipe, and time the parent's first
 *   write to every page (each a copy-on-write fault), per page.
 *
 * Usage: forkbench [MIB [ROUNDS]]   (default 1024 MiB, 5 rounds)
 * Prints:  fork_us min median      (microseconds per fork)
 *          cow_ns_per_page N       (first write after fork, per 4 KiB page)
 *          checksum N              (so that the writes cannot be elided) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096L

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 1024;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (mib <= 0 || rounds <= 0 || rounds > 100) {
        fprintf(stderr, "usage: forkbench [MIB [ROUNDS]]\n");
        return 2;
    }
    long len = mib << 20;
    volatile unsigned char *mem =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) { perror("mmap"); return 1; }
    for (long i = 0; i < len; i += PAGE) mem[i] = (unsigned char)(i >> 12);

    double fork_ns[100];
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ns();
        pid_t pid = fork();
        double t1 = now_ns();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) _exit(0);
        fork_ns[r] = t1 - t0;
        waitpid(pid, NULL, 0);
    }
    qsort(fork_ns, rounds, sizeof fork_ns[0], cmp);
    printf("fork_us %.1f %.1f\n", fork_ns[0] / 1e3, fork_ns[rounds / 2] / 1e3);

    int fds[2];
    if (pipe(fds) != 0) { perror("pipe"); return 1; }
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
        char c;
        close(fds[1]);
        (void)!read(fds[0], &c, 1); /* hold the pages until the parent is done */
        _exit(0);
    }
    close(fds[0]);
    double t0 = now_ns();
    for (long i = 0; i < len; i += PAGE) mem[i] += 1;
    double t1 = now_ns();
    close(fds[1]);
    waitpid(pid, NULL, 0);
    printf("cow_ns_per_page %.0f\n", (t1 - t0) / (len / PAGE));
    unsigned long sum = 0;
    for (long i = 0; i < len; i += PAGE) sum += mem[i];
    printf("checksum %lu\n", sum);
    return 0;
}
