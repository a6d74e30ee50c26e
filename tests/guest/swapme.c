/* Touches more memory than cowix's --memory and checks every byte came
 * back, before and across fork (the child writes half of the pages: COW
 * copies of swapped pages).
 *   swapme MIB [fork]
 * Prints "swapme: ok SUM" and exits 0, or exits 1 on a wrong byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define WORDS (PAGE / 8)

static uint64_t word(size_t page, size_t i, uint64_t seed)
{
	return (page * 0x9E3779B97F4A7C15ull) ^ (i * 0xBF58476D1CE4E5B9ull) ^ seed;
}

static void fill(uint64_t *m, size_t first, size_t pages, size_t step, uint64_t seed)
{
	for (size_t p = first; p < pages; p += step)
		for (size_t i = 0; i < WORDS; i++)
			m[p * WORDS + i] = word(p, i, seed);
}

/* Returns a checksum, or exits 1 at the first wrong word. */
static uint64_t check(const uint64_t *m, size_t pages, uint64_t seed, uint64_t odd_seed,
		      const char *who)
{
	uint64_t sum = 0;
	for (size_t p = 0; p < pages; p++) {
		uint64_t s = (p % 2) ? odd_seed : seed;
		for (size_t i = 0; i < WORDS; i++) {
			uint64_t w = m[p * WORDS + i];
			if (w != word(p, i, s)) {
				printf("swapme: %s: page %zu word %zu is %#llx, want %#llx\n", who, p, i,
				       (unsigned long long)w, (unsigned long long)word(p, i, s));
				exit(1);
			}
			sum += w;
		}
	}
	return sum;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], 0, 0) : 16;
	int do_fork = argc > 2 && strcmp(argv[2], "fork") == 0;
	size_t pages = mib * 256;
	uint64_t *m = mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	fill(m, 0, pages, 1, 1);
	uint64_t sum = check(m, pages, 1, 1, "first pass");
	/* With memory full, read(2) into 1 MiB never touched: the kernel needs
	 * 256 frames for the copy and must reclaim for them. */
	char *b = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int z = open("/dev/zero", O_RDONLY);
	ssize_t got = b == MAP_FAILED || z < 0 ? -1 : read(z, b, 1 << 20);
	if (got != 1 << 20) {
		printf("swapme: read into fresh memory gave %zd (fd %d): %m\n", got, z);
		return 1;
	}
	munmap(b, 1 << 20);
	close(z);
	if (do_fork) {
		/* One page every 2 MiB of 256 MiB: the child needs 128 more page
		 * tables than the pages it shares, when memory is already full. */
		char *sparse = mmap(0, 256 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (sparse == MAP_FAILED)
			return 2;
		for (size_t off = 0; off < (256 << 20); off += 2 << 20)
			sparse[off] = 1;
		pid_t pid = fork();
		if (pid < 0) {
			printf("swapme: fork: %m\n");
			return 2;
		}
		if (pid == 0) {
			check(m, pages, 1, 1, "child before writing");
			fill(m, 1, pages, 2, 2); /* odd pages */
			check(m, pages, 1, 2, "child after writing");
			_exit(0);
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("swapme: child failed (status %#x)\n", st);
			return 1;
		}
		if (check(m, pages, 1, 1, "parent after the child") != sum)
			return 1;
	}
	printf("swapme: ok %llx\n", (unsigned long long)sum);
	return 0;
}
