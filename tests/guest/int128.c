/*
 * 128-bit integer arithmetic at -O2 (mulhu/mulh/divu chains, libgcc's
 * __udivti3 and __divti3), 64-bit multiply-high and division edge cases,
 * bit manipulation through compiler builtins.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

/* Values the compiler cannot see through, so the arithmetic runs at run time. */
static uint64_t vu(uint64_t x)
{
	volatile uint64_t v = x;
	return v;
}

static int64_t vs(int64_t x)
{
	volatile int64_t v = x;
	return v;
}

static void print_u128(const char *label, u128 v)
{
	printf("%s %016llx%016llx\n", label, (unsigned long long)(v >> 64), (unsigned long long)v);
}

int main(void)
{
	u128 a = ((u128)vu(0xfedcba9876543210ull) << 64) | vu(0x0123456789abcdefull);
	u128 b = vu(0x1000000000000001ull);
	print_u128("a*b", a * b);
	print_u128("a/b", a / b);
	print_u128("a%b", a % b);
	print_u128("a>>77", a >> 77);
	i128 s = -(i128)a;
	print_u128("-a/7", (u128)(s / 7));
	print_u128("-a%7", (u128)(s % 7));

	/* Factorial 30 overflows 64 bits but fits 128. */
	u128 f = 1;
	for (unsigned i = 1; i <= 30; i++)
		f *= vu(i);
	print_u128("30!", f);

	/* Multiply-high through 128-bit products. */
	uint64_t x = vu(0xdeadbeefcafebabeull), y = vu(0x0123456789abcdefull);
	printf("mulhu %016llx\n", (unsigned long long)(((u128)x * y) >> 64));
	printf("mulh  %016llx\n", (unsigned long long)(uint64_t)(((i128)(int64_t)x * (int64_t)y) >> 64));

	/* Division edge cases the M extension defines without trapping. */
	/* Division by zero and overflow: RISC-V defines the results (no trap);
	 * inline asm so the C compiler's undefined behaviour does not interfere. */
	int64_t q, r;
	uint64_t uq, ur;
	__asm__ volatile("div %0, %1, %2" : "=r"(q) : "r"(vs(7)), "r"(vs(0)));
	__asm__ volatile("rem %0, %1, %2" : "=r"(r) : "r"(vs(7)), "r"(vs(0)));
	__asm__ volatile("divu %0, %1, %2" : "=r"(uq) : "r"(vu(7)), "r"(vu(0)));
	__asm__ volatile("remu %0, %1, %2" : "=r"(ur) : "r"(vu(7)), "r"(vu(0)));
	printf("7/0 %lld 7%%0 %lld 7u/0 %llu 7u%%0 %llu\n", (long long)q, (long long)r, (unsigned long long)uq,
	       (unsigned long long)ur);
	__asm__ volatile("div %0, %1, %2" : "=r"(q) : "r"(vs(LLONG_MIN)), "r"(vs(-1)));
	__asm__ volatile("rem %0, %1, %2" : "=r"(r) : "r"(vs(LLONG_MIN)), "r"(vs(-1)));
	printf("min/-1 %lld min%%-1 %lld\n", (long long)q, (long long)r);

	printf("clz %d ctz %d popcount %d parity %d bswap %016llx\n", __builtin_clzll(vu(0x00f0000000000000ull)),
	       __builtin_ctzll(vu(0x100000ull)), __builtin_popcountll(vu(0xf0f0f0f0f0f0f0f0ull)),
	       __builtin_parityll(vu(7)), (unsigned long long)__builtin_bswap64(vu(0x0102030405060708ull)));
	return 0;
}
