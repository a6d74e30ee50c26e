/*
 * Step "bss": read every page of a 256 MiB bss array. Each first read maps
 * the one shared zero frame (zero_page fault); no frame is allocated for
 * the data, only the page tables that point at the zero frame.
 */
#include "sys.h"

#define HUGE (256ul << 20)
static char huge[HUGE];

void cowix_main(long *sp)
{
	(void)sp;
	unsigned long sum = 0;
	for (size_t i = 0; i < HUGE; i += 4096)
		sum += ((volatile char *)huge)[i];
	say("read ", HUGE / 4096, 0, " pages of a 256 MiB bss array");
	say("sum of the bytes read: ", sum, 0, "");
	exit_group(sum != 0);
}
