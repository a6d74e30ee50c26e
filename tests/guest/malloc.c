/*
 * glibc malloc on both of its paths: small blocks come from the brk heap,
 * blocks above M_MMAP_THRESHOLD (128 KiB) get their own anonymous mmap.
 * Every block is filled and checked, so a wrong page anywhere shows up.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fill_and_check(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed);
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed))
			return 0;
	return 1;
}

/* The linker's end of bss: on Linux the brk heap starts at the next page. */
extern char end[];

int main(void)
{
	char *heap_start = end;
	int ok = 1;

	/* Many small blocks: all inside the brk heap. */
	enum { N = 1000 };
	static unsigned char *small[N];
	for (int i = 0; i < N; i++) {
		size_t n = 16 + (size_t)(i % 200);
		small[i] = malloc(n);
		ok &= small[i] != NULL && fill_and_check(small[i], n, (unsigned)i);
	}
	char *heap_end = sbrk(0);
	int small_in_heap = 1;
	for (int i = 0; i < N; i++)
		small_in_heap &= (char *)small[i] >= heap_start && (char *)small[i] < heap_end;
	printf("small blocks in brk heap: %s\n", small_in_heap ? "yes" : "no");
	printf("brk above bss: %s\n", heap_end > heap_start ? "yes" : "no");

	/* Large blocks: each above the mmap threshold, outside the heap. */
	size_t sizes[] = { 200 * 1024, 1 << 20, 5 << 20 };
	for (unsigned i = 0; i < 3; i++) {
		unsigned char *p = malloc(sizes[i]);
		int outside = p && ((char *)p < heap_start || (char *)p >= (char *)sbrk(0));
		ok &= p != NULL && fill_and_check(p, sizes[i], i + 7);
		printf("large block %zu KiB mmapped outside heap: %s\n", sizes[i] / 1024, outside ? "yes" : "no");
		free(p);
	}

	/* realloc growing a block across the threshold keeps its contents. */
	unsigned char *r = malloc(1000);
	ok &= fill_and_check(r, 1000, 3);
	r = realloc(r, 300 * 1024);
	for (int i = 0; i < 1000; i++)
		ok &= r[i] == (unsigned char)(i * 31 + 3);
	free(r);

	for (int i = 0; i < N; i++)
		free(small[i]);
	/* calloc memory is zero. */
	uint64_t *z = calloc(100000, sizeof *z);
	for (int i = 0; i < 100000; i++)
		ok &= z[i] == 0;
	free(z);
	printf("contents intact: %s\n", ok ? "yes" : "no");
	return ok ? 0 : 1;
}
