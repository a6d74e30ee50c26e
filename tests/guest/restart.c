/* A signal interrupting a blocked pipe read: EINTR without SA_RESTART,
 * a restarted read that gets the data with it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits;
static void on_usr1(int sig) { (void)sig; hits++; }

static void run(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigaction(SIGUSR1, &sa, NULL);
    int fd[2];
    pipe(fd);
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) {
        struct timespec t = {0, 20 * 1000 * 1000};
        nanosleep(&t, NULL);
        kill(parent, SIGUSR1);
        nanosleep(&t, NULL);
        write(fd[1], "data", 4);
        _exit(0);
    }
    char buf[16];
    ssize_t n = read(fd[0], buf, sizeof buf);
    int e = errno;
    if (n < 0) {
        printf("%s: read -1 %s, handler ran %d\n", flags ? "SA_RESTART" : "no SA_RESTART",
               e == EINTR ? "EINTR" : strerror(e), (int)hits);
        n = read(fd[0], buf, sizeof buf);
    } else {
        printf("%s: read %zd, handler ran %d\n", flags ? "SA_RESTART" : "no SA_RESTART", n, (int)hits);
    }
    printf("then got %.*s\n", (int)n, buf);
    waitpid(c, NULL, 0);
    close(fd[0]);
    close(fd[1]);
    hits = 0;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    run(0);
    run(SA_RESTART);
    /* nanosleep interrupted: EINTR even with SA_RESTART. */
    pid_t parent = getpid();
    if (fork() == 0) {
        struct timespec t = {0, 20 * 1000 * 1000};
        nanosleep(&t, NULL);
        kill(parent, SIGUSR1);
        _exit(0);
    }
    struct timespec req = {5, 0}, rem = {0, 0};
    int r = nanosleep(&req, &rem);
    printf("nanosleep: %d %s rem<5s=%d rem>4s=%d\n", r, r ? strerror(errno) : "", rem.tv_sec < 5,
           rem.tv_sec >= 4);
    wait(NULL);
    return 0;
}
