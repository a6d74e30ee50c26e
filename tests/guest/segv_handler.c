/* SIGSEGV handlers: write to a read-only page (SEGV_ACCERR), a NULL
 * dereference (SEGV_MAPERR), both recovered with siglongjmp; then stack
 * overflow caught on an alternate stack. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf env;
static volatile int got_code;
static void *volatile got_addr;
static volatile int on_alt;
static char *alt;

static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    got_code = si->si_code;
    got_addr = si->si_addr;
    char here;
    on_alt = &here >= alt && &here < alt + SIGSTKSZ * 4;
    siglongjmp(env, 1);
}

static volatile int depth;
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse(int n) {
    volatile char buf[1024];
    buf[0] = (char)n;
    depth++;
    return recurse(n + 1) + buf[0];
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(env, 1) == 0) {
        page[8] = 1;
        printf("no fault\n");
    } else {
        printf("write to read-only: code=%d (SEGV_ACCERR=%d) addr_ok=%d\n", got_code, SEGV_ACCERR,
               got_addr == page + 8);
    }
    if (sigsetjmp(env, 1) == 0) {
        *(volatile int *)0 = 1;
        printf("no fault\n");
    } else {
        printf("NULL: code=%d (SEGV_MAPERR=%d) addr=%p\n", got_code, SEGV_MAPERR, got_addr);
    }
    /* The handler survives repeated faults (the mask is restored by siglongjmp). */
    if (sigsetjmp(env, 1) == 0) {
        page[0] = 1;
    } else {
        printf("again: code=%d\n", got_code);
    }

    alt = malloc(SIGSTKSZ * 4);
    stack_t ss = {.ss_sp = alt, .ss_size = SIGSTKSZ * 4, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) perror("sigaltstack");
    stack_t small = {.ss_sp = alt, .ss_size = 1024, .ss_flags = 0};
    printf("small altstack: %d\n", sigaltstack(&small, NULL));
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    if (sigsetjmp(env, 1) == 0) {
        recurse(0);
    } else {
        printf("stack overflow caught: code=%d on_alt=%d deep=%d\n", got_code, on_alt, depth > 1000);
    }
    return 0;
}
