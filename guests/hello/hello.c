/*
 * cowix's first guest: a freestanding rv64 program (no libc, a few KiB), so
 * a fresh clone can run something without a cross compiler. It prints a
 * greeting, its arguments, and proves its bss reads as zero and its stack
 * and data are writable.  Rebuild with `make -C guests` (see Makefile).
 */

typedef unsigned long size_t;

static long syscall3(long nr, long a, long b, long c)
{
	register long a0 __asm__("a0") = a;
	register long a1 __asm__("a1") = b;
	register long a2 __asm__("a2") = c;
	register long a7 __asm__("a7") = nr;
	__asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
	return a0;
}

enum { SYS_write = 64, SYS_exit_group = 94 };

static size_t len(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void put(const char *s)
{
	syscall3(SYS_write, 1, (long)s, (long)len(s));
}

char zeros[1 << 20];              /* bss: 256 pages, all read as zero */
int counter = 41;                 /* data: starts as 41 in the file */

/* Called from _start with the initial stack pointer: argc, argv[], NULL, envp[]. */
void cowix_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	unsigned long sum = 0;

	put("Hello from a RISC-V guest running on cowix!\n");
	for (long i = 1; i < argc; i++) {
		put("  arg: ");
		put(argv[i]);
		put("\n");
	}
	for (size_t i = 0; i < sizeof zeros; i += 4096)
		sum += (unsigned char)zeros[i];
	counter++;
	put(sum == 0 ? "  bss reads as zero: yes\n" : "  bss reads as zero: NO\n");
	put(counter == 42 ? "  data is writable: yes\n" : "  data is writable: NO\n");
	syscall3(SYS_exit_group, 0, 0, 0);
}

__asm__(".globl _start\n"
	"_start:\n"
	"	mv a0, sp\n"
	"	call cowix_main\n");
