/*
 * Step "vfork": vfork shares the parent's memory with the child (no copy,
 * not even of page tables) and suspends the parent until the child execs
 * or exits. The first child stores into a variable and exits: the parent
 * sees the store, as there is one memory. The second child execs.
 */
#include "sys.h"

static volatile long shared_var = 1;

/* vfork, then in the child store `value` to *where (if where) and either
 * execve(path, args, env) or _exit(0), all in registers: the child must
 * not touch the stack it shares with its suspended parent. */
static long vfork_then(volatile long *where, long value, const char *path,
		       char **args, char **env)
{
	register long a0 __asm__("a0") = SIGCHLD | CLONE_VM | CLONE_VFORK;
	register long a1 __asm__("a1") = 0;
	register long a2 __asm__("a2") = 0;
	register long a3 __asm__("a3") = 0;
	register long a4 __asm__("a4") = 0;
	register long a7 __asm__("a7") = SYS_clone;
	register long t0 __asm__("t0") = (long)where;
	register long t1 __asm__("t1") = value;
	register long t2 __asm__("t2") = (long)path;
	register long t3 __asm__("t3") = (long)args;
	register long t4 __asm__("t4") = (long)env;
	__asm__ volatile("ecall\n"
			 "	bnez a0, 3f\n"
			 "	beqz t0, 1f\n"
			 "	sd t1, 0(t0)\n"
			 "1:	beqz t2, 2f\n"
			 "	mv a0, t2\n"
			 "	mv a1, t3\n"
			 "	mv a2, t4\n"
			 "	li a7, 221\n"
			 "	ecall\n"
			 "	li a0, 127\n"
			 "	j 4f\n"
			 "2:	li a0, 0\n"
			 "4:	li a7, 93\n"
			 "	ecall\n"
			 "3:\n"
			 : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4),
			   "+r"(a7)
			 : "r"(t0), "r"(t1), "r"(t2), "r"(t3), "r"(t4)
			 : "memory");
	return a0;
}

void cowix_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	if (argc > 1) {
		line("child:  exec'd after vfork, running on its own memory");
		exit_group(0);
	}
	say("parent: shared_var = ", shared_var, 0, ", vforking");
	long pid = vfork_then(&shared_var, 2, 0, 0, 0);
	wait_child(pid);
	say("parent: child stored 2 and exited; shared_var = ", shared_var, 0,
	    "");
	char *args[] = { argv[0], "child", 0 };
	char *env[] = { 0 };
	pid = vfork_then(0, 0, argv[0], args, env);
	line("parent: resumed once the child had exec'd");
	wait_child(pid);
	exit_group(shared_var == 2 ? 0 : 1);
}
