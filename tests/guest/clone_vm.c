/* clone(CLONE_VM) without CLONE_THREAD: a separate process (own pid, own
 * fd table, own signal handlers) on the parent's very address space;
 * wait4 reaps it with the exit signal from clone's low byte. Memory the
 * child maps stays after it exits (the space is the parent's too); an
 * exec in such a child gives it a new space and leaves the parent's
 * intact. Also copy_process's flag rules. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int shared;
static volatile char *child_map;
static volatile pid_t child_saw_pid;

static int child(void *arg)
{
	(void)arg;
	shared = 42;
	child_saw_pid = getpid();
	/* Its own fd table: a descriptor made here is not the parent's. */
	if (dup2(1, 20) != 20)
		return 1;
	/* Its own handlers. */
	signal(SIGUSR1, SIG_IGN);
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 2;
	strcpy(m, "mapped by the child");
	child_map = m;
	return 7;
}

static int exec_child(void *arg)
{
	shared = 99;
	execl("/proc/self/exe", "clone_vm", "exec", (char *)arg, (char *)NULL);
	return 127;
}

static int files_child(void *arg)
{
	(void)arg;
	/* The very table: what it opens and closes, the parent sees. */
	if (dup2(1, 21) != 21)
		return 1;
	close(22);
	return 0;
}

static int files_exec_child(void *arg)
{
	(void)arg;
	/* exec unshares the table first: its close-on-exec fds close in its
	 * own copy only. */
	execl("/proc/self/exe", "clone_vm", "exec", "files", (char *)NULL);
	return 127;
}

static volatile int fword;
static volatile int waiting;

