/* /proc with threads: /proc/self/task lists every tid, status counts the
 * threads, /proc/thread-self names the calling thread. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int stop, started;
static pid_t tids[3];

static void *idle(void *arg) {
    tids[(long)arg] = syscall(SYS_gettid);
    atomic_fetch_add(&started, 1);
    while (!atomic_load(&stop))
        sched_yield();
    return 0;
}

static void *thread_self(void *arg) {
    char buf[64], want[64];
    ssize_t n = readlink("/proc/thread-self", buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    snprintf(want, sizeof want, "%d/task/%ld", getpid(), syscall(SYS_gettid));
    *(int *)arg = strcmp(buf, want) == 0;
    return 0;
}

int main(void) {
    pthread_t t[3];
    for (long i = 0; i < 3; i++)
        pthread_create(&t[i], 0, idle, (void *)i);
    while (atomic_load(&started) < 3)
        sched_yield();
    DIR *d = opendir("/proc/self/task");
    int n = 0, found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        int tid = atoi(e->d_name);
        found += tid == getpid() || tid == tids[0] || tid == tids[1] || tid == tids[2];
    }
    closedir(d);
    printf("task entries: %d, all ours: %d\n", n, found == n);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tids[1]);
    printf("a thread's task dir exists: %d\n", access(path, R_OK) == 0);
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8))
            printf("%s", line);
    fclose(f);
    int ok = 0;
    pthread_t x;
    pthread_create(&x, 0, thread_self, &ok);
    pthread_join(x, 0);
    printf("thread-self names the caller: %d\n", ok);
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], 0);
    return 0;
}
