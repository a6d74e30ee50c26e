/* RLIMIT_AS bounds the address space: mmap, brk (malloc) and mremap that
 * would pass it fail with ENOMEM, smaller ones still work; RLIMIT_NOFILE
 * bounds descriptors (EMFILE). Expected output is Linux's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void) {
    struct rlimit r = {64 << 20, 64 << 20};
    printf("setrlimit AS 64M: %d\n", setrlimit(RLIMIT_AS, &r));
    void *big = mmap(NULL, 128 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap 128M: %s\n", big == MAP_FAILED ? strerror(errno) : "mapped");
    void *small = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap 1M: %s\n", small == MAP_FAILED ? strerror(errno) : "mapped");
    void *cur = sbrk(0);
    errno = 0;
    void *r1 = sbrk(100 << 20);
    printf("sbrk +100M: %s, break %s\n", r1 == (void *)-1 ? strerror(errno) : "grew",
           sbrk(0) == cur ? "unchanged" : "moved");
    void *g = mremap(small, 1 << 20, 200 << 20, MREMAP_MAYMOVE);
    printf("mremap to 200M: %s\n", g == MAP_FAILED ? strerror(errno) : "grew");
    g = mremap(small, 1 << 20, 2 << 20, MREMAP_MAYMOVE);
    printf("mremap to 2M: %s\n", g == MAP_FAILED ? strerror(errno) : "grew");
    printf("malloc 100M: %s\n", malloc(100 << 20) ? "got it" : "NULL");

    struct rlimit n = {8, 8};
    setrlimit(RLIMIT_NOFILE, &n);
    int last = -1, fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0)
        last = fd;
    printf("open past RLIMIT_NOFILE 8: last fd %d, then %s\n", last, strerror(errno));
    return 0;
}
