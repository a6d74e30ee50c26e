/*
 * The dynamic linker at run time, in a dynamically linked program (built
 * dynamic only: see the Makefile): dlopen maps a library the program does
 * not depend on (libm.so.6), dlsym finds a function in it, dlclose unmaps
 * it again (/proc/self/maps shows both); a missing library is an error
 * from dlerror; dladdr names the library holding printf; pthread_cancel
 * unwinds the cancelled thread through libgcc_s.so.1, which glibc dlopens
 * on first use; and __thread variables are per thread.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static __thread int tls = 5;

/* Whether /proc/self/maps has a mapping of a file named `name`. */
static int mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	while (f && fgets(line, sizeof line, f))
		found |= strstr(line, name) != NULL;
	if (f)
		fclose(f);
	return found;
}

static void *wait_forever(void *arg)
{
	(void)arg;
	for (;;)
		pause(); /* a cancellation point */
	return NULL;
}

static void *bump_tls(void *arg)
{
	(void)arg;
	tls += 10;
	return (void *)(long)tls;
}

int main(void)
{
	printf("libm mapped at start: %d\n", mapped("/libm.so.6"));
	void *h = dlopen("libm.so.6", RTLD_LAZY);
	double (*cosine)(double) = NULL;
	if (h)
		*(void **)&cosine = dlsym(h, "cos");
	printf("dlopen libm: %d, mapped: %d, cos(0) = %g\n", h != NULL, mapped("/libm.so.6"),
	       cosine ? cosine(0.0) : -1.0);
	printf("dlclose: %d, mapped: %d\n", h ? dlclose(h) : -1, mapped("/libm.so.6"));
	void *missing = dlopen("libcowix-missing.so", RTLD_LAZY);
	printf("dlopen missing: %s\n", missing ? "loaded?" : dlerror());
	Dl_info info;
	int found = dladdr((void *)printf, &info);
	printf("dladdr(printf): %d %s\n", found, found ? info.dli_fname : "-");

	pthread_t t;
	void *result;
	pthread_create(&t, NULL, wait_forever, NULL);
	pthread_cancel(t);
	pthread_join(t, &result);
	printf("cancelled: %d, libgcc_s mapped: %d\n", result == PTHREAD_CANCELED,
	       mapped("/libgcc_s.so.1"));
	pthread_create(&t, NULL, bump_tls, NULL);
	pthread_join(t, &result);
	printf("__thread: main %d, thread %ld\n", tls, (long)result);
	return 0;
}
