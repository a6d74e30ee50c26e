/* The controlling terminal (drivers/tty/tty_jobctrl.c): the first
 * process's session has the console; tcgetpgrp/tcsetpgrp/tcgetsid and
 * their errors; a background group changing the terminal or reading it
 * gets SIGTTOU/SIGTTIN (EIO when it ignores SIGTTIN or is orphaned),
 * writes stop only with TOSTOP; setsid leaves the terminal behind;
 * TIOCNOTTY and TIOCSCTTY; a session leader's exit hangs up its
 * foreground group. cowix's answers are Linux's for a process that leads
 * the session of a pseudo-terminal (qemu-user under a pipe has no
 * controlling terminal to compare with). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (write(1, buf, n) != n)
		_exit(99);
}

static const char *err(int r)
{
	return r < 0 ? strerrorname_np(errno) : "ok";
}

/* Waits for `pid` and says how it stopped or ended. */
static void report(const char *what, pid_t pid)
{
	int st;
	waitpid(pid, &st, WUNTRACED);
	if (WIFSTOPPED(st)) {
		say("%s: stopped by %s\n", what, sigabbrev_np(WSTOPSIG(st)));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	} else if (WIFSIGNALED(st)) {
		say("%s: killed by %s\n", what, sigabbrev_np(WTERMSIG(st)));
	} else {
		say("%s: exit %d\n", what, WEXITSTATUS(st));
	}
}

/* A child in a background group of its own running `body`. */
static pid_t background(void (*body)(int), int tty)
{
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		body(tty);
		_exit(0);
	}
	setpgid(pid, pid);
	return pid;
}

static void set_fg_self(int tty)
{
	int r = tcsetpgrp(tty, getpgrp());
	say("background tcsetpgrp returned %s, foreground now mine %d\n", err(r),
	    tcgetpgrp(tty) == getpgrp());
	/* Give the terminal back to the parent's group. */
	tcsetpgrp(tty, getppid());
}

static void set_fg_ignoring(int tty)
{
	signal(SIGTTOU, SIG_IGN);
	int r = tcsetpgrp(tty, getppid());
	say("background tcsetpgrp ignoring SIGTTOU: %s\n", err(r));
}

static void read_bg(int tty)
{
	(void)tty;
	char c;
	read(0, &c, 1);
	say("background read went on\n");
}

static void read_bg_ignoring(int tty)
{
	(void)tty;
	signal(SIGTTIN, SIG_IGN);
	char c;
	int r = read(0, &c, 1);
	say("background read ignoring SIGTTIN: %s\n", err(r));
}

static void write_bg(int tty)
{
	(void)tty;
	say("background write\n");
}

static int pipefd[2];

static void on_hup(int n)
{
	(void)n;
	if (write(pipefd[1], "H", 1) != 1)
		_exit(98);
	_exit(0);
}

