/* vfork: the child borrows the parent's memory and the parent is suspended
 * until the child exits or execs. A variable the child writes is seen by
 * the parent (Linux; qemu-user runs vfork as fork, so there the parent
 * would print 0). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int shared;

int main(int argc, char **argv)
{
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		shared = 42;
		_exit(3);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("after _exit: shared = %d, status %d\n", shared, WEXITSTATUS(status));
	fflush(stdout);
	if (argc > 1) {
		pid = vfork();
		if (pid == 0) {
			shared = 99;
			char *args[] = {"echo_args", "from-vfork", NULL};
			char *env[] = {NULL};
			execve(argv[1], args, env);
			_exit(127);
		}
		printf("after exec: shared = %d\n", shared);
		fflush(stdout);
		waitpid(pid, &status, 0);
		printf("status %d\n", WEXITSTATUS(status));
	}
	return 0;
}
