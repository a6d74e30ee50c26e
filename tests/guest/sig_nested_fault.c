/* A fault inside the SIGSEGV handler (SIGSEGV blocked there) kills the
 * process with SIGSEGV, as Linux's force_sig_fault does. */
#include <signal.h>
#include <stdio.h>

static volatile int *volatile bad = (volatile int *)8;

static void on_segv(int sig) {
    (void)sig;
    printf("in handler\n");
    fflush(stdout);
    *bad = 1;
}

int main(void) {
    signal(SIGSEGV, on_segv);
    bad[-2] = 1;
    printf("not reached\n");
    return 0;
}
