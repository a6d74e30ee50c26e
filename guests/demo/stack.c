/*
 * Step "stack": lower RLIMIT_STACK to 1 MiB, then recurse with 4 KiB
 * frames. Each new page below the stack grows the stack mapping down
 * (stack_growth); past the limit the fault is refused and SIGSEGV comes.
 * A one-shot handler on an alternate signal stack prints the faulting
 * address and the depth reached; then the fault recurs and kills us.
 */
#include "sys.h"

#define LIMIT (1ul << 20)
static volatile unsigned long depth;
static char altstack[16384] __attribute__((aligned(16)));

/* SA_RESETHAND made this handler one-shot: when it returns, the faulting
 * store runs again, faults again, and the default action kills us. */
static void on_segv(int sig, long *info, void *ctx)
{
	(void)sig;
	(void)ctx;
	say("SIGSEGV at ", (unsigned long)info[2], 1, "");
	say("depth reached: ", depth, 0, " frames of 4 KiB");
}

static unsigned long recurse(unsigned long n)
{
	volatile char frame[4000];
	frame[0] = (char)n;
	depth = n;
	if (n > (1ul << 30)) /* never: the stack limit stops us first */
		return n;
	return recurse(n + 1) + frame[0];
}

void cowix_main(long *sp)
{
	(void)sp;
	static unsigned long lim[2] = { LIMIT, LIMIT }; /* cur, max */
	sys3(SYS_setrlimit, 3 /* RLIMIT_STACK */, lim, 0);
	static long ss[3] = { (long)altstack, 0, sizeof altstack };
	sys3(SYS_sigaltstack, ss, 0, 0);
	/* handler, SA_SIGINFO | SA_ONSTACK | SA_RESETHAND, mask */
	static long act[3] = { (long)on_segv, 0x4 | 0x08000000 | 0x80000000, 0 };
	sys6(SYS_rt_sigaction, SIGSEGV, (long)act, 0, 8, 0, 0);
	say("RLIMIT_STACK = ", LIMIT >> 10, 0, " KiB; recursing");
	recurse(1);
}
