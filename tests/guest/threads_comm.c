// Thread names: each thread has its own comm (prctl PR_SET_NAME,
// pthread_setname_np, /proc/self/task/TID/comm); /proc/PID/comm is the
// leader's; exec from a thread names the new leader after the program.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_barrier_t bar;
static pid_t worker_tid;

static void show(const char *path) {
    char buf[128] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: open failed\n", path);
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0 && buf[n - 1] == '\n')
        buf[n - 1] = 0;
    // stat: keep "TID (comm)" only.
    char *paren = strchr(buf, ')');
    if (strstr(path, "/stat") && !strstr(path, "status") && paren)
        paren[1] = 0;
    // status: the first line only.
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = 0;
    const char *shown = path;
    if (strncmp(path, "/proc/self/task/", 16) == 0)
        shown = strchr(path + 16, '/') + 1;
    printf("%s%s: %s\n", shown == path ? "" : "task ", shown, buf);
}

static void *worker(void *arg) {
    (void)arg;
    worker_tid = syscall(SYS_gettid);
    char name[16];
    prctl(PR_GET_NAME, name);
    printf("worker inherits: %s\n", name);
    prctl(PR_SET_NAME, "worker-one");
    pthread_barrier_wait(&bar); // 1: named
    pthread_barrier_wait(&bar); // 2: main renamed us
    prctl(PR_GET_NAME, name);
    printf("worker now: %s\n", name);
    pthread_barrier_wait(&bar); // 3
    return NULL;
}

static void *execer(void *arg) {
    (void)arg;
    prctl(PR_SET_NAME, "before-exec");
    execl("/proc/self/exe", "threads_comm", "again", NULL);
    return NULL;
}

int main(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        char name[16];
        prctl(PR_GET_NAME, name);
        printf("after exec: %s, pid==tid %d\n", name, getpid() == (pid_t)syscall(SYS_gettid));
        show("/proc/self/comm");
        return 0;
    }
    prctl(PR_SET_NAME, "main-thread-with-a-long-name");
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t th;
    pthread_create(&th, NULL, worker, NULL);
    pthread_barrier_wait(&bar); // 1
    char name[16], path[64];
    prctl(PR_GET_NAME, name);
    printf("main: %s\n", name);
    show("/proc/self/comm");
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", worker_tid);
    show(path);
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", worker_tid);
    char buf[64];
    snprintf(buf, sizeof buf, "%d (worker-one)", worker_tid);
    {
        char got[128] = {0};
        int fd = open(path, O_RDONLY);
        if (read(fd, got, sizeof got - 1) < 0)
            printf("read failed\n");
        close(fd);
        printf("task stat starts with tid (comm): %d\n", strncmp(got, buf, strlen(buf)) == 0);
    }
    snprintf(path, sizeof path, "/proc/self/task/%d/status", worker_tid);
    show(path);
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", getpid());
    show(path);
    // pthread_setname_np for another thread writes its task comm file.
    int rc = pthread_setname_np(th, "renamed");
    printf("pthread_setname_np: %d\n", rc);
    rc = pthread_getname_np(th, name, sizeof name);
    printf("pthread_getname_np: %d %s\n", rc, name);
    pthread_barrier_wait(&bar); // 2
    pthread_barrier_wait(&bar); // 3
    pthread_join(th, NULL);
    // Writing our own comm through /proc/self/comm.
    int fd = open("/proc/self/comm", O_WRONLY);
    printf("write comm: %zd\n", write(fd, "via-proc", 8));
    close(fd);
    prctl(PR_GET_NAME, name);
    printf("main after write: %s\n", name);
    // Another process's comm cannot be written.
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        prctl(PR_GET_NAME, name);
        printf("child inherits: %s\n", name);
        snprintf(path, sizeof path, "/proc/%d/comm", getppid());
        int f = open(path, O_WRONLY);
        ssize_t w = write(f, "x", 1);
        printf("write parent's comm: %zd %s\n", w, w < 0 ? strerror(errno) : "");
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    fflush(stdout);
    // exec from a thread that is not the leader: it becomes the leader
    // (tid = pid), named after the program.
    pthread_t ex;
    pthread_create(&ex, NULL, execer, NULL);
    pthread_join(ex, NULL);
    return 1;
}
