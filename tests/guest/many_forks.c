/* 50 children, each writing to pages it shares copy-on-write with the
 * parent; all reaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 16
static char data[PAGES * 4096];

int main(void)
{
	memset(data, 1, sizeof data);
	int sum = 0;
	for (int i = 0; i < 50; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			for (int p = 0; p < PAGES; p += 1 + i % 3)
				data[p * 4096] = (char)i;
			_exit(i % 7);
		}
	}
	int status, n = 0;
	while (wait(&status) > 0) {
		n++;
		sum += WEXITSTATUS(status);
	}
	printf("reaped %d children, exit codes sum %d, parent data intact %d\n", n, sum, data[0] == 1 && data[4096 * 5] == 1);
	return 0;
}
