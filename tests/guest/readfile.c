/*
 * Reads the file named by argv[1] three ways (read loop, stdio, pread after
 * lseek) and prints its size, a checksum and its first line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: readfile FILE\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		printf("open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		perror("fstat");
		return 1;
	}
	char buf[1000];
	unsigned long sum = 0, total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sum = sum * 131 + (unsigned char)buf[i];
		total += (unsigned long)n;
	}
	printf("size=%lld read=%lu sum=%lu regular=%d\n", (long long)st.st_size, total, sum,
	       S_ISREG(st.st_mode));
	if (lseek(fd, 0, SEEK_SET) != 0 || pread(fd, buf, 5, 0) < 0)
		perror("lseek/pread");
	close(fd);

	FILE *f = fopen(argv[1], "r");
	char line[256] = "";
	if (!f || !fgets(line, sizeof line, f)) {
		printf("fopen/fgets failed\n");
		return 1;
	}
	fclose(f);
	printf("first line: %s", line);
	if (!strchr(line, '\n'))
		printf("\n");
	return 0;
}
