#define _GNU_SOURCE
/* execve's failures leave the caller intact with Linux's errno; #! scripts
 * run their interpreter with binfmt_script's argv.
 * Usage: exec_errors DIR ECHO_ARGS_PATH (DIR: a writable scratch directory). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[512];

static void make(const char *name, const char *text, int mode)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(2);
	close(fd);
}

static void try_exec(const char *name, char **argv)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	char *env[] = {NULL};
	execve(p, argv, env);
	printf("%s: %s\n", name, strerrorname_np(errno));
}

static void run(const char *name, char *arg)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = {"ignored-argv0", arg, NULL};
		char *env[] = {NULL};
		execve(p, argv, env);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("%s: status %d\n", name, WEXITSTATUS(status));
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	snprintf(dir, sizeof dir, "%s", argv[1]);
	char *noargs[] = {"x", NULL};
	try_exec("missing", noargs);
	make("plain.txt", "not a program\n", 0644);
	try_exec("plain.txt", noargs);
	make("garbage", "hello, I am no ELF\n", 0755);
	try_exec("garbage", noargs);
	make("badinterp", "#!/no/such/interpreter\n", 0755);
	try_exec("badinterp", noargs);
	make("empty_shebang", "#!  \n", 0755);
	try_exec("empty_shebang", noargs);
	char *big = malloc(200000);
	memset(big, 'a', 199999);
	big[199999] = 0;
	char *bigargs[] = {"x", big, NULL};
	try_exec("garbage", bigargs);
	printf("still here\n");

	char line[700];
	snprintf(line, sizeof line, "#! %s  -opt  with space \nignored\n", argv[2]);
	make("script", line, 0755);
	run("script", "arg1");
	snprintf(line, sizeof line, "#!%s/script\n", dir);
	make("nested", line, 0755);
	run("nested", "arg2");
	return 0;
}
