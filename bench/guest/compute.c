/*
 * cowix's compute benchmark guest: integer hashing, qsort, a sieve and a
 * double-precision matrix multiply. It prints only checksums, so the same
 * binary's output can be compared between cowix, qemu-riscv64 and native.
 * The size scale is argv[1] (default 1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_loop(unsigned rounds)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (unsigned r = 0; r < rounds; r++)
		for (unsigned i = 0; i < 1000000; i++) {
			h ^= i + r;
			h *= 0x100000001b3ull;
			h ^= h >> 29;
		}
	return h;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static uint64_t sort_test(unsigned n)
{
	uint32_t *v = malloc(n * sizeof *v);
	uint32_t s = 12345;
	for (unsigned i = 0; i < n; i++) {
		s = s * 1103515245u + 12345u;
		v[i] = s;
	}
	qsort(v, n, sizeof *v, cmp_u32);
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i += 97)
		sum = sum * 31 + v[i];
	free(v);
	return sum;
}

static uint64_t sieve(unsigned n)
{
	unsigned char *composite = calloc(n + 1, 1);
	uint64_t count = 0, sum = 0;
	for (uint64_t i = 2; i <= n; i++) {
		if (composite[i])
			continue;
		count++;
		sum += i;
		for (uint64_t j = i * i; j <= n; j += i)
			composite[j] = 1;
	}
	free(composite);
	return count * 1000003 + sum;
}

static double matmul(unsigned n)
{
	double *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b), *c = calloc(n * n, sizeof *c);
	for (unsigned i = 0; i < n * n; i++) {
		a[i] = (double)(i % 17) / 7.0 - 1.0;
		b[i] = (double)(i % 13) / 3.0 + 0.5;
	}
	for (unsigned i = 0; i < n; i++)
		for (unsigned k = 0; k < n; k++) {
			double aik = a[i * n + k];
			for (unsigned j = 0; j < n; j++)
				c[i * n + j] += aik * b[k * n + j];
		}
	double trace = 0;
	for (unsigned i = 0; i < n; i++)
		trace += c[i * n + i] * (double)(i + 1);
	free(a);
	free(b);
	free(c);
	return trace;
}

int main(int argc, char **argv)
{
	unsigned scale = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
	if (scale == 0)
		scale = 1;
	printf("hash   %016llx\n", (unsigned long long)hash_loop(20 * scale));
	printf("qsort  %016llx\n", (unsigned long long)sort_test(200000 * scale));
	printf("sieve  %llu\n", (unsigned long long)sieve(2000000 * scale));
	printf("matmul %.6f\n", matmul(120 + 40 * (scale - 1)));
	return 0;
}
