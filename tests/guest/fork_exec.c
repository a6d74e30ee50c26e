/* fork, the child execs another guest (argv[1]) with arguments and an
 * environment; the parent waits and prints the status. Also: a failed
 * exec returns ENOENT and the caller continues. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	char *bad[] = {"nope", NULL};
	if (execv("/no/such/program", bad) == -1)
		printf("execv missing: %s\n", strerror(errno));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *args[] = {"echo_args", "x", "y z", NULL};
		char *env[] = {"K=V", NULL};
		execve(argv[1], args, env);
		perror("execve");
		_exit(127);
	}
	int status;
	pid_t r = waitpid(pid, &status, 0);
	printf("waited %s, exited=%d status=%d\n", r == pid ? "ok" : "wrong", WIFEXITED(status), WEXITSTATUS(status));
	return 0;
}
