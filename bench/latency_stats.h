/*
 * latency_stats.h
 *	  What the latency benchmarks (latency.c, wait_latency.c,
 *	  http_stream_load.c, sse_clients.c) share: a wall-clock in
 *	  microseconds, the process's CPU time, and percentiles of sorted
 *	  samples.
 */
#ifndef LATENCY_STATS_H
#define LATENCY_STATS_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* CPU time (user + system) of the whole process, all threads, in seconds */
static inline double
cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* qsort() comparator of int64_t samples */
static inline int
cmp_int64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a,
				y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* The p-th percentile (0..1) of n sorted samples in µs, in ms. */
static inline double
percentile_ms(int64_t *sorted, long n, double p)
{
	long		i = (long) (p * n + 0.999999) - 1;

	if (n == 0)
		return 0;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return sorted[i] / 1000.0;
}

#endif
