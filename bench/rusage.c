/* rusage.c - runs one command and writes its wall time and peak RSS to a
 * file: the benchmark driver's stopwatch (bench/bench.py).
 *
 *   rusage RESULT_FILE PROGRAM [ARG...]
 *
 * RESULT_FILE gets "SECONDS MAXRSS_KIB EXIT_CODE".  The command inherits
 * stdin, stdout and stderr.  Why not measure from Python: Linux carries a
 * process's RSS high-water mark across exec, so a child forked from the
 * Python driver reports the driver's own RSS (20-30 MB) as its floor; forked
 * from this small program, the floor is about a megabyte.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fputs("usage: rusage RESULT_FILE PROGRAM [ARG...]\n", stderr);
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 2; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) { perror(argv[1]); return 2; }
    fprintf(f, "%.6f %ld %d\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9, ru.ru_maxrss, code);
    return fclose(f) == 0 ? 0 : 2;
}
