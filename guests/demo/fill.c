/*
 * Step "swap": write a distinct value into every page of a 24 MiB
 * anonymous mapping, then read them all back. Run with less guest memory
 * than that and a swap area, the kernel must write pages out to make room
 * and read them back in when touched again; the check proves no page was
 * lost or mixed up.
 */
#include "sys.h"

#define BYTES (24ul << 20)

void cowix_main(long *sp)
{
	(void)sp;
	/* mmap(NULL, BYTES, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS) */
	unsigned long *p =
		(unsigned long *)sys6(SYS_mmap, 0, BYTES, 3, 0x22, -1, 0);
	if ((long)p < 0) {
		line("mmap failed");
		exit_group(2);
	}
	size_t pages = BYTES / 4096, bad = 0;
	for (size_t i = 0; i < pages; i++)
		p[i * 512] = i * 2654435761u;
	say("wrote ", pages, 0, " pages (24 MiB)");
	for (size_t i = 0; i < pages; i++)
		bad += p[i * 512] != i * 2654435761u;
	say("read them back: ", bad, 0, " wrong");
	exit_group(bad != 0);
}
