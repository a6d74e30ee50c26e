/* Seed 002's sample: after fork the child changes p and a global, the
 * parent changes number; each sees only its own writes (COW). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int global = 1;

int main(void)
{
	char p = 'P';
	int number = 11;
	pid_t me = getpid();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		p = 'C';
		global = 2;
		printf("child: p = %c, number = %d, global = %d, parent is %s\n", p, number, global,
		       getppid() == me ? "getppid()" : "someone else");
		exit(7);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	number = 14;
	printf("parent: p = %c, number = %d, global = %d\n", p, number, global);
	printf("child exited %d\n", WEXITSTATUS(status));
	return 0;
}
