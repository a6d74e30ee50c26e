/*
 * What every demo guest shares: raw Linux system calls on rv64 (ecall with
 * the number in a7), a few printing helpers, and _start. No libc, so each
 * guest stays a few KiB and a fresh clone runs it without a cross compiler.
 * Every line a guest prints starts with "    | " so that, inside the demo,
 * the guest's own words stand out (indented) from the commentary.
 */
#ifndef COWIX_DEMO_SYS_H
#define COWIX_DEMO_SYS_H

typedef unsigned long size_t;

enum {
	SYS_sigaltstack = 132, SYS_rt_sigaction = 134, SYS_rt_sigprocmask = 135,
	SYS_kill = 129, SYS_write = 64, SYS_exit = 93, SYS_exit_group = 94,
	SYS_getpid = 172, SYS_setrlimit = 164, SYS_munmap = 215,
	SYS_clone = 220, SYS_execve = 221, SYS_mmap = 222, SYS_wait4 = 260,
};
enum { SIGCHLD = 17, SIGSEGV = 11, CLONE_VM = 0x100, CLONE_VFORK = 0x4000 };

static inline long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long a0 __asm__("a0") = a;
	register long a1 __asm__("a1") = b;
	register long a2 __asm__("a2") = c;
	register long a3 __asm__("a3") = d;
	register long a4 __asm__("a4") = e;
	register long a5 __asm__("a5") = f;
	register long a7 __asm__("a7") = nr;
	__asm__ volatile("ecall"
			 : "+r"(a0)
			 : "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a7)
			 : "memory");
	return a0;
}
#define sys3(nr, a, b, c) sys6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)

static inline size_t len(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

#define PREFIX "    | "

static inline void put(const char *s)
{
	sys3(SYS_write, 1, s, len(s));
}

/* Appends decimal v to buf at *at. */
static inline void fmt_dec(char *buf, size_t *at, unsigned long v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[(*at)++] = tmp[--n];
}

static inline void fmt_hex(char *buf, size_t *at, unsigned long v)
{
	int shift = 60;
	buf[(*at)++] = '0';
	buf[(*at)++] = 'x';
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		buf[(*at)++] = "0123456789abcdef"[(v >> shift) & 15];
}

/* Prints "    | <a><number><b>\n" in one write (so lines of two processes never mix). */
static inline void say(const char *a, unsigned long v, int hex, const char *b)
{
	char buf[160];
	size_t at = 0;
	for (const char *p = PREFIX; *p; p++)
		buf[at++] = *p;
	for (const char *p = a; *p && at < 100; p++)
		buf[at++] = *p;
	if (hex)
		fmt_hex(buf, &at, v);
	else
		fmt_dec(buf, &at, v);
	for (const char *p = b; *p && at < 158; p++)
		buf[at++] = *p;
	buf[at++] = '\n';
	sys3(SYS_write, 1, buf, at);
}

static inline void line(const char *s)
{
	char buf[160];
	size_t at = 0;
	for (const char *p = PREFIX; *p; p++)
		buf[at++] = *p;
	for (const char *p = s; *p && at < 158; p++)
		buf[at++] = *p;
	buf[at++] = '\n';
	sys3(SYS_write, 1, buf, at);
}

static inline __attribute__((noreturn)) void exit_group(int code)
{
	for (;;)
		sys3(SYS_exit_group, code, 0, 0);
}

/* fork(2) as glibc does it on rv64: clone(SIGCHLD) with no new stack. */
static inline long fork(void)
{
	return sys6(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
}

/* Waits for one child; returns its wait status. */
static inline int wait_child(long pid)
{
	int status = -1;
	sys6(SYS_wait4, pid, (long)&status, 0, 0, 0, 0);
	return status;
}

/* The guest's entry: cowix_main(sp) with the initial stack pointer
 * (argc, argv[], NULL, envp[], NULL, auxv). */
void cowix_main(long *sp);
__asm__(".globl _start\n"
	"_start:\n"
	"	mv a0, sp\n"
	"	call cowix_main\n");

#endif
