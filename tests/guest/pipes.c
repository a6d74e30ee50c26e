/* Parent and child through a pipe; EOF when the writer closes; a child
 * writing to a pipe nobody reads gets EPIPE or dies of SIGPIPE. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	int fd[2];
	if (pipe(fd) != 0)
		return 1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		char big[100000];
		memset(big, 'x', sizeof big);
		/* More than the pipe holds: the parent reads while we block. */
		ssize_t n = write(fd[1], big, sizeof big);
		dprintf(2, "child wrote %zd\n", n);
		_exit(n == (ssize_t)sizeof big ? 0 : 1);
	}
	close(fd[1]);
	char buf[4096];
	ssize_t n, total = 0;
	while ((n = read(fd[0], buf, sizeof buf)) > 0)
		total += n;
	int status;
	waitpid(pid, &status, 0);
	printf("read %zd bytes then EOF (%zd), child status %d\n", total, n, WEXITSTATUS(status));
	close(fd[0]);

	/* No reader: SIGPIPE kills the writer. */
	pipe(fd);
	close(fd[0]);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		write(fd[1], "x", 1);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	printf("writer: signaled=%d sig=%d\n", WIFSIGNALED(status), WTERMSIG(status));

	/* SIGPIPE ignored: EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	ssize_t r = write(fd[1], "x", 1);
	printf("ignored: write=%zd errno=%s\n", r, strerror(errno));
	return 0;
}
