/*
 * Step "fork modes": touch 2048 pages (8 MiB), fork, the child writes 64
 * of them and exits, the parent waits. Run once under each --fork-mode:
 * copy duplicates all 2048 pages at fork, cow copies only the 64 written,
 * share-tables also shares the leaf page tables until one side writes.
 */
#include "sys.h"

#define PAGES 2048
#define WRITTEN 64
static volatile char buf[PAGES * 4096] __attribute__((aligned(4096)));

void cowix_main(long *sp)
{
	(void)sp;
	for (size_t i = 0; i < PAGES; i++)
		buf[i * 4096] = 1;
	long pid = fork();
	if (pid == 0) {
		for (size_t i = 0; i < WRITTEN; i++)
			buf[i * 4096] = 2;
		sys3(SYS_exit, 0, 0, 0);
	}
	int status = wait_child(pid);
	say("touched ", PAGES, 0, " pages, forked; the child wrote 64");
	exit_group(status != 0);
}
