/*
 * lookup_queue.c — the batched lookups (lookup_queue.h).
 *
 * One FIFO under one mutex; a worker takes the oldest job and every queued
 * job with the same statement, role and timeout (up to MAX_BATCH), runs
 * them with pool_exec_batch_as(), stores each result in its job and resumes
 * its connection.  Jobs live in the request (request_lookup_job()), so
 * queueing allocates nothing.
 */
#include "lookup_queue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pool.h"

#define MAX_BATCH 64
#define MAX_PARAMS 4
/* how long a batch waits for a database connection before its requests get 503 */
#define ACQUIRE_TIMEOUT_MS 2000

struct lookup_job
{
	struct lookup_job *next;
	struct MHD_Connection *conn;
	const char *sql;
	const char *role;
	int			timeout_ms;
	int			nparams;
	const char *values[MAX_PARAMS];
	PGresult   *res;
	char		error[256];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;
static lookup_job *head,
		   *tail;
static bool running;
static pthread_t *threads;
static int	nthreads;

static bool
same_batch(const lookup_job *a, const lookup_job *b)
{
	return a->sql == b->sql && a->timeout_ms == b->timeout_ms &&
		strcmp(a->role ? a->role : "", b->role ? b->role : "") == 0;
}

/* under lock: the oldest job and the queued ones it can share a batch with */
static int
take_batch(lookup_job **batch)
{
	lookup_job **link = &head,
			   *prev = NULL;
	int			n = 0;

	while (*link != NULL && n < MAX_BATCH)
	{
		lookup_job *j = *link;

		if (n == 0 || same_batch(batch[0], j))
		{
			batch[n++] = j;
			*link = j->next;
			if (tail == j)
				tail = prev;
		}
		else
		{
			prev = j;
			link = &j->next;
		}
	}
	return n;
}

static void
run_batch(lookup_job **batch, int n)
{
	const char *const *values[MAX_BATCH];
	PGresult   *results[MAX_BATCH];
	PGconn	   *conn = pool_acquire(ACQUIRE_TIMEOUT_MS);

	if (conn == NULL)
	{
		for (int i = 0; i < n; i++)
		{
			batch[i]->res = NULL;
			snprintf(batch[i]->error, sizeof(batch[i]->error), "%s", pool_acquire_error());
		}
		return;
	}
	for (int i = 0; i < n; i++)
		values[i] = batch[i]->values;
	pool_exec_batch_as(conn, batch[0]->role, batch[0]->timeout_ms, batch[0]->sql,
					   batch[0]->nparams, values, n, results);
	pool_release(conn, PQstatus(conn) != CONNECTION_OK);
	for (int i = 0; i < n; i++)
		batch[i]->res = results[i];
}

static void *
worker(void *arg)
{
	lookup_job *batch[MAX_BATCH];

	(void) arg;
	pthread_mutex_lock(&lock);
	for (;;)
	{
		int			n;

		while (head == NULL && running)
			pthread_cond_wait(&queued, &lock);
		if (head == NULL)
			break;
		n = take_batch(batch);
		pthread_mutex_unlock(&lock);
		run_batch(batch, n);
		/* each job is its handler's from its resume on */
		for (int i = 0; i < n; i++)
			MHD_resume_connection(batch[i]->conn);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

void
lookup_queue_start(int workers)
{
	threads = calloc((size_t) workers, sizeof(pthread_t));
	if (threads == NULL)
		abort();
	running = true;
	for (nthreads = 0; nthreads < workers; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, worker, NULL) != 0)
			abort();
}

void
lookup_queue_stop(void)
{
	pthread_mutex_lock(&lock);
	running = false;
	pthread_cond_broadcast(&queued);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	threads = NULL;
	nthreads = 0;
}

bool
lookup_queue_submit(cs_request *r, const char *sql, int nparams, const char *const *values)
{
	lookup_job *j;

	if (nparams > MAX_PARAMS)
		return false;
	pthread_mutex_lock(&lock);
	if (!running)
	{
		pthread_mutex_unlock(&lock);
		return false;
	}
	j = request_lookup_job(r, sizeof(lookup_job));
	j->conn = cs_request_connection(r);
	j->sql = sql;
	j->role = cs_request_role(r);
	j->timeout_ms = config_current()->statement_timeout_ms;
	j->nparams = nparams;
	memcpy(j->values, values, sizeof(values[0]) * (size_t) nparams);
	/* suspended before any worker can resume it */
	MHD_suspend_connection(j->conn);
	if (tail)
		tail->next = j;
	else
		head = j;
	tail = j;
	pthread_cond_signal(&queued);
	pthread_mutex_unlock(&lock);
	return true;
}

bool
lookup_queue_result(cs_request *r, PGresult **res, const char **error)
{
	lookup_job *j = request_lookup_job(r, 0);

	if (j == NULL)
		return false;
	*res = j->res;
	*error = j->error;
	j->res = NULL;				/* the caller's now */
	return true;
}

void
lookup_queue_job_free(lookup_job *job)
{
	if (job == NULL)
		return;
	PQclear(job->res);
	free(job);
}
