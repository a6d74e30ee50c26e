/*
 * Step "lazy binding", the static way. A dynamic program's GOT is a page of
 * addresses in the file's data segment, mapped private: reading it maps the
 * file's page from the page cache (file fault), and the first write to it
 * copies it into an anonymous page of the process (file_cow). On riscv64
 * ld.so makes that first write itself at start-up (the GOT header: the
 * resolver and the link map, glibc's elf_machine_runtime_setup), and each
 * PLT slot is bound (written) at its first call. This guest has no dynamic
 * linker, so it shows the fault by hand on a table of function pointers
 * that lives in its own data page.
 */
#include "sys.h"

static void say_early(void) { line("called through slot 0 (before binding)"); }
static void say_late(void) { line("called through slot 0 (after binding)"); }

static void (*volatile got[512])(void) __attribute__((aligned(4096))) = {
	say_early, say_early,
};

void cowix_main(long *sp)
{
	(void)sp;
	got[0](); /* read: the file's page, shared with the page cache */
	got[0] = say_late; /* "bind": write, private copy of the page */
	got[0]();
	exit_group(0);
}
