/* vfork from a thread suspends only the calling thread (Linux's
 * wait_for_vfork_done): another thread of the group keeps running on the
 * very memory the child borrows, so the child sees its counter move, and
 * the parent thread resumes once the child has exec'd.
 * qemu-user runs vfork as fork: there the child would never see the
 * counter move ("child saw the counter move: 0"). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long counter;
static volatile int stop;
static volatile int child_wrote;

static void *count(void *arg)
{
	(void)arg;
	while (!stop) {
		counter++;
		sched_yield();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exec") == 0) {
		printf("exec'd child: pid %d\n", getpid() > 0);
		return 5;
	}
	pthread_t th;
	pthread_create(&th, NULL, count, NULL);
	while (counter < 3)
		sched_yield();
	fflush(stdout);
	long before = counter;
	pid_t pid = vfork();
	if (pid == 0) {
		/* The parent thread is suspended; the counting thread is not. */
		int moved = 0;
		for (int i = 0; i < 100000 && !moved; i++) {
			if (counter >= before + 5)
				moved = 1;
			sched_yield();
		}
		char msg[64];
		int n = snprintf(msg, sizeof msg, "child saw the counter move: %d\n", moved);
		if (write(1, msg, n) != n)
			_exit(1);
		child_wrote = 1;
		execl("/proc/self/exe", "vfork_thread", "exec", (char *)NULL);
		_exit(127);
	}
	long after = counter;
	int wrote = child_wrote;
	int status;
	waitpid(pid, &status, 0);
	printf("parent resumed after the exec: sees the child's write %d, counter moved %d\n",
	       wrote, after >= before + 5);
	printf("child exit status %d\n", WEXITSTATUS(status));
	stop = 1;
	pthread_join(th, NULL);
	/* vfork + _exit from a thread, the other thread still counting. */
	stop = 0;
	pthread_create(&th, NULL, count, NULL);
	fflush(stdout);
	pid = vfork();
	if (pid == 0)
		_exit(9);
	waitpid(pid, &status, 0);
	printf("second child exit status %d\n", WEXITSTATUS(status));
	stop = 1;
	pthread_join(th, NULL);
	return 0;
}
