/*
 * Self-modifying and generated code, as a JIT writes it: code in an mmap'ed
 * page is run until it is hot, then rewritten (by a store, by read(2) from
 * a file, by remapping the page) and run again. Each rewrite must be seen
 * (one even without fence.i, which cowix, like qemu, does not need).
 * argv[1]: a file holding the 8 bytes of "addi a0, a0, 7; ret".
 * Prints one line per step; exits 0 if every step saw the new code.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

typedef long (*fn)(long);

#define ADDI_A0_A0(imm) (0x00050513u | ((uint32_t)(imm) << 20)) /* addi a0, a0, imm */
#define RET 0x00008067u                                          /* jalr zero, 0(ra) */

static void fence_i(void)
{
	__asm__ volatile("fence.i" ::: "memory");
}

/* Calls the code at `code` often enough that it is surely cached. */
static long run_hot(uint32_t *code, long x)
{
	fn f = (fn)(uintptr_t)code;
	long r = 0;
	for (int i = 0; i < 1000; i++)
		r = f(x);
	return r;
}

static int check(const char *step, long got, long want)
{
	printf("%-28s %ld%s\n", step, got, got == want ? "" : " WRONG");
	return got != want;
}

int main(int argc, char **argv)
{
	int bad = 0;
	uint32_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	code[0] = ADDI_A0_A0(1);
	code[1] = RET;
	fence_i();
	bad |= check("generated", run_hot(code, 10), 11);

	code[0] = ADDI_A0_A0(100); /* a store into hot code */
	fence_i();
	bad |= check("rewritten by a store", run_hot(code, 10), 110);

	/* RISC-V requires fence.i here; cowix (like qemu and x86) does not.
	 * Nothing runs between the two calls, so the old block is still cached. */
	long before = run_hot(code, 10);
	code[0] = ADDI_A0_A0(200);
	long after = run_hot(code, 10);
	bad |= check("hot before the store", before, 110);
	bad |= check("rewritten, no fence.i", after, 210);

	/* W^X style: the page goes read-write, then back to read-execute. */
	mprotect(code, 4096, PROT_READ | PROT_WRITE);
	code[0] = ADDI_A0_A0(-3);
	mprotect(code, 4096, PROT_READ | PROT_EXEC);
	fence_i();
	bad |= check("rewritten while not exec", run_hot(code, 10), 7);

	if (argc > 1) { /* the kernel writes the code: read(2) into the page */
		mprotect(code, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
		int fd = open(argv[1], O_RDONLY);
		if (fd < 0 || read(fd, code, 8) != 8) {
			perror(argv[1]);
			return 2;
		}
		close(fd);
		fence_i();
		bad |= check("rewritten by read(2)", run_hot(code, 10), 17);
	}

	/* A fresh page mapped over the old one at the same address. */
	uint32_t *again = mmap(code, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (again != code) {
		perror("mmap MAP_FIXED");
		return 2;
	}
	code[0] = ADDI_A0_A0(1000);
	code[1] = RET;
	fence_i();
	bad |= check("remapped", run_hot(code, 10), 1010);
	return bad;
}
