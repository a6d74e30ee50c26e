/* How children end, as wait reports it: exit 3, SIGSEGV, abort. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, int status)
{
	printf("%s: raw=%#x exited=%d", what, status, WIFEXITED(status));
	if (WIFEXITED(status))
		printf(" code=%d", WEXITSTATUS(status));
	printf(" signaled=%d", WIFSIGNALED(status));
	if (WIFSIGNALED(status))
		printf(" sig=%d core=%d", WTERMSIG(status), WCOREDUMP(status) ? 1 : 0);
	printf("\n");
}

static pid_t child(int how)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
		if (how == 0)
			exit(3);
		if (how == 1)
			*(volatile int *)0 = 1;
		abort();
	}
	return pid;
}

int main(void)
{
	const char *names[] = {"exit 3", "SIGSEGV", "abort"};
	for (int i = 0; i < 3; i++) {
		pid_t pid = child(i);
		int status;
		if (waitpid(pid, &status, 0) != pid)
			return 1;
		report(names[i], status);
	}
	int status;
	printf("no children: %d\n", wait(&status));
	pid_t pid = child(0);
	while (waitpid(pid, &status, WNOHANG) == 0)
		;
	report("WNOHANG poll", status);
	return 0;
}
