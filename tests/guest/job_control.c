/* Stop and continue (job control): kill -STOP/-CONT of a child seen by
 * waitpid(WUNTRACED|WCONTINUED), waitid(WSTOPPED|WCONTINUED|WNOWAIT) and
 * SIGCHLD's si_code; a stopped child does not run; SIGCONT continues
 * even when blocked; SA_NOCLDSTOP; SIGKILL of a stopped child; a stop
 * signal the child raises itself; /proc/PID/stat state T. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile long *counter;
static volatile int codes[16];
static volatile int statuses[16];
static volatile sig_atomic_t nchld;
static volatile long *hup_flag;
static void on_hup(int sig) { *hup_flag = sig; }

static void on_chld(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    if (nchld < 16) {
        codes[nchld] = si->si_code;
        statuses[nchld] = si->si_status;
        nchld++;
    }
}

static void msleep(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void wait_counter_moves(void) {
    long c = *counter;
    for (int i = 0; i < 2000 && *counter == c; i++) msleep(1);
}

static pid_t spin_child(int block_cont) {
    *counter = 0;
    pid_t pid = fork();
    if (pid == 0) {
        if (block_cont) {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGCONT);
            sigprocmask(SIG_BLOCK, &s, NULL);
        }
        for (;;) (*counter)++;
    }
    wait_counter_moves();
    return pid;
}

static volatile long *counter2;
static volatile int *tid2;

static void *spin2(void *arg) {
    (void)arg;
    *tid2 = gettid();
    for (;;) (*counter2)++;
    return NULL;
}

/* Every thread of a stopped group stays stopped. */
static void threads_stop(void) {
    counter2 = counter + 1;
    tid2 = (volatile int *)(counter + 2);
    *counter = *counter2 = 0;
    *tid2 = 0;
    pid_t pid = fork();
    if (pid == 0) {
        pthread_t th;
        pthread_create(&th, NULL, spin2, NULL);
        for (;;) (*counter)++;
    }
    while (*tid2 == 0 || *counter2 == 0) wait_counter_moves();
    int st;
    for (int how = 0; how < 2; how++) {
        if (how == 0)
            kill(pid, SIGSTOP);
        else
            syscall(SYS_tgkill, pid, *tid2, SIGTSTP); /* to the second thread */
        waitpid(pid, &st, WUNTRACED);
        long a = *counter, b = *counter2;
        msleep(50);
        printf("threads %s: sig=%d ran=%d,%d", how ? "tgkill" : "kill", WSTOPSIG(st), *counter != a,
               *counter2 != b);
        kill(pid, SIGCONT);
        waitpid(pid, &st, WCONTINUED);
        for (int i = 0; i < 2000 && (*counter == a || *counter2 == b); i++) msleep(1);
        printf(" then ran=%d,%d\n", *counter != a, *counter2 != b);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

static char proc_state(pid_t pid) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return '?';
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] ? p[2] : '?';
}

