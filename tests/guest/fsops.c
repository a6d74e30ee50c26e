/* File system calls beyond open/read/write, each printing what it saw:
 * links, symlinks, renames (NOREPLACE, EXCHANGE), chmod, utimensat,
 * truncate, fchdir, statfs, sendfile, copy_file_range, memfd_create shared
 * across fork, fcntl record locks and OFD locks between processes, flock,
 * sched_getaffinity. Run in a scratch directory given as argv[1]. The
 * output is the same under real Linux (qemu-riscv64 passes these calls to
 * the host kernel), except the lines starting with "hw", which describe
 * the CPU. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHOW(call) printf("%-44s -> %ld %s\n", #call, (long)(call), errno ? strerror(errno) : ""), errno = 0

static void put(const char *path, const char *data) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, data, strlen(data));
    close(fd);
}

static void show_file(const char *path) {
    char buf[128] = {0};
    int fd = open(path, O_RDONLY);
    int n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    printf("  %s: %d \"%s\"\n", path, n, n > 0 ? buf : "");
    if (fd >= 0)
        close(fd);
}

/* The lock F_GETLK reports for [start, start+len) as seen by this process. */
static void getlk(int fd, int cmd, short type, off_t start, off_t len, pid_t owner) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    int r = fcntl(fd, cmd, &fl);
    printf("  getlk %s [%ld,+%ld) -> %d type=%s start=%ld len=%ld pid=%s\n", type == F_RDLCK ? "rd" : "wr",
           (long)start, (long)len, r,
           fl.l_type == F_UNLCK ? "unlck" : fl.l_type == F_RDLCK ? "rd" : "wr", (long)fl.l_start, (long)fl.l_len,
           fl.l_type == F_UNLCK ? "-" : fl.l_pid == owner ? "owner" : fl.l_pid == -1 ? "-1" : "other");
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0) {
        perror("chdir");
        return 2;
    }
    errno = 0;
    struct stat st;

    puts("== links");
    put("a", "alpha");
    SHOW(link("a", "b"));
    SHOW(stat("a", &st) == 0 ? (long)st.st_nlink : -1L);
    SHOW(link("a", "b"));
    SHOW(symlink("a", "s"));
    SHOW(symlink("/nowhere/x", "dangling"));
    char t[64] = {0};
    SHOW(readlink("s", t, sizeof t));
    printf("  s -> %s\n", t);
    SHOW(linkat(AT_FDCWD, "s", AT_FDCWD, "hs", 0));
    SHOW(lstat("hs", &st) == 0 && S_ISLNK(st.st_mode));
    SHOW(linkat(AT_FDCWD, "s", AT_FDCWD, "hf", AT_SYMLINK_FOLLOW));
    SHOW(lstat("hf", &st) == 0 && S_ISREG(st.st_mode));
    SHOW(open("dangling", O_RDONLY));

    puts("== renames");
    put("c", "gamma");
    SHOW(rename("b", "b2"));
    SHOW(renameat2(AT_FDCWD, "b2", AT_FDCWD, "c", RENAME_NOREPLACE));
    SHOW(renameat2(AT_FDCWD, "b2", AT_FDCWD, "c", RENAME_EXCHANGE));
    show_file("b2");
    show_file("c");
    SHOW(renameat2(AT_FDCWD, "b2", AT_FDCWD, "c", RENAME_EXCHANGE | RENAME_NOREPLACE));
    SHOW(rename("missing", "x"));

    puts("== modes, owners, times, sizes");
    SHOW(chmod("a", 0600));
    SHOW(stat("a", &st) == 0 ? (long)(st.st_mode & 0777) : -1L);
    int fa = open("a", O_RDWR);
    SHOW(fchmod(fa, 0640));
    SHOW(fstat(fa, &st) == 0 ? (long)(st.st_mode & 0777) : -1L);
    SHOW(fchmodat(AT_FDCWD, "a", 0644, AT_SYMLINK_NOFOLLOW));
    SHOW(fchown(fa, -1, -1));
    SHOW(chown("a", getuid(), -1));
    struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 5}, {.tv_sec = 1234567890, .tv_nsec = 0}};
    SHOW(utimensat(AT_FDCWD, "a", ts, 0));
    SHOW(stat("a", &st) == 0 ? (long)st.st_mtime : -1L);
    SHOW(stat("a", &st) == 0 ? (long)st.st_atime : -1L);
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = 42;
    SHOW(futimens(fa, ts));
    SHOW(stat("a", &st) == 0 ? (long)st.st_mtime + (long)st.st_atime : -1L);
    ts[0].tv_nsec = 1000000000;
    SHOW(utimensat(AT_FDCWD, "a", ts, 0));
    SHOW(truncate("a", 3));
    show_file("a");
    SHOW(truncate("a", -1));
    SHOW(truncate(".", 0));

    puts("== fchdir, statfs");
    mkdir("sub", 0755);
    put("sub/inner", "in");
    int dfd = open("sub", O_RDONLY | O_DIRECTORY);
    SHOW(fchdir(dfd));
    show_file("inner");
    SHOW(fchdir(fa));
    SHOW(chdir(".."));
    struct statfs sf;
    SHOW(statfs(".", &sf) == 0 && sf.f_bsize > 0);
    SHOW(statfs("/proc", &sf) == 0 ? (long)sf.f_type : -1L);
    SHOW(fstatfs(fa, &sf) == 0 && sf.f_namelen > 0);

    puts("== sendfile, copy_file_range");
    put("src", "0123456789abcdef");
    int src = open("src", O_RDONLY), p[2];
    pipe(p);
    off_t off = 4;
    SHOW(sendfile(p[1], src, &off, 6));
    SHOW(off);
    SHOW(lseek(src, 0, SEEK_CUR));
    char buf[64] = {0};
    SHOW(read(p[0], buf, sizeof buf));
    printf("  piped \"%s\"\n", buf);
    SHOW(sendfile(p[1], src, NULL, 3));
    SHOW(lseek(src, 0, SEEK_CUR));
    SHOW(sendfile(p[1], p[0], NULL, 3));
    int dst = open("dst", O_RDWR | O_CREAT | O_TRUNC, 0644);
    off_t in = 10, out = 2;
    SHOW(copy_file_range(src, &in, dst, &out, 100, 0));
    SHOW(in + out);
    SHOW(copy_file_range(src, NULL, dst, NULL, 2, 0));
    SHOW(copy_file_range(src, NULL, dst, NULL, 2, 1));
    close(dst);
    show_file("dst");

    puts("== memfd");
    int m = memfd_create("cowix-test", MFD_CLOEXEC);
    SHOW(m >= 0);
    SHOW(ftruncate(m, 8192));
    char *shared = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
    SHOW(shared != MAP_FAILED);
    char lnk[64] = {0};
    snprintf(buf, sizeof buf, "/proc/self/fd/%d", m);
    SHOW(readlink(buf, lnk, sizeof lnk) > 0 && strncmp(lnk, "/memfd:cowix-test", 17) == 0);
    SHOW(fcntl(m, F_GETFD));
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        strcpy(shared + 4096, "written by the child");
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("  parent reads \"%s\"\n", shared + 4096);
    char viaread[32] = {0};
    SHOW(pread(m, viaread, 20, 4096));
    printf("  pread \"%s\"\n", viaread);
    SHOW(memfd_create("x", 0x100));
    /* write(2) lands in the page the mappings see. */
    SHOW(pwrite(m, "xyz", 3, 100));
    printf("  shared mapping sees \"%.3s\"\n", shared + 100);
    int pf = open("src", O_RDWR);
    char *priv = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, pf, 0);
    printf("  private mapping before \"%.4s\"\n", priv);
    SHOW(pwrite(pf, "WXYZ", 4, 0));
    printf("  private mapping after \"%.4s\"\n", priv);

    puts("== fcntl locks");
    int lf = open("lockfile", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(lf, "0123456789", 10);
    SHOW(setlk(lf, F_SETLK, F_WRLCK, 0, 5));
    SHOW(setlk(lf, F_SETLK, F_RDLCK, 5, 0));
    int ready[2], go[2];
    pipe(ready);
    pipe(go);
    pid_t me = getpid();
    fflush(stdout);
    c = fork();
    if (c == 0) {
        /* The child's own descriptor of the same file. */
        int cf = open("lockfile", O_RDWR);
        getlk(cf, F_GETLK, F_RDLCK, 0, 1, me);
        getlk(cf, F_GETLK, F_RDLCK, 6, 1, me);
        getlk(cf, F_GETLK, F_WRLCK, 6, 1, me);
        printf("  child setlk wr [7,+1) -> %d %s\n", setlk(cf, F_SETLK, F_WRLCK, 7, 1),
               errno == EAGAIN || errno == EACCES ? "busy" : strerror(errno));
        errno = 0;
        printf("  child setlk rd [7,+1) -> %d\n", setlk(cf, F_SETLK, F_RDLCK, 7, 1));
        fflush(stdout);
        write(ready[1], "r", 1);
        /* Waits until the parent unlocks [0,5). */
        int r = setlk(cf, F_SETLKW, F_WRLCK, 0, 5);
        printf("  child setlkw wr [0,+5) -> %d\n", r);
        fflush(stdout);
        write(ready[1], "w", 1);
        char x;
        read(go[0], &x, 1);
        _exit(0);
    }
    char x;
    read(ready[0], &x, 1);
    getlk(lf, F_GETLK, F_WRLCK, 7, 1, c);
    puts("  parent unlocks [0,+5)");
    fflush(stdout);
    SHOW(setlk(lf, F_SETLK, F_UNLCK, 0, 5));
    read(ready[0], &x, 1);
    getlk(lf, F_GETLK, F_RDLCK, 0, 1, c);
    /* POSIX locks go when their process closes any descriptor of the file. */
    write(go[1], "g", 1);
    waitpid(c, NULL, 0);
    getlk(lf, F_GETLK, F_WRLCK, 0, 10, c);
    int other = open("lockfile", O_RDONLY);
    close(other);
    fflush(stdout);
    c = fork();
    if (c == 0) {
        int cf = open("lockfile", O_RDWR);
        getlk(cf, F_GETLK, F_WRLCK, 5, 1, me);
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    SHOW(setlk(lf, F_SETLK, 9, 0, 1));
    int ro = open("lockfile", O_RDONLY);
    SHOW(setlk(ro, F_SETLK, F_WRLCK, 0, 1));

    puts("== OFD locks and flock");
    int o1 = open("lockfile", O_RDWR), o2 = open("lockfile", O_RDWR);
    SHOW(setlk(o1, F_OFD_SETLK, F_WRLCK, 0, 0));
    SHOW(setlk(o2, F_OFD_SETLK, F_RDLCK, 3, 1));
    getlk(o2, F_OFD_GETLK, F_RDLCK, 3, 1, me);
    close(o1);
    SHOW(setlk(o2, F_OFD_SETLK, F_RDLCK, 3, 1));
    int f1 = open("lockfile", O_RDONLY), f2 = open("lockfile", O_RDONLY);
    SHOW(flock(f1, LOCK_EX));
    SHOW(flock(f2, LOCK_SH | LOCK_NB));
    SHOW(flock(f1, LOCK_UN));
    SHOW(flock(f2, LOCK_SH | LOCK_NB));
    SHOW(flock(f2, 99));

    puts("== cpu");
    cpu_set_t set;
    CPU_ZERO(&set);
    SHOW(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_ISSET(0, &set));
    SHOW(syscall(SYS_sched_getaffinity, 0, 8, &set));
    SHOW(syscall(SYS_sched_getaffinity, 0, 3, &set));
    SHOW(sched_getaffinity(999999, sizeof set, &set));
    /* What the hart offers (not compared with qemu, whose CPU differs). */
    struct {
        long long key;
        unsigned long long value;
    } probe[4] = {{3, 0}, {4, 0}, {7, 0}, {12345, 0}};
    long r = syscall(258, probe, 4, 0, NULL, 0);
    printf("hw hwprobe -> %ld base=%llu ima=%#llx top=%#llx unknown=%lld/%llu\n", r, probe[0].value,
           probe[1].value, probe[2].value, probe[3].key, probe[3].value);
    return 0;
}
