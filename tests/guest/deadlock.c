/* Parent and child each read a pipe only the other could write: nobody
 * can ever progress. cowix reports the deadlock and kills both. */
#include <unistd.h>

int main(void)
{
	int a[2], b[2];
	char c;
	pipe(a);
	pipe(b);
	if (fork() == 0)
		read(a[0], &c, 1);
	else
		read(b[0], &c, 1);
	return 0;
}