static void print_chld(const char *what) {
    printf("%s: %d SIGCHLD:", what, (int)nchld);
    for (int i = 0; i < nchld; i++) printf(" code=%d status=%d", codes[i], statuses[i]);
    printf("\n");
    nchld = 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "self-stop") == 0) {
        /* Nobody can continue this process: under cowix, a deadlock. */
        raise(SIGSTOP);
        printf("continued\n");
        return 0;
    }
    counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);

    /* 1. STOP / CONT with waitpid. */
    pid_t pid = spin_child(0);
    int st = 0;
    kill(pid, SIGSTOP);
    pid_t r = waitpid(pid, &st, WUNTRACED);
    printf("stop: waitpid=%d status=%#x stopped=%d sig=%d state=%c\n", r == pid, st,
           WIFSTOPPED(st), WSTOPSIG(st), proc_state(pid));
    long c1 = *counter;
    msleep(50);
    printf("stopped child ran: %d\n", *counter != c1);
    r = waitpid(pid, &st, WUNTRACED | WNOHANG);
    printf("stop reported once: %d\n", r);
    kill(pid, SIGCONT);
    r = waitpid(pid, &st, WCONTINUED);
    printf("cont: waitpid=%d status=%#x continued=%d\n", r == pid, st, WIFCONTINUED(st));
    wait_counter_moves();
    printf("runs again: %d state=%c\n", *counter != c1, proc_state(pid));
    print_chld("stop+cont");

    /* 2. waitid with WNOWAIT leaves the report; then consumes it. */
    kill(pid, SIGTSTP);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PID, pid, &si, WSTOPPED | WNOWAIT);
    printf("waitid nowait: code=%d status=%d pid=%d\n", si.si_code, si.si_status, si.si_pid == pid);
    memset(&si, 0, sizeof si);
    waitid(P_PID, pid, &si, WSTOPPED);
    printf("waitid: code=%d status=%d\n", si.si_code, si.si_status);
    memset(&si, 0, sizeof si);
    r = waitid(P_PID, pid, &si, WSTOPPED | WNOHANG);
    printf("waitid again: %d pid=%d\n", r, si.si_pid);
    kill(pid, SIGCONT);
    memset(&si, 0, sizeof si);
    waitid(P_PID, pid, &si, WCONTINUED);
    printf("waitid cont: code=%d status=%d\n", si.si_code, si.si_status);
    wait_counter_moves(); /* the continued child sends CLD_CONTINUED as it runs */
    msleep(10);
    print_chld("tstp+cont");

    /* 3. A stopped child killed by SIGKILL. */
    kill(pid, SIGSTOP);
    waitpid(pid, &st, WUNTRACED);
    kill(pid, SIGKILL);
    r = waitpid(pid, &st, 0);
    printf("killed while stopped: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));
    print_chld("stop+kill");

    /* 4. SIGCONT blocked by the child still continues it. */
    pid = spin_child(1);
    kill(pid, SIGSTOP);
    waitpid(pid, &st, WUNTRACED);
    c1 = *counter;
    kill(pid, SIGCONT);
    waitpid(pid, &st, WCONTINUED);
    wait_counter_moves();
    printf("blocked SIGCONT continues: %d\n", *counter != c1);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    nchld = 0;

    /* 5. SA_NOCLDSTOP: no SIGCHLD for stops and continues, still for exit. */
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    pid = spin_child(0);
    kill(pid, SIGSTOP);
    waitpid(pid, &st, WUNTRACED);
    kill(pid, SIGCONT);
    waitpid(pid, &st, WCONTINUED);
    wait_counter_moves();
    msleep(10);
    print_chld("nocldstop");
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    print_chld("nocldstop exit");

    /* 6. The child stops itself; a stop signal discards a pending SIGCONT
     * and SIGCONT discards pending stops. */
    pid = fork();
    if (pid == 0) {
        raise(SIGSTOP);
        sigset_t s, p;
        sigemptyset(&s);
        sigaddset(&s, SIGTSTP);
        sigaddset(&s, SIGCONT);
        sigprocmask(SIG_BLOCK, &s, NULL);
        raise(SIGTSTP);
        raise(SIGCONT);
        sigpending(&p);
        int a = sigismember(&p, SIGTSTP), b = sigismember(&p, SIGCONT);
        raise(SIGTSTP);
        sigpending(&p);
        _exit(a * 8 + b * 4 + sigismember(&p, SIGTSTP) * 2 + sigismember(&p, SIGCONT));
    }
    waitpid(pid, &st, WUNTRACED);
    printf("raise(SIGSTOP): stopped=%d sig=%d\n", WIFSTOPPED(st), WSTOPSIG(st));
    kill(pid, SIGCONT);
    waitpid(pid, &st, 0);
    printf("pending after TSTP,CONT,TSTP: exit=%d\n", WEXITSTATUS(st));

    /* 7. Orphaned process groups: a child leading its own group in the
     * parent's session still stops on SIGTSTP; in a session of its own
     * (its parent outside it) the group is orphaned and SIGTSTP, SIGTTIN
     * and SIGTTOU are discarded, SIGSTOP is not. */
    for (int own_session = 0; own_session < 2; own_session++) {
        pid = fork();
        if (pid == 0) {
            if (own_session)
                setsid();
            else
                setpgid(0, 0);
            raise(SIGTSTP);
            raise(SIGTTIN);
            raise(SIGTTOU);
            raise(SIGSTOP);
            _exit(0);
        }
        printf("%s:", own_session ? "orphaned pgrp" : "own pgrp");
        for (;;) {
            waitpid(pid, &st, WUNTRACED);
            if (!WIFSTOPPED(st)) break;
            printf(" %d", WSTOPSIG(st));
            kill(pid, SIGCONT);
        }
        printf(" exit=%d\n", WEXITSTATUS(st));
    }

    /* 8. Threads. */
    threads_stop();

    /* 9. Without SA_RESTART, a wait woken by its child's exit returns the
     * child, not EINTR: the exit is found before the SIGCHLD is handled. */
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGCHLD, &sa, NULL);
    nchld = 0;
    pid = fork();
    if (pid == 0) {
        msleep(20);
        _exit(3);
    }
    r = waitpid(pid, &st, 0);
    printf("wait without SA_RESTART: %d status=%d chld=%d\n", r == pid, WEXITSTATUS(st), (int)nchld);

    /* 10. A group orphaned by its last outside parent's exit, with a
     * stopped member, gets SIGHUP and SIGCONT (kill_orphaned_pgrp). */
    hup_flag = counter + 3;
    *hup_flag = 0;
    pid = fork();
    if (pid == 0) {
        pid_t g = fork();
        if (g == 0) {
            setpgid(0, 0);
            signal(SIGHUP, on_hup);
            raise(SIGSTOP);
            *hup_flag += 100; /* continued */
            _exit(0);
        }
        waitpid(g, &st, WUNTRACED);
        _exit(0); /* orphans g's stopped group */
    }
    waitpid(pid, &st, 0);
    for (int i = 0; i < 2000 && *hup_flag < 100; i++) msleep(1);
    printf("orphaned stopped group: %ld (SIGHUP + 100 when continued)\n", *hup_flag);
    return 0;
}
