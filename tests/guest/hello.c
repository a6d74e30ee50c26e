/* The smallest glibc program: printf through stdio's buffered stdout. */
#include <stdio.h>

int main(void)
{
	printf("hello, world\n");
	return 0;
}
