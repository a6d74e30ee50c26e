/*
 * Seed 000's "on demand linking": lazy binding through the PLT, seen from
 * inside a dynamically linked program (built with -z lazy).
 *
 * The program finds its own .got.plt slots for getppid and getpgrp by
 * walking its dynamic section (DT_JMPREL's R_RISCV_JUMP_SLOT relocations,
 * named through DT_SYMTAB/DT_STRTAB) and says where each slot points:
 *   plt   into the program's own text: the PLT header, which calls ld.so's
 *         _dl_runtime_resolve (unbound);
 *   libc  at the function in libc.so.6 (bound);
 * before the first call, after it, and across fork (the child's binding
 * writes its own copy of the GOT page; the parent's slot stays unbound).
 * With LD_BIND_NOW=1 every slot is bound before main.
 *
 * It also prints /proc/self/smaps for the VMA holding the slots ("smaps"
 * lines) and the slots' addresses ("addr" lines), which differ between
 * kernels and are left out when comparing with qemu-riscv64.
 *
 * On riscv64 ld.so writes the .got.plt before main whatever the binding
 * mode: elf_machine_runtime_setup() (glibc sysdeps/riscv/dl-machine.h)
 * stores _dl_runtime_resolve and the link map in its first two words and,
 * in a PIE, elf_machine_lazy_rel() adds the load bias to every slot. So
 * the GOT page is already a private anonymous copy at main, on Linux as in
 * cowix; the write that made it one is ld.so's, not the first call's.
 *
 * A static build has no dynamic section: it says so and exits 0.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * One page of data that is read, never written, placed after the GOT (on
 * riscv the .got.plt slots open the .got section, and .sdata follows it)
 * so that the GOT page holds no bss: the kernel zeroes the bss tail of the
 * last file page at exec (fs/binfmt_elf.c: padzero()), which would make
 * that page anonymous before ld.so runs. main makes it read-only, which
 * splits the VMA so that smaps describes the GOT page alone.
 */
__attribute__((section(".sdata.lazy_plt_filler"), aligned(4096)))
volatile char filler[4096] = { 1 };

struct range {
	uintptr_t start, end;
};

struct object {
	uintptr_t bias;
	const ElfW(Dyn) *dynamic;
	struct range text; /* the executable PT_LOAD */
};

static struct object exe, libc, ldso;

static void note_object(struct object *o, const struct dl_phdr_info *info)
{
	o->bias = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_DYNAMIC)
			o->dynamic = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			o->text.start = info->dlpi_addr + ph->p_vaddr;
			o->text.end = o->text.start + ph->p_memsz;
		}
	}
}

/* The main program comes first; the libraries are named by their paths. */
static int each_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	int *n = data;
	if ((*n)++ == 0)
		note_object(&exe, info);
	else if (strstr(info->dlpi_name, "libc.so.6"))
		note_object(&libc, info);
	else if (strstr(info->dlpi_name, "ld-linux"))
		note_object(&ldso, info);
	return 0;
}

static int in(struct range r, uintptr_t a)
{
	return a >= r.start && a < r.end;
}

/* The run-time address of a DT_ tag's d_ptr: riscv's dynamic section is
 * read-only to ld.so (sysdeps/riscv/dl-relocate-ld.h), so it holds
 * link-time addresses and the load bias is added here. */
static uintptr_t dyn_ptr(ElfW(Sxword) tag)
{
	for (const ElfW(Dyn) *d = exe.dynamic; d->d_tag != DT_NULL; d++)
		if (d->d_tag == tag)
			return exe.bias + d->d_un.d_ptr;
	return 0;
}

static uintptr_t dyn_val(ElfW(Sxword) tag)
{
	for (const ElfW(Dyn) *d = exe.dynamic; d->d_tag != DT_NULL; d++)
		if (d->d_tag == tag)
			return d->d_un.d_val;
	return 0;
}

/* The .got.plt slot of the PLT entry calling `name`, or NULL. */
static uintptr_t *plt_slot(const char *name)
{
	const ElfW(Rela) *rel = (const ElfW(Rela) *)dyn_ptr(DT_JMPREL);
	size_t n = dyn_val(DT_PLTRELSZ) / sizeof *rel;
	const ElfW(Sym) *sym = (const ElfW(Sym) *)dyn_ptr(DT_SYMTAB);
	const char *str = (const char *)dyn_ptr(DT_STRTAB);
	for (size_t i = 0; rel && i < n; i++) {
		if (ELF64_R_TYPE(rel[i].r_info) != R_RISCV_JUMP_SLOT)
			continue;
		if (strcmp(str + sym[ELF64_R_SYM(rel[i].r_info)].st_name, name) == 0)
			return (uintptr_t *)(exe.bias + rel[i].r_offset);
	}
	return NULL;
}

