/* A few calls whose --strace lines the test knows: a failed open, a pipe
 * round trip, an unknown syscall, exit code 3. */
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    int p[2];
    char buf[8];
    open("/no/such/file", O_RDONLY | O_CLOEXEC);
    pipe(p);
    write(p[1], "ping\n", 5);
    read(p[0], buf, sizeof buf);
    syscall(4000, 1, 2, 3, 4, 5, 6);
    return 3;
}
