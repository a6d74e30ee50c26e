/* Reads every page of a 256 MiB bss: each read maps the one shared zero
 * frame, so the whole array costs no memory (seed 000's "bss reads from
 * one shared zero page"). */
#include <stdio.h>

#define SIZE (256UL << 20)
static char big[SIZE];

int main(void) {
    unsigned long sum = 0;
    for (unsigned long i = 0; i < SIZE; i += 4096)
        sum += ((volatile char *)big)[i];
    printf("sum %lu over %lu pages\n", sum, SIZE / 4096);
    return 0;
}
