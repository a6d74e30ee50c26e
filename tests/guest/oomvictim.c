/* The OOM killer picks the biggest process, not the one that faulted:
 * child A fills HOG MiB and waits on a pipe; child B then touches SMALL MiB
 * more than fits. A is killed (SIGKILL), B finishes, and init reports both.
 *   oomvictim HOG SMALL */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char *touch(size_t mib)
{
	char *m = mmap(0, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(2);
	for (size_t i = 0; i < mib << 20; i += 4096)
		m[i] = (char)(i >> 12) | 1;
	return m;
}

int main(int argc, char **argv)
{
	size_t hog = argc > 1 ? strtoul(argv[1], 0, 0) : 6;
	size_t small = argc > 2 ? strtoul(argv[2], 0, 0) : 3;
	int ready[2], hold[2];
	if (pipe(ready) || pipe(hold))
		return 2;
	pid_t a = fork();
	if (a == 0) {
		touch(hog);
		write(ready[1], "r", 1);
		char c;
		read(hold[0], &c, 1); /* waits until killed */
		_exit(0);
	}
	char c;
	if (read(ready[0], &c, 1) != 1)
		return 2;
	pid_t b = fork();
	if (b == 0) {
		char *m = touch(small);
		for (size_t i = 0; i < small << 20; i += 4096)
			if (m[i] != ((char)(i >> 12) | 1))
				_exit(1);
		_exit(0);
	}
	int st;
	waitpid(b, &st, 0);
	printf("small: %s\n", WIFEXITED(st) ? "exited" : "killed");
	if (WIFEXITED(st))
		printf("small status %d\n", WEXITSTATUS(st));
	waitpid(a, &st, 0);
	printf("hog: %s\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "SIGKILL" : "survived");
	return 0;
}
