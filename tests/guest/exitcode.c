/*
 * Ends in the way argv[1] names: "exit N", "return N", "segv" (store to
 * NULL: SIGSEGV), "abort" (SIGABRT through raise), "ill" (illegal
 * instruction: SIGILL), "ebreak" (SIGTRAP).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 3;
	const char *how = argv[1];
	int n = argc > 2 ? atoi(argv[2]) : 0;
	fflush(stdout);
	if (!strcmp(how, "exit"))
		exit(n);
	if (!strcmp(how, "return"))
		return n;
	if (!strcmp(how, "segv")) {
		volatile int *p = (volatile int *)(unsigned long)n;
		*p = 1;
	}
	if (!strcmp(how, "abort"))
		abort();
	if (!strcmp(how, "ill"))
		__asm__ volatile(".word 0");
	if (!strcmp(how, "ebreak"))
		__asm__ volatile("ebreak");
	return 4;
}
