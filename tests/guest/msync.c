/* Shared file mapping write-back: msync makes the data visible to read(2)
 * in another process; a write left unsynced reaches the file when the
 * program exits. mincore sees the mapped page resident.
 *   msync FILE   (FILE is created, 8192 bytes) */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 8192) != 0) {
		perror("open/ftruncate");
		return 2;
	}
	char *m = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	strcpy(m, "synced by msync");
	unsigned char vec[3];
	if (mincore(m, 8192, vec) != 0 || vec[0] != 1) {
		printf("msync: mincore says page 0 is not resident\n");
		return 1;
	}
	if (mincore(m + 1, 10, vec) == 0 || msync(m + 1, 10, MS_SYNC) == 0) {
		printf("msync: unaligned address accepted\n");
		return 1;
	}
	if (msync(m, 8192, MS_SYNC | MS_ASYNC) == 0) {
		printf("msync: MS_SYNC|MS_ASYNC accepted\n");
		return 1;
	}
	if (msync(m, 8192, MS_SYNC) != 0) {
		perror("msync");
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		char buf[32] = {0};
		int rfd = open(argv[1], O_RDONLY);
		if (rfd < 0 || read(rfd, buf, 15) != 15 || strcmp(buf, "synced by msync") != 0) {
			printf("msync: child read '%s'\n", buf);
			_exit(1);
		}
		_exit(0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	strcpy(m + 4096, "written at exit");
	printf("msync: ok\n");
	return 0;
}
