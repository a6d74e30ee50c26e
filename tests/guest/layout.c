/* Prints where the stack, the break, an mmap and the program's code are,
 * for the layout randomization test. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    int local;
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("stack %p brk %p mmap %p code %p\n", (void *)&local, sbrk(0), m, (void *)main);
    return 0;
}
