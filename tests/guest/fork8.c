/* Eight children each write all 256 pages of a 1 MiB buffer the parent
 * wrote before forking: each write is a copy-on-write copy (the parent
 * still holds every page), so at least 8 x 256 cow_copy faults. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 256
static char buf[PAGES * 4096];

int main(void) {
    for (int i = 0; i < PAGES; i++)
        buf[i * 4096] = 1;
    for (int c = 0; c < 8; c++) {
        if (fork() == 0) {
            for (int i = 0; i < PAGES; i++)
                buf[i * 4096] = (char)(c + 2);
            _exit(buf[4096] == c + 2 ? 0 : 1);
        }
    }
    int bad = 0, st;
    while (wait(&st) > 0)
        bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    printf("children ok: %d\n", 8 - bad);
    return bad;
}