int main(void)
{
	say("tcgetpgrp(0) is my group: %d\n", tcgetpgrp(0) == getpgrp());
	say("tcgetsid(1) is my session: %d\n", tcgetsid(1) == getsid(0));
	char buf[64] = {0};
	snprintf(buf, sizeof buf, "/proc/%d/stat", getpid());
	FILE *f = fopen(buf, "r");
	int ppid, pgrp, sess, tty_nr, tpgid;
	char state;
	if (f && fscanf(f, "%*d %*s %c %d %d %d %d %d", &state, &ppid, &pgrp, &sess, &tty_nr, &tpgid) == 6)
		say("stat: tty_nr %d (pts/0: %d), tpgid is my group: %d\n", tty_nr, tty_nr == (136 << 8),
		    tpgid == getpgrp());
	if (f)
		fclose(f);
	int tty = open("/dev/tty", O_RDWR);
	say("open /dev/tty: %s, isatty %d\n", err(tty), isatty(tty));
	struct termios t;
	say("tcgetattr: %s, ICANON %d\n", err(tcgetattr(tty, &t)), !!(t.c_lflag & ICANON));

	/* Errors of tcsetpgrp. */
	say("tcsetpgrp(-1): %s\n", err(tcsetpgrp(tty, -1)));
	say("tcsetpgrp(no such group): %s\n", err(tcsetpgrp(tty, 99999)));
	pid_t other = fork();
	if (other == 0) {
		setsid();
		pause();
		_exit(0);
	}
	while (getsid(other) != other)
		sched_yield();
	say("tcsetpgrp(group of another session): %s\n", err(tcsetpgrp(tty, other)));
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);

	/* A background group. */
	pid_t c = background(set_fg_self, tty);
	int st;
	waitpid(c, &st, WUNTRACED);
	say("background tcsetpgrp: stopped by %s\n", WIFSTOPPED(st) ? sigabbrev_np(WSTOPSIG(st)) : "-");
	/* Bring it to the foreground and continue it: its call restarts. */
	tcsetpgrp(tty, c);
	kill(c, SIGCONT);
	report("after SIGCONT", c);
	say("foreground is mine again: %d\n", tcgetpgrp(tty) == getpgrp());
	report("ignoring SIGTTOU", background(set_fg_ignoring, tty));
	report("background read", background(read_bg, tty));
	report("ignoring SIGTTIN", background(read_bg_ignoring, tty));
	report("background write without TOSTOP", background(write_bg, tty));
	t.c_lflag |= TOSTOP;
	say("set TOSTOP: %s\n", err(tcsetattr(tty, TCSANOW, &t)));
	report("background write with TOSTOP", background(write_bg, tty));
	t.c_lflag &= ~TOSTOP;
	tcsetattr(tty, TCSANOW, &t);

	/* An orphaned background group: EIO instead of a stop. */
	if (pipe(pipefd) < 0)
		return 1;
	c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) {
			setpgid(0, 0);
			while (getppid() == c)
				sched_yield();
			char ch;
			int r = read(0, &ch, 1);
			char msg[64];
			int n = snprintf(msg, sizeof msg, "orphaned background read: %s\n", err(r));
			if (write(pipefd[1], msg, n) != n)
				_exit(1);
			_exit(0);
		}
		_exit(0);
	}
	waitpid(c, NULL, 0);
	char msg[64] = {0};
	if (read(pipefd[0], msg, sizeof msg - 1) > 0)
		say("%s", msg);

	/* setsid: no controlling terminal in the new session. */
	c = fork();
	if (c == 0) {
		setsid();
		say("after setsid: open /dev/tty %s, tcgetpgrp %s, TIOCSCTTY %s\n",
		    err(open("/dev/tty", O_RDWR)), err(tcgetpgrp(0)), err(ioctl(0, TIOCSCTTY, 0)));
		_exit(0);
	}
	report("setsid child", c);

	/* TIOCNOTTY by the session leader: its foreground group gets SIGHUP
	 * and SIGCONT, the session loses the terminal. */
	signal(SIGHUP, SIG_IGN);
	say("TIOCNOTTY: %s\n", err(ioctl(tty, TIOCNOTTY)));
	say("then: tcgetpgrp %s, open /dev/tty %s\n", err(tcgetpgrp(0)), err(open("/dev/tty", O_RDWR)));
	/* Opening the terminal makes it a terminal-less session leader's
	 * (tty_open_proc_set_tty), unless O_NOCTTY. */
	c = fork();
	if (c == 0) {
		setsid();
		int a = open("/dev/stdin", O_RDONLY | O_NOCTTY);
		int ra = tcgetpgrp(a);
		int b = open("/dev/stdin", O_RDONLY);
		say("open with O_NOCTTY: tcgetpgrp %s; without: foreground is mine %d\n", err(ra),
		    tcgetpgrp(b) == getpgrp());
		_exit(0);
	}
	report("opener", c);
	/* A new session takes it with TIOCSCTTY; its leader's exit hangs up
	 * its foreground group. */
	c = fork();
	if (c == 0) {
		setsid();
		int r = ioctl(0, TIOCSCTTY, 0);
		say("new session TIOCSCTTY: %s, foreground is mine %d\n", err(r), tcgetpgrp(0) == getpgrp());
		int ready[2];
		if (pipe(ready) < 0)
			_exit(1);
		pid_t g = fork();
		if (g == 0) {
			signal(SIGHUP, on_hup);
			if (write(ready[1], "R", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		char ch;
		if (read(ready[0], &ch, 1) != 1)
			_exit(1);
		_exit(0);
	}
	char ch;
	report("session leader", c);
	if (read(pipefd[0], &ch, 1) == 1)
		say("grandchild: %s\n", ch == 'H' ? "SIGHUP at its session leader's exit" : "?");
	return 0;
}
