/*
 * Seed 000's shared libraries, seen in /proc/self/smaps of a dynamically
 * linked program:
 *   - the kernel maps ld.so, ld.so maps libc.so.6, and their code is
 *     loaded on demand: only the pages touched are resident (Rss < Size),
 *     and they are the file's page-cache pages (no Anonymous memory);
 *   - ld.so relocates libc's data (its GOT and relocated pointers): those
 *     file pages were written, so they are anonymous copies now;
 *   - a program exec'd by a child maps the same libc file: the code pages
 *     both touch are one copy in memory (the page cache's), mapped by both
 *     processes (Shared_Clean, Pss < Rss), although nothing was inherited
 *     through fork (exec replaced the child's memory).
 * Values are printed as yes/no facts, which hold on Linux whatever the
 * exact page counts, except "mapped by this process alone", which holds on
 * a machine where no other process maps this libc.so.6 (cowix's, running
 * this program only). A static build has no shared libraries: it says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* smaps totals (kB) over the VMAs of one file with one kind of access. */
struct usage {
	int vmas;
	unsigned long size, rss, pss, shared_clean, private_dirty, anonymous;
};

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && strcmp(s + n - m, tail) == 0;
}

/* Sums smaps over the mappings of the file whose path ends with `file`:
 * executable ones into *text, writable private ones into *data. */
static void usage_of(const char *file, struct usage *text, struct usage *data)
{
	memset(text, 0, sizeof *text);
	memset(data, 0, sizeof *data);
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	struct usage *cur = NULL;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long s, e, kb;
		char perms[8], path[256] = "", name[32];
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &s, &e, perms, path) >= 3 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			line[strcspn(line, "\n")] = 0;
			cur = NULL;
			if (ends_with(path, file))
				cur = perms[2] == 'x' ? text : strcmp(perms, "rw-p") == 0 ? data : NULL;
			if (cur)
				cur->vmas++;
			continue;
		}
		if (!cur || sscanf(line, "%31[A-Za-z_]: %lu kB", name, &kb) != 2)
			continue;
		if (!strcmp(name, "Size"))
			cur->size += kb;
		else if (!strcmp(name, "Rss"))
			cur->rss += kb;
		else if (!strcmp(name, "Pss"))
			cur->pss += kb;
		else if (!strcmp(name, "Shared_Clean"))
			cur->shared_clean += kb;
		else if (!strcmp(name, "Private_Dirty"))
			cur->private_dirty += kb;
		else if (!strcmp(name, "Anonymous"))
			cur->anonymous += kb;
	}
	if (f)
		fclose(f);
}

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

int main(int argc, char **argv)
{
	struct usage text, data, ld_text, ld_data;
	usage_of("/libc.so.6", &text, &data);
	usage_of("/ld-linux-riscv64-lp64d.so.1", &ld_text, &ld_data);
	if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
		printf("exec'd child: libc code shared with its parent: %s, Pss < Rss: %s, anonymous: %lu kB\n",
		       yes(text.shared_clean > 0), yes(text.pss < text.rss), text.anonymous);
		return 0;
	}
	if (text.vmas == 0) {
		printf("static: no shared libraries\n");
		return 0;
	}
	printf("ld.so and libc mapped: %s\n", yes(ld_text.vmas > 0 && text.vmas > 0));
	printf("libc code loaded on demand (Rss < Size): %s, anonymous: %lu kB\n",
	       yes(text.rss > 0 && text.rss < text.size), text.anonymous);
	printf("ld.so code loaded on demand (Rss < Size): %s, anonymous: %lu kB\n",
	       yes(ld_text.rss > 0 && ld_text.rss < ld_text.size), ld_text.anonymous);
	printf("libc data written by ld.so is anonymous: %s (private dirty %s)\n",
	       yes(data.anonymous > 0), yes(data.private_dirty > 0));
	printf("libc code mapped by this process alone: %s\n", yes(text.shared_clean == 0));
	fflush(stdout);

	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
		perror("execl");
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("child: exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
