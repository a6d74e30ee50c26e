/* Fork semantics that must not depend on how fork is built (cowix
 * --fork-mode copy|cow|share-tables): parent and child write different
 * variables of a large touched area; MADV_DONTFORK (the child has no such
 * mapping), MADV_WIPEONFORK (the child reads zeros), MADV_DOFORK;
 * MAP_SHARED stays shared; MADV_DONTNEED; mremap grow, move, shrink and
 * its errors. Prints one line per check. qemu-riscv64 agrees except where
 * it is not faithful: it accepts any madvise (advice, holes) with 0 and
 * does not honour MADV_WIPEONFORK / MADV_DONTFORK in its forks. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096L
#define BIG (8L << 20) /* 8 MiB: several leaf tables */

static long sum(const unsigned char *p, long len) {
    long s = 0;
    for (long i = 0; i < len; i += PAGE) s += p[i];
    return s;
}

/* Runs f in a child, prints its exit status. */
static void in_child(const char *what, int (*f)(void *), void *arg) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(1); }
    if (pid == 0) _exit(f(arg));
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st)) printf("%s: child exit %d\n", what, WEXITSTATUS(st));
    else printf("%s: child signal %d\n", what, WTERMSIG(st));
}

static unsigned char *big, *dontfork, *wipe, *shared;

static int child_writes(void *arg) {
    (void)arg;
    /* The child writes the second half; it must still see the parent's
     * first half as it was at fork. */
    for (long i = BIG / 2; i < BIG; i += PAGE) big[i] = 2;
    return sum(big, BIG / 2) == (BIG / 2 / PAGE) * 1 ? 0 : 1;
}

static int child_probes(void *arg) {
    (void)arg;
    int bad = 0;
    /* No mapping at all: mprotect says ENOMEM, as for unmapped memory. */
    if (mprotect(dontfork, PAGE, PROT_READ) != -1 || errno != ENOMEM) bad |= 1;
    if (wipe[0] != 0 || wipe[PAGE] != 0) bad |= 2;
    wipe[0] = 9; /* the child's own zero page */
    shared[0] = 'c';
    return bad;
}

int main(void) {
    big = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (long i = 0; i < BIG; i += PAGE) big[i] = 1;
    in_child("cow", child_writes, NULL);
    printf("parent sees %ld (want %ld)\n", sum(big, BIG), BIG / PAGE);
    for (long i = 0; i < BIG; i += PAGE) big[i] = 3; /* sole owner now */
    printf("parent rewrote: %ld\n", sum(big, BIG) / 3 == BIG / PAGE ? 1L : 0L);

    dontfork = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    wipe = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(dontfork, 5, 2 * PAGE);
    memset(wipe, 7, 2 * PAGE);
    shared[0] = 'p';
    printf("dontfork: %d\n", madvise(dontfork, 2 * PAGE, MADV_DONTFORK));
    printf("wipeonfork: %d\n", madvise(wipe, 2 * PAGE, MADV_WIPEONFORK));
    errno = 0;
    printf("wipeonfork shared: %d errno %s\n", madvise(shared, PAGE, MADV_WIPEONFORK),
           errno == EINVAL ? "EINVAL" : strerror(errno));
    in_child("probe", child_probes, NULL);
    printf("parent: dontfork %d wipe %d shared %c\n", dontfork[0], wipe[0], shared[0]);
    printf("dofork: %d\n", madvise(dontfork, 2 * PAGE, MADV_DOFORK));
    printf("keeponfork: %d\n", madvise(wipe, 2 * PAGE, MADV_KEEPONFORK));

    /* DONTNEED: private anonymous memory reads zeros again. */
    printf("dontneed: %d now %d\n", madvise(wipe, PAGE, MADV_DONTNEED), wipe[0]);
    errno = 0;
    printf("madvise bad advice: %d %s\n", madvise(wipe, PAGE, 12345),
           errno == EINVAL ? "EINVAL" : strerror(errno));
    errno = 0;
    printf("madvise unaligned: %d %s\n", madvise(wipe + 1, PAGE, MADV_DONTNEED),
           errno == EINVAL ? "EINVAL" : strerror(errno));
    munmap(wipe + PAGE, PAGE);
    errno = 0;
    printf("madvise over a hole: %d %s\n", madvise(wipe, 2 * PAGE, MADV_NORMAL),
           errno == ENOMEM ? "ENOMEM" : strerror(errno));

    /* mremap: grow (moving if needed) keeps the data, no copy needed. */
    unsigned char *m = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 4; i++) m[i * PAGE] = 'a' + i;
    unsigned char *blocker = mmap(m + 4 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    errno = 0;
    void *r = mremap(m, 4 * PAGE, 8 * PAGE, 0);
    printf("mremap grow without MAYMOVE: %s\n", r == MAP_FAILED && errno == ENOMEM ? "ENOMEM" : "?");
    unsigned char *n = mremap(m, 4 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
    printf("mremap moved: %s data %c%c%c%c new %d\n", n != m ? "yes" : "no", n[0], n[PAGE], n[2 * PAGE],
           n[3 * PAGE], n[7 * PAGE]);
    errno = 0;
    printf("old range gone: %s\n", mprotect(m, PAGE, PROT_READ) == -1 && errno == ENOMEM ? "yes" : "no");
    munmap(blocker, PAGE);
    unsigned char *s = mremap(n, 8 * PAGE, 2 * PAGE, 0);
    printf("mremap shrink: %s %c%c\n", s == n ? "in place" : "moved", s[0], s[PAGE]);
    errno = 0;
    r = mremap(n + 4 * PAGE, PAGE, 2 * PAGE, MREMAP_MAYMOVE);
    printf("mremap of a hole: %s\n", r == MAP_FAILED && errno == EFAULT ? "EFAULT" : "?");
    errno = 0;
    r = mremap(n, PAGE, PAGE, MREMAP_FIXED, n + 16 * PAGE);
    printf("mremap FIXED without MAYMOVE: %s\n", r == MAP_FAILED && errno == EINVAL ? "EINVAL" : "?");
    unsigned char *f = mremap(n, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, big);
    printf("mremap FIXED: %s %c%c big[2*PAGE] %d\n", f == big ? "at target" : "?", f[0], f[PAGE], big[2 * PAGE]);
    /* The moved pages are still private after a fork. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) { f[0] = 'z'; _exit(f[0] == 'z' ? 0 : 1); }
    int st;
    waitpid(pid, &st, 0);
    printf("after fork: child %d parent %c\n", WEXITSTATUS(st), f[0]);
    return 0;
}
