/*
 * Step "exec": the parent dirties 256 pages, forks, and the child execs a
 * tiny program at once. execve drops the child's references, so the
 * parent's pages are its alone again: rewriting them reuses every page
 * (cow_reuse), nothing is copied. With argv[1] == "hi" this is the program
 * the child runs.
 */
#include "sys.h"

#define PAGES 256
static volatile char buf[PAGES * 4096] __attribute__((aligned(4096)));

void cowix_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	if (argc > 1 && argv[1][0] == 'h') {
		line("child:  hello from the new program (exec done)");
		exit_group(0);
	}
	for (size_t i = 0; i < sizeof buf; i += 4096)
		buf[i] = 1;
	say("parent: dirtied ", PAGES, 0, " pages, forking");
	long pid = fork();
	if (pid == 0) {
		char *args[] = { argv[0], "hi", 0 };
		char *env[] = { 0 };
		sys3(SYS_execve, argv[0], args, env);
		sys3(SYS_exit, 127, 0, 0);
	}
	wait_child(pid);
	for (size_t i = 0; i < sizeof buf; i += 4096)
		buf[i] = 2;
	say("parent: rewrote all ", PAGES, 0, " pages after the child's exec");
	exit_group(0);
}
