/*
 * slow_clients.c — the request deadline (slow_clients.h).
 *
 * A connection's record lives from libmicrohttpd's "started" notification
 * to its "closed" one, which comes before the socket is closed; the
 * watchdog only touches a socket while holding the lock the "closed"
 * notification takes, so it never shuts a descriptor already reused.
 */
#include "slow_clients.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "config.h"
#include "log.h"

typedef struct watched
{
	MHD_socket	fd;
	/* monotonic seconds; 0: none (a request being answered); set without the lock */
	_Atomic double deadline;
	struct watched *prev,
			   *next;
} watched;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static watched *head;
static pthread_t thread;
static bool running;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
watchdog(void *arg)
{
	(void) arg;
	pthread_mutex_lock(&lock);
	while (running)
	{
		struct timespec until;
		double		now = now_s();
		int			cut = 0;

		for (watched *w = head; w; w = w->next)
		{
			double		d = atomic_load(&w->deadline);

			/* not if a request began meanwhile (it set 0) */
			if (d > 0 && now > d && atomic_compare_exchange_strong(&w->deadline, &d, 0.0))
			{
				shutdown(w->fd, SHUT_RDWR);
				cut++;
			}
		}
		if (cut > 0)
			cs_logf(CS_LOG_INFO, NULL, "cut %d connection(s) that did not send a whole request in %d s",
					cut, config_current()->request_timeout_s);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 250 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000L)
		{
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wake, &lock, &until);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

void
slow_clients_start(void)
{
	running = true;
	if (pthread_create(&thread, NULL, watchdog, NULL) != 0)
		abort();
}

void
slow_clients_stop(void)
{
	pthread_mutex_lock(&lock);
	running = false;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
}

void
slow_clients_notify(void *cls, struct MHD_Connection *c, void **socket_context,
					enum MHD_ConnectionNotificationCode code)
{
	watched    *w;

	(void) cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (ci == NULL || (w = calloc(1, sizeof(*w))) == NULL)
			return;
		w->fd = ci->connect_fd;
		atomic_init(&w->deadline, now_s() + config_current()->request_timeout_s);
		pthread_mutex_lock(&lock);
		w->next = head;
		if (head)
			head->prev = w;
		head = w;
		pthread_mutex_unlock(&lock);
		*socket_context = w;
		return;
	}
	/* closed */
	w = *socket_context;
	if (w == NULL)
		return;
	pthread_mutex_lock(&lock);
	if (w->prev)
		w->prev->next = w->next;
	else
		head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	pthread_mutex_unlock(&lock);
	free(w);
	*socket_context = NULL;
}

static void
set_deadline(struct MHD_Connection *c, bool none)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	watched    *w = ci ? ci->socket_context : NULL;

	/* the record lives until the connection's "closed" notification, after its requests */
	if (w == NULL)
		return;
	atomic_store(&w->deadline, none ? 0.0 : now_s() + config_current()->request_timeout_s);
}

void
slow_clients_request_started(struct MHD_Connection *c)
{
	set_deadline(c, true);
}

void
slow_clients_request_done(struct MHD_Connection *c)
{
	set_deadline(c, false);
}