static int futex_child(void *arg)
{
	(void)arg;
	waiting = 1;
	while (fword == 0)
		syscall(SYS_futex, &fword, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return fword;
}

static int fs_child(void *arg)
{
	(void)arg;
	if (chdir("/proc") != 0)
		return 1;
	umask(077);
	return 0;
}

/* Runs fs_child with `flags` and says whether its chdir and umask are
 * seen here, then puts both back. */
static void fs_case(const char *what, int flags, char *stack)
{
	char before[512], after[512];
	if (!getcwd(before, sizeof before))
		return;
	mode_t old = umask(022);
	fflush(stdout);
	pid_t pid = clone(fs_child, stack, flags | SIGCHLD, NULL);
	int status;
	waitpid(pid, &status, 0);
	if (!getcwd(after, sizeof after))
		return;
	mode_t now = umask(old);
	printf("%s: exit %d, chdir seen %d, umask seen %d\n", what, WEXITSTATUS(status),
	       strcmp(after, "/proc") == 0, now == 077);
	if (chdir(before) != 0)
		printf("cannot go back\n");
}

static int ignore_usr1_child(void *arg)
{
	(void)arg;
	signal(SIGUSR1, SIG_IGN);
	return 0;
}

static void on_usr2(int n)
{
	(void)n;
}

static volatile int release_child;

static int waiting_child(void *arg)
{
	(void)arg;
	while (!release_child)
		sched_yield();
	return 0;
}

/* Rss: of /proc/PID/smaps_rollup, in kB. */
static long rss_of(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static char stack3[65536] __attribute__((aligned(16)));
static char stack1[65536] __attribute__((aligned(16)));
static char stack2[65536] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
	if (argc > 1) {
		printf("exec'd: %s\n", argv[2]);
		return 3;
	}
	fflush(stdout);
	pid_t pid = clone(child, stack1 + sizeof stack1, CLONE_VM | SIGCHLD, NULL);
	if (pid < 0) {
		printf("clone: %s\n", strerror(errno));
		return 1;
	}
	int status;
	pid_t got = waitpid(pid, &status, 0);
	printf("reaped %d, exit %d\n", got == pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	printf("child had its own pid: %d\n", child_saw_pid == pid && pid != getpid());
	printf("shared write seen: %d\n", shared);
	printf("child's fd 20 in parent: %d (%s)\n", fcntl(20, F_GETFD), strerror(errno));
	struct sigaction sa;
	sigaction(SIGUSR1, NULL, &sa);
	printf("parent's SIGUSR1 still default: %d\n", sa.sa_handler == SIG_DFL);
	printf("child's mapping after its exit: %s\n", child_map ? (char *)child_map : "(none)");
	/* exec in a CLONE_VM child: the parent's memory stays. */
	static char word[] = "hello";
	fflush(stdout);
	pid = clone(exec_child, stack2 + sizeof stack2, CLONE_VM | SIGCHLD, word);
	waitpid(pid, &status, 0);
	printf("after the child's exec: exit %d, shared %d, word %s, map %s\n",
	       WEXITSTATUS(status), shared, word, (char *)child_map);
	char *p = malloc(1 << 20);
	memset(p, 1, 1 << 20);
	printf("parent's heap still works: %d\n", p[12345]);
	/* CLONE_FILES: one fd table for two processes. */
	if (dup2(1, 22) != 22)
		return 1;
	fflush(stdout);
	pid = clone(files_child, stack3 + sizeof stack3, CLONE_VM | CLONE_FILES | SIGCHLD, NULL);
	waitpid(pid, &status, 0);
	printf("CLONE_FILES child: exit %d, its fd 21 open here %d, fd 22 it closed open here %d\n",
	       WEXITSTATUS(status), fcntl(21, F_GETFD) >= 0, fcntl(22, F_GETFD) >= 0);
	/* Without CLONE_VM too: a fork that shares the table. */
	fflush(stdout);
	long r = syscall(SYS_clone, CLONE_FILES | SIGCHLD, 0, 0, 0, 0);
	if (r == 0) {
		close(21);
		_exit(0);
	}
	waitpid(r, &status, 0);
	printf("fork with CLONE_FILES closed fd 21 here too: %d\n", fcntl(21, F_GETFD) < 0);
	int keep = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (dup2(keep, 23) != 23)
		return 1;
	fcntl(23, F_SETFD, FD_CLOEXEC);
	fflush(stdout);
	pid = clone(files_exec_child, stack3 + sizeof stack3, CLONE_VM | CLONE_FILES | SIGCHLD, NULL);
	waitpid(pid, &status, 0);
	printf("after a CLONE_FILES child's exec: exit %d, close-on-exec fd 23 still open here %d\n",
	       WEXITSTATUS(status), fcntl(23, F_GETFD) >= 0);
	/* A private futex is keyed by the address space: the parent's wake
	 * reaches the CLONE_VM child's wait. */
	fflush(stdout);
	pid = clone(futex_child, stack3 + sizeof stack3, CLONE_VM | SIGCHLD, NULL);
	while (!waiting)
		sched_yield();
	for (int i = 0; i < 10; i++)
		sched_yield();
	fword = 5;
	syscall(SYS_futex, &fword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	waitpid(pid, &status, 0);
	printf("futex child woken: exit %d\n", WEXITSTATUS(status));
	fs_case("CLONE_VM", CLONE_VM, stack3 + sizeof stack3);
	fs_case("CLONE_VM|CLONE_FS", CLONE_VM | CLONE_FS, stack3 + sizeof stack3);
	/* smaps is per address space: both users show the same one. */
	fflush(stdout);
	pid = clone(waiting_child, stack3 + sizeof stack3, CLONE_VM | SIGCHLD, NULL);
	rss_of(pid); /* the first read allocates stdio's buffers */
	long mine = rss_of(getpid()), its = rss_of(pid);
	release_child = 1;
	waitpid(pid, &status, 0);
	printf("smaps_rollup Rss the same for both users of the space: %d\n", mine > 0 && mine == its);
	/* CLONE_SIGHAND: one handler table; an exec in the child gives it
	 * its own (unshare_sighand) and leaves the parent's. */
	fflush(stdout);
	pid = clone(ignore_usr1_child, stack3 + sizeof stack3, CLONE_VM | CLONE_SIGHAND | SIGCHLD, NULL);
	waitpid(pid, &status, 0);
	sigaction(SIGUSR1, NULL, &sa);
	printf("CLONE_SIGHAND child's SIG_IGN seen here: %d\n", sa.sa_handler == SIG_IGN);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, on_usr2);
	fflush(stdout);
	pid = clone(exec_child, stack2 + sizeof stack2, CLONE_VM | CLONE_SIGHAND | SIGCHLD, word);
	waitpid(pid, &status, 0);
	sigaction(SIGUSR2, NULL, &sa);
	printf("after its exec: exit %d, my SIGUSR2 handler kept %d\n", WEXITSTATUS(status),
	       sa.sa_handler == on_usr2);
	signal(SIGUSR2, SIG_DFL);
	/* A clone child (exit signal not SIGCHLD) is waited for with
	 * __WCLONE only (or __WALL). */
	fflush(stdout);
	pid = clone(child, stack3 + sizeof stack3, CLONE_VM | SIGUSR2, NULL);
	signal(SIGUSR2, SIG_IGN);
	int plain = waitpid(pid, &status, 0);
	printf("plain wait for a clone child: %d %s\n", plain, plain < 0 ? strerrorname_np(errno) : "");
	got = waitpid(pid, &status, __WCLONE);
	printf("__WCLONE wait: reaped %d, exit %d\n", got == pid, WEXITSTATUS(status));
	pid = clone(child, stack3 + sizeof stack3, CLONE_VM, NULL);
	got = waitpid(-1, &status, __WALL);
	printf("__WALL wait for a child with no exit signal: reaped %d, exit %d\n", got == pid,
	       WEXITSTATUS(status));
	/* copy_process's rules. */
	r = syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0);
	printf("CLONE_SIGHAND without CLONE_VM: %ld %s\n", r, strerror(errno));
	r = syscall(SYS_clone, CLONE_VM | CLONE_THREAD | SIGCHLD, 0, 0, 0, 0);
	printf("CLONE_THREAD without CLONE_SIGHAND: %ld %s\n", r, strerror(errno));
	return 0;
}