/* Where a slot's value points (see the comment at the top). */
static const char *target(uintptr_t v, uintptr_t fn)
{
	if (in(exe.text, v))
		return "plt";
	if (v == fn && in(libc.text, v))
		return "libc";
	if (in(ldso.text, v))
		return "ld.so";
	return "elsewhere";
}

/* One line of smaps for the VMA holding `addr`: its size and what backs
 * its pages (kB). */
static void smaps(const char *when, uintptr_t addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int found = 0;
	unsigned long rss = 0, anon = 0, pclean = 0, pdirty = 0, sclean = 0, sdirty = 0;
	unsigned long pages = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long s, e, kb;
		char name[32];
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') > strchr(line, '-')) {
			if (found)
				break;
			found = addr >= s && addr < e;
			pages = (e - s) / 4096;
			continue;
		}
		if (!found || sscanf(line, "%31[A-Za-z_]: %lu kB", name, &kb) != 2)
			continue;
		if (!strcmp(name, "Rss"))
			rss = kb;
		else if (!strcmp(name, "Anonymous"))
			anon = kb;
		else if (!strcmp(name, "Private_Clean"))
			pclean = kb;
		else if (!strcmp(name, "Private_Dirty"))
			pdirty = kb;
		else if (!strcmp(name, "Shared_Clean"))
			sclean = kb;
		else if (!strcmp(name, "Shared_Dirty"))
			sdirty = kb;
	}
	if (f)
		fclose(f);
	printf("smaps %s: pages=%lu Rss=%lu Shared_Clean=%lu Shared_Dirty=%lu Private_Clean=%lu Private_Dirty=%lu Anonymous=%lu\n",
	       when, pages, rss, sclean, sdirty, pclean, pdirty, anon);
}

int main(void)
{
	int n = 0;
	dl_iterate_phdr(each_object, &n);
	if (!exe.dynamic) {
		printf("static: no dynamic section, no PLT\n");
		return 0;
	}
	uintptr_t *ppid = plt_slot("getppid"), *pgrp = plt_slot("getpgrp");
	uintptr_t *gotplt = (uintptr_t *)dyn_ptr(DT_PLTGOT);
	if (!ppid || !pgrp || !gotplt) {
		printf("no PLT slot for getppid or getpgrp\n");
		return 1;
	}
	/* The functions' addresses (through the GOT's R_RISCV_64 entries,
	 * bound before main, not the PLT). */
	uintptr_t f_ppid = (uintptr_t)&getppid, f_pgrp = (uintptr_t)&getpgrp;
	/* Read the slots before anything of this program's writes them. */
	uintptr_t ppid_at_main = *ppid, pgrp_at_main = *pgrp;
	/* Split the GOT page's VMA after it (same file, other protection). */
	if (((uintptr_t)ppid >> 12) + 1 != (uintptr_t)filler >> 12 ||
	    mprotect((void *)filler, sizeof filler, PROT_READ) != 0) {
		printf("the filler page does not follow the GOT page\n");
		return 1;
	}
	printf("addr gotplt %#lx getppid slot %#lx getpgrp slot %#lx page %#lx\n",
	       (unsigned long)gotplt, (unsigned long)ppid, (unsigned long)pgrp,
	       (unsigned long)ppid & ~4095UL);
	printf("same GOT page: %d\n", ((uintptr_t)ppid >> 12) == ((uintptr_t)gotplt >> 12));
	printf("got[0] (the resolver): %s\n", target(gotplt[0], 0));
	printf("getppid slot at main: %s\n", target(ppid_at_main, f_ppid));
	printf("getpgrp slot at main: %s\n", target(pgrp_at_main, f_pgrp));
	smaps("at main", (uintptr_t)ppid);
	printf("filler read: %d\n", filler[0]);
	smaps("data page read, never written", (uintptr_t)filler);
	fflush(stdout);

	pid_t child = fork();
	if (child == 0) {
		pid_t g = getpgrp();
		printf("child: getpgrp slot after its call: %s (result ok %d)\n",
		       target(*pgrp, f_pgrp), g > 0);
		fflush(stdout);
		_exit(0);
	}
	int status;
	waitpid(child, &status, 0);
	printf("parent: getpgrp slot after the child's call: %s\n", target(*pgrp, f_pgrp));

	pid_t p = getppid();
	printf("getppid slot after the first call: %s (result ok %d)\n", target(*ppid, f_ppid), p >= 0);
	p = getppid();
	printf("getppid slot after the second call: %s\n", target(*ppid, f_ppid));
	smaps("at exit", (uintptr_t)ppid);
	return 0;
}
