/*
 * Step "fork": parent and child write different variables after fork.
 * Each variable has a page of its own. Before fork both pages are the
 * parent's alone; after fork they are shared read-only (refcount 2), so
 * the first write on either side copies the page (cow_copy). Once the
 * child has exited, the parent is the sole owner again: its next write
 * just makes the page writable, no copy (cow_reuse).
 */
#include "sys.h"

static volatile long parents_var[512] __attribute__((aligned(4096)));
static volatile long childs_var[512] __attribute__((aligned(4096)));

void cowix_main(long *sp)
{
	(void)sp;
	parents_var[0] = 1; /* both pages present and private before fork */
	childs_var[0] = 1;
	long pid = fork();
	if (pid == 0) {
		childs_var[0] = 2; /* shared page: copied for the child */
		say("child:  wrote childs_var = ", childs_var[0], 0, ", exiting");
		sys3(SYS_exit, 0, 0, 0);
	}
	parents_var[0] = 3; /* shared page: copied for the parent */
	say("parent: wrote parents_var = ", parents_var[0], 0, ", waiting");
	wait_child(pid);
	say("parent: child gone; childs_var is still ", childs_var[0], 0,
	    " here");
	childs_var[0] = 4; /* parent owns the page alone now: reused */
	say("parent: wrote childs_var = ", childs_var[0], 0,
	    " (page now mine alone)");
	exit_group(0);
}
