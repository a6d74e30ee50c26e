/* Signals between processes and process groups/sessions: kill a busy
 * child, kill(pid, 0) on a zombie and after reaping, setpgid/getpgid,
 * setsid, waitid. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		for (volatile unsigned long i = 0;; i++)
			;
	}
	printf("kill busy child: %d\n", kill(pid, SIGTERM));
	int status;
	waitpid(pid, &status, 0);
	printf("child: signaled=%d sig=%d\n", WIFSIGNALED(status), WTERMSIG(status));
	printf("kill reaped child: %d %s\n", kill(pid, 0), strerror(errno));

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* Own group, then own session. */
		int a = setpgid(0, 0) == 0 && getpgid(0) == getpid();
		int b = setsid() == -1 && errno == EPERM; /* a group leader cannot */
		printf("child own group %d, setsid as leader refused %d\n", a, b);
		fflush(stdout);
		_exit(4);
	}
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int r = waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	printf("waitid nowait: %d code=%d status=%d pid ok %d\n", r, si.si_code, si.si_status, si.si_pid == pid);
	printf("kill zombie: %d\n", kill(pid, 0));
	r = waitid(P_PID, pid, &si, WEXITED);
	printf("waitid: %d code=%d status=%d\n", r, si.si_code, si.si_status);
	printf("waitpid after: %d %s\n", waitpid(pid, &status, WNOHANG), strerror(errno));
	printf("same session as child would be: %d\n", getsid(0) == getsid(getpid()));
	return 0;
}
