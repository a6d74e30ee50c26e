/* /proc as Linux shows it: each check prints "ok <what>" or "FAIL <what>: why".
 * Checks whose answer depends on the machine print "fact <name> <value>" for
 * the test to compare. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(int cond, const char *what, const char *why) {
    if (cond)
        printf("ok %s\n", what);
    else {
        printf("FAIL %s: %s\n", what, why);
        failures++;
    }
}

/* Reads a whole file into a static buffer; returns its length or -1. */
static char buf[1 << 16];
static long slurp(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    long n = 0, k;
    while ((k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += k;
    close(fd);
    buf[n] = 0;
    return n;
}

/* The value of "Key:" in /proc/self/status-like text, or -1. */
static long field(const char *text, const char *key) {
    const char *p = strstr(text, key);
    if (!p)
        return -1;
    return strtol(p + strlen(key), NULL, 10);
}

/* The maps line containing address a, copied into line. */
static int maps_line_of(void *a, char *line, size_t n) {
    if (slurp("/proc/self/maps") < 0)
        return -1;
    unsigned long x = (unsigned long)a;
    for (char *l = buf; *l;) {
        char *e = strchr(l, '\n');
        unsigned long s, t;
        if (sscanf(l, "%lx-%lx", &s, &t) == 2 && s <= x && x < t) {
            size_t len = e ? (size_t)(e - l) : strlen(l);
            if (len >= n)
                len = n - 1;
            memcpy(line, l, len);
            line[len] = 0;
            return 0;
        }
        if (!e)
            break;
        l = e + 1;
    }
    return -1;
}

static long smaps_field_of(void *a, const char *key) {
    if (slurp("/proc/self/smaps") < 0)
        return -1;
    unsigned long x = (unsigned long)a;
    int in = 0;
    for (char *l = buf; *l;) {
        char *e = strchr(l, '\n');
        unsigned long s, t;
        if (sscanf(l, "%lx-%lx ", &s, &t) == 2 && strchr(l, '-') < strchr(l, ' '))
            in = s <= x && x < t;
        else if (in && strncmp(l, key, strlen(key)) == 0)
            return strtol(l + strlen(key), NULL, 10);
        if (!e)
            break;
        l = e + 1;
    }
    return -1;
}

int main(int argc, char **argv) {
    char line[512], path[256], link[256];
    pid_t pid = getpid();
    if (argc > 1 && strcmp(argv[1], "reexec") == 0) {
        printf("ok reexec\n");
        return 0;
    }

    /* /proc/self is a link to the pid's directory. */
    ssize_t n = readlink("/proc/self", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    snprintf(path, sizeof path, "%d", pid);
    check(strcmp(link, path) == 0, "self-link", link);

    /* exe: the program's path; cmdline: argv with NULs. */
    n = readlink("/proc/self/exe", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    check(n > 0 && strstr(link, "procfs") != NULL, "exe-link", link);
    n = slurp("/proc/self/cmdline");
    check(n > 0 && strcmp(buf, argv[0]) == 0 && strcmp(buf + strlen(argv[0]) + 1, argc > 1 ? argv[1] : "") == 0,
          "cmdline", buf);
    n = slurp("/proc/self/environ");
    check(n > 0 && memmem(buf, n, "PROCFS_TEST=yes", 15) != NULL, "environ", "PROCFS_TEST=yes missing");

    /* status: Name, Pid, PPid, State. */
    slurp("/proc/self/status");
    check(strncmp(buf, "Name:\tprocfs\n", 13) == 0, "status-name", buf);
    check(field(buf, "\nPid:") == pid && field(buf, "\nPPid:") == getppid(), "status-pids", "Pid/PPid");
    check(strstr(buf, "State:\tR (running)") != NULL, "status-state", "not R (running)");

    /* stat: "pid (comm) R ppid ..." */
    slurp("/proc/self/stat");
    snprintf(line, sizeof line, "%d (procfs) R %d ", pid, getppid());
    check(strncmp(buf, line, strlen(line)) == 0, "stat-prefix", buf);

    /* malloc below the mmap threshold lands in [heap], above it in its own
     * anonymous mapping (glibc: M_MMAP_THRESHOLD 128 KiB). */
    void *small = malloc(1000);
    void *big = malloc(256 * 1024);
    check(maps_line_of(small, line, sizeof line) == 0 && strstr(line, "[heap]") != NULL, "small-malloc-heap", line);
    check(maps_line_of(big, line, sizeof line) == 0 && strstr(line, "[heap]") == NULL &&
              strstr(line, " rw-p 00000000 00:00 0 ") != NULL,
          "big-malloc-own-mapping", line);

    /* The stack and the vdso are named. */
    int local;
    check(maps_line_of(&local, line, sizeof line) == 0 && strstr(line, "[stack]") != NULL, "stack-named", line);

    /* smaps: touching 16 pages of a fresh mapping makes 64 kB of Rss,
     * private and dirty; reading another 16 maps the zero page (no Rss). */
    /* Holes on both sides keep it from merging with a neighbour (Linux
     * merges adjacent anonymous mappings, and so does cowix). */
    char *m = mmap(NULL, 34 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(m, 4096);
    munmap(m + 33 * 4096, 4096);
    m += 4096;
    volatile char sink = 0;
    for (int i = 0; i < 16; i++)
        m[i * 4096] = 1;
    for (int i = 16; i < 32; i++)
        sink += m[i * 4096];
    (void)sink;
    check(smaps_field_of(m, "Size:") == 128, "smaps-size", "Size");
    check(smaps_field_of(m, "Rss:") == 64, "smaps-rss", "Rss");
    check(smaps_field_of(m, "Private_Dirty:") == 64, "smaps-private-dirty", "Private_Dirty");
    check(smaps_field_of(m, "Anonymous:") == 64, "smaps-anonymous", "Anonymous");

    /* After fork, the child sees the 16 pages shared with its parent:
     * Pss is half of Rss, and they count as Shared_Dirty. Its own write to
     * 4 of them makes those private again. */
    int p2c[2];
    pipe(p2c);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        long rss = smaps_field_of(m, "Rss:"), pss = smaps_field_of(m, "Pss:");
        long shd = smaps_field_of(m, "Shared_Dirty:");
        for (int i = 0; i < 4; i++)
            m[i * 4096] = 2;
        long prd = smaps_field_of(m, "Private_Dirty:");
        printf("%s fork-smaps: Rss %ld Pss %ld Shared_Dirty %ld then Private_Dirty %ld\n",
               rss == 64 && pss == 32 && shd == 64 && prd == 16 ? "ok" : "FAIL", rss, pss, shd, prd);
        /* The parent's status names it sleeping in wait4. */
        snprintf(path, sizeof path, "/proc/%d/status", getppid());
        slurp(path);
        printf("%s parent-state %s\n", strstr(buf, "State:\tS (sleeping)") ? "ok" : "FAIL", "S (sleeping)");
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);

    /* /proc/self/fd lists the descriptors; fd/N of a pipe is pipe:[ino],
     * and opening it gives another end of that very pipe. */
    snprintf(path, sizeof path, "/proc/self/fd/%d", p2c[1]);
    n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    check(strncmp(link, "pipe:[", 6) == 0, "fd-pipe-link", link);
    int w = open(path, O_WRONLY);
    check(w >= 0 && write(w, "hi", 2) == 2, "fd-reopen-pipe", strerror(errno));
    char got[3] = {0};
    check(read(p2c[0], got, 2) == 2 && strcmp(got, "hi") == 0, "fd-reopen-same-pipe", got);
    DIR *d = opendir("/proc/self/fd");
    int seen = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (atoi(e->d_name) == p2c[0] && e->d_name[0] != '.')
            seen = 1;
    if (d)
        closedir(d);
    check(seen, "fd-dir-lists", "pipe fd missing");

    /* /proc lists this process. */
    d = opendir("/proc");
    seen = 0;
    while (d && (e = readdir(d)))
        if (atoi(e->d_name) == pid && e->d_type == DT_DIR)
            seen = 1;
    if (d)
        closedir(d);
    check(seen, "proc-lists-self", "own pid missing");

    /* Relative paths from a /proc directory; writes are refused. */
    check(chdir("/proc/self") == 0 && slurp("status") > 0 && chdir("/") == 0, "chdir-proc", strerror(errno));
    errno = 0;
    check(open("/proc/self/status", O_WRONLY) < 0 && errno == EACCES, "write-refused", strerror(errno));
    errno = 0;
    check(mkdir("/proc/newdir", 0755) < 0, "mkdir-refused", strerror(errno));
    errno = 0;
    check(open("/proc/nope", O_RDONLY) < 0 && errno == ENOENT, "missing-enoent", strerror(errno));
    struct stat sb;
    check(stat("/proc/self/maps", &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0, "stat-file", "mode/size");
    check(lstat("/proc/self", &sb) == 0 && S_ISLNK(sb.st_mode), "lstat-self-link", "mode");
    check(stat("/proc/self", &sb) == 0 && S_ISDIR(sb.st_mode), "stat-self-dir", "mode");

    /* Reading again from offset 0 shows the state now (seq_file). */
    int fd = open("/proc/self/maps", O_RDONLY);
    char first[64] = {0};
    read(fd, first, sizeof first - 1);
    void *late = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    lseek(fd, 0, SEEK_SET);
    long total = 0, k;
    while ((k = read(fd, buf + total, sizeof buf - 1 - total)) > 0)
        total += k;
    buf[total] = 0;
    close(fd);
    snprintf(line, sizeof line, "%lx-", (unsigned long)late);
    check(strstr(buf, line) != NULL, "maps-reread-fresh", line);

    /* Machine-dependent facts for the test. */
    slurp("/proc/meminfo");
    printf("fact MemTotal %ld\n", field(buf, "MemTotal:"));
    slurp("/proc/cpuinfo");
    check(strstr(buf, "isa\t\t: rv64imafdc") != NULL, "cpuinfo-isa", buf);
    slurp("/proc/self/statm");
    long size, resident;
    check(sscanf(buf, "%ld %ld", &size, &resident) == 2 && size > resident && resident > 16, "statm", buf);

    /* /proc/self/exe can be executed: it is the program itself. */
    fflush(stdout);
    if ((c = fork()) == 0) {
        execl("/proc/self/exe", "procfs", "reexec", (char *)NULL);
        printf("FAIL exec-self: %s\n", strerror(errno));
        _exit(1);
    }
    waitpid(c, &st, 0);
    check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec-self-status", "child failed");

    printf("done %d failures\n", failures);
    return failures != 0;
}
