/*
 * The core of cyclictest, under the scheduling policy an ordinary service has (SCHED_OTHER, which
 * cyclictest 2.6 will not keep: it raises itself to SCHED_FIFO): sleep to an absolute time every
 * INTERVAL_US and record how late each wake-up was. Prints one latency in microseconds per line.
 * Built by bench/qm-isolation.ts (gcc -static) and run on the vehicle node's host side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long ns(const struct timespec *t) { return (long long)t->tv_sec * 1000000000LL + t->tv_nsec; }

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: %s LOOPS INTERVAL_US\n", argv[0]);
		return 2;
	}
	long loops = atol(argv[1]);
	long interval = atol(argv[2]) * 1000L;
	long long *late = calloc((size_t)loops, sizeof *late);
	if (late == NULL) return 1;
	struct timespec next, now;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; i < loops; i++) {
		next.tv_nsec += interval;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec += 1;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		late[i] = ns(&now) - ns(&next);
	}
	for (long i = 0; i < loops; i++) printf("%lld\n", late[i] / 1000);
	return 0;
}
