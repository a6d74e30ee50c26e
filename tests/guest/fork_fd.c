/* Seed 002: open file descriptions are shared across fork. The child
 * writes through its copy of the fd (as fd variable set to 1: stdout) and
 * reads 2 bytes of a file; the parent's next read continues after them. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/tmp/cowix_fork_fd.txt";
	int w = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (w < 0 || write(w, "abcdefgh", 8) != 8)
		return 1;
	close(w);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		char b[3] = {0};
		if (read(fd, b, 2) != 2)
			_exit(1);
		int out = 1;
		dprintf(out, "child read %s\n", b);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	char b[4] = {0};
	ssize_t n = read(fd, b, 3);
	printf("parent read %zd: %s (offset %ld)\n", n, b, (long)lseek(fd, 0, SEEK_CUR));
	unlink(path);
	return WEXITSTATUS(status);
}
