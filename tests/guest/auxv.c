/*
 * Prints the initial stack as the kernel built it: argc, argv and envp,
 * every auxv entry, and the layout facts a loader relies on (sp alignment,
 * where the strings, AT_RANDOM and AT_EXECFN sit). Addresses are printed
 * relative to the stack top guessed from AT_EXECFN, so two kernels with a
 * different stack top can be compared.
 */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* glibc's _start passes main the kernel's argv, so the initial sp (where
 * argc is stored) is just below argv[0]'s pointer. */
static uint64_t *initial_sp;

extern char **environ;

int main(int argc, char **argv)
{
	char **envp = argv + argc + 1;
	char **e = envp;
	while (*e)
		e++;
	Elf64_auxv_t *auxv = (Elf64_auxv_t *)(e + 1);
	initial_sp = (uint64_t *)argv - 1;

	uint64_t execfn = 0, random = 0;
	for (Elf64_auxv_t *a = auxv; a->a_type != AT_NULL; a++) {
		if (a->a_type == AT_EXECFN)
			execfn = a->a_un.a_val;
		if (a->a_type == AT_RANDOM)
			random = a->a_un.a_val;
	}
	/* The execfn string is followed by 8 zero bytes and the stack top. */
	uint64_t top = execfn + strlen((char *)execfn) + 1 + 8;

	printf("argc=%ld sp%%16=%lu top%%4096=%lu\n", (long)*initial_sp,
	       (unsigned long)((uintptr_t)initial_sp % 16), (unsigned long)(top % 4096));
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s at top-%lu\n", i, argv[i], (unsigned long)(top - (uintptr_t)argv[i]));
	for (char **p = envp; *p; p++)
		printf("env=%s at top-%lu\n", *p, (unsigned long)(top - (uintptr_t)*p));
	printf("execfn=%s at top-%lu\n", (char *)execfn, (unsigned long)(top - execfn));
	printf("random at top-%lu, 16-aligned=%d, below argv[0] by %lu\n",
	       (unsigned long)(top - random), (int)(random % 16 == 0),
	       (unsigned long)((uintptr_t)argv[0] - random));
	printf("auxv after envp NULL: %d\n", (void *)auxv == (void *)(e + 1));
	for (Elf64_auxv_t *a = auxv; a->a_type != AT_NULL; a++) {
		uint64_t v = a->a_un.a_val;
		switch (a->a_type) {
		case AT_RANDOM:
		case AT_EXECFN:
			printf("auxv %lu = top-%lu\n", (unsigned long)a->a_type, (unsigned long)(top - v));
			break;
		default:
			printf("auxv %lu = %#lx\n", (unsigned long)a->a_type, (unsigned long)v);
		}
	}
	return environ == envp ? 0 : 1;
}
