/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The import worker: claims queued jobs from the job store and runs them,
   one at a time. Dovecot's master keeps process_min_avail of them running
   (service import-remote-worker); each polls the store every couple of
   seconds. import_remote_workers (default 4) is the number of slots: no
   more jobs than that are live at once in the whole store, however many
   workers (or Dovecot backends sharing a PostgreSQL store) poll it. -t is
   the takeover time (default 120 s): a live job not written for that long
   is claimed by another worker (job-runner.h says what it must exceed).
   Run by hand with -1 it works through the queue once and exits (tests,
   cron).

   import-remote-worker [-c dovecot.conf] [-s <driver:connect>]
                        [-K <key file>] [-t <takeover secs>] [-1] */

#include "lib.h"
#include "ioloop.h"
#include "lib-signals.h"
#include "hostpid.h"
#include "fd-util.h"
#include "restrict-access.h"
#include "safe-memset.h"
#include "str-sanitize.h"
#include "master-service.h"
#include "mail-storage-service.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "import-remote-settings.h"
#include "import-remote-error.h"
#include "secret-box.h"
#include "job-store.h"
#include "job-store-open.h"
#include "job-runner.h"
#include "batch-notify.h"
#include "import-remote-event.h"
#include "notify-deliver.h"

#include <unistd.h>
#include <sys/wait.h>

#define WORKER_SERVICE_NAME "import-remote"
#define WORKER_POLL_MSECS 2000
/* a store that can't be opened (a directory the worker's user can't
   write, a database that is down) is tried again this often, and the
   error logged again every WORKER_STORE_RELOG_COUNT tries: the worker
   stays up, rather than dying and being restarted in a loop */
#define WORKER_STORE_RETRY_MSECS (60 * 1000)
#define WORKER_STORE_RELOG_COUNT 10
/* Dovecot breaks a mailbox index log's lock file (made while the log is
   created or rotated; it holds no pid) once it is this old: a run taken
   over from a worker killed meanwhile waits on it, without a heartbeat
   (Dovecot sleeps), until then */
#define WORKER_DOVECOT_STALE_LOCK_SECS (3 * 60)
/* ... so a takeover time above half of it keeps that run's claim: taken
   over t after the kill, it waits at most 180 - t < t */
#define WORKER_SAFE_TAKEOVER_SECS (WORKER_DOVECOT_STALE_LOCK_SECS / 2)

static struct mail_storage_service_ctx *storage_service;
static struct job_store *store;
static unsigned char key[SECRET_BOX_KEY_LEN];
/* -t: a live job whose worker hasn't written it this long is taken over */
static unsigned int takeover_secs = JOB_RUNNER_DEFAULT_TAKEOVER_SECS;
static char *worker_name;
static struct timeout *to_poll;
static struct timeout *to_store_retry;
static unsigned int store_failures = 0;
/* the global settings: the store, the slots (import_remote_workers: how
   many jobs may be live at once in the whole store), notifications */
static const struct import_remote_config *worker_set;
/* worker_set with -s and -K applied: the store and the key, also for
   the notification deliverer's own connection */
static struct import_remote_config store_set;
static struct event *worker_event;
/* the deliverer process and the pipe that tells it to deliver */
static pid_t notify_pid = 0;
static int notify_fd = -1;
/* SIGTERM or SIGINT: no more jobs are claimed (the one running stops at a
   safe point and goes back to the queue, see job-runner.c). Seen at once,
   also where Dovecot's own (delayed) handler would run only later. */
static volatile sig_atomic_t worker_stopping = 0;

static void worker_sig_stop(const siginfo_t *si ATTR_UNUSED,
			    void *context ATTR_UNUSED)
{
	worker_stopping = 1;
}

static void worker_fail_job_code(struct job *job,
				 enum import_remote_error_code code,
				 const char *why)
{
	const char *error;
	int ret;

	e_error(worker_event, "Job %llu (%s): %s", job->id,
		str_sanitize(job->username, 255), why);
	job->status = JOB_STATUS_FAILED;
	job->finished = ioloop_time;
	job->error_code = import_remote_error_get_info(code)->name;
	job->error_detail = why;
	ret = job_store_update(store, job, &error);
	if (ret < 0)
		e_error(worker_event, "Job %llu: %s", job->id, error);
	else if (ret > 0 && job->batch_id != 0) {
		batch_notify_job_ended(worker_event, store, job->batch_id,
				       worker_set);
	}
}

static void worker_fail_job(struct job *job, const char *why)
{
	worker_fail_job_code(job, IMPORT_REMOTE_ERROR_DEST_ERROR, why);
}

static void worker_run_job(struct job *job)
{
	struct mail_storage_service_input input;
	struct mail_user *user;
	const char *error;
	int ret;

	if (job->lost_claims >= JOB_RUNNER_MAX_LOST_CLAIMS) {
		/* its workers died running it (e.g. a crash the source
		   server triggers): not one more */
		worker_fail_job_code(job, IMPORT_REMOTE_ERROR_WORKER_CRASHED,
			t_strdup_printf("The worker running this job died %u "
					"times in a row before the run ended or "
					"committed any mail (the worker log says "
					"why: Panic, Fatal, a signal)",
					job->lost_claims));
		return;
	}

	i_zero(&input);
	input.service = WORKER_SERVICE_NAME;
	input.username = job->username;
	ret = import_remote_compat_user_lookup(storage_service, &input,
					       &user, &error);
	if (ret <= 0) {
		worker_fail_job(job, ret == 0 ? "No such user" :
				t_strdup_printf("User lookup failed: %s", error));
		return;
	}
	(void)job_runner_run(user, store, job, key, worker_set, takeover_secs);
	import_remote_compat_user_deinit(&user);
}

/* The deliverer: a child process, forked before the worker opens the store
   so that it shares no database connection with it (lib-sql keeps
   connections cached per process; one must never be used on both sides of
   a fork). It delivers whenever the worker pokes it through the pipe, and
   once more when the pipe closes (the worker ended), then exits. */
static void ATTR_NORETURN worker_deliverer_main(int fd)
{
	unsigned char child_key[SECRET_BOX_KEY_LEN];
	struct job_store *child_store = NULL;
	const char *error;
	char buf[64];
	ssize_t ret;
	int status = 0;

	do {
		/* pokes that came meanwhile are all served by one round */
		ret = read(fd, buf, sizeof(buf));
		if (ret < 0 && errno == EINTR)
			continue;
		/* with the key: it authenticates what it delivers */
		if (child_store == NULL &&
		    job_store_open_config(&store_set, NULL, 0, &child_store,
					  child_key, &error) < 0) {
			e_error(worker_event, "Notifications: %s", error);
			_exit(1);
		}
		io_loop_time_refresh();
		if (notify_deliver_due(child_store, worker_name, worker_set,
				       worker_event) < 0)
			status = 1;
	} while (ret > 0);
	_exit(status);
}

static void worker_deliverer_start(void)
{
	int fd[2];

	if (pipe(fd) < 0)
		i_fatal("import-remote: pipe() failed: %m");
	notify_pid = fork();
	if (notify_pid < 0)
		i_fatal("import-remote: fork() failed: %m");
	if (notify_pid == 0) {
		i_close_fd(&fd[1]);
		worker_deliverer_main(fd[0]);
	}
	i_close_fd(&fd[0]);
	notify_fd = fd[1];
	fd_set_nonblock(notify_fd, TRUE);
}

/* Have due notifications delivered in the background: an import never
   waits for a mail server or a webhook. */
static void worker_notify(void)
{
	/* a full pipe means a round is due anyway */
	if (write(notify_fd, "", 1) < 0 && errno != EAGAIN)
		e_error(worker_event, "Poking the deliverer failed: %m");
}

/* -1 ends after the notifications it caused went out (a failed one waits
   for its retry) */
static void worker_notify_drain(void)
{
	int status;

	/* never had a store: nothing to deliver, and its own try would
	   only log the same error again */
	if (store == NULL)
		(void)kill(notify_pid, SIGKILL);
	i_close_fd(&notify_fd);
	if (waitpid(notify_pid, &status, 0) < 0)
		e_error(worker_event, "waitpid() failed: %m");
	notify_pid = 0;
}

/* Run claimable jobs until there are none. Returns how many ran. A
   retry falling due during the pass waits for the next one: a failing
   job is never retried back to back however long the pass. */
static unsigned int worker_run_queue(void)
{
	struct job job;
	const char *error;
	unsigned int count = 0;
	time_t pass_start;
	pool_t pool;
	int ret;

	pool = pool_alloconly_create("import job", 2048);
	io_loop_time_refresh();
	pass_start = ioloop_time;
	for (;;) {
		if (worker_stopping ||
		    master_service_is_killed(master_service)) {
			/* stopping: the rest is for the next worker */
			break;
		}
		io_loop_time_refresh();
		p_clear(pool);
		ret = job_store_claim(store, pool, worker_name, takeover_secs,
				      worker_set->import_remote_workers,
				      pass_start, &job, &error);
		if (ret < 0) {
			e_error(worker_event,
				"Claiming a job failed: %s", error);
			break;
		}
		if (ret == 0)
			break;
		T_BEGIN {
			worker_run_job(&job);
		} T_END;
		worker_notify();
		count++;
	}
	pool_unref(&pool);
	return count;
}

static bool worker_will_drop_root(void)
{
	const char *uid = getenv("RESTRICT_SETUID");

	return uid != NULL && uid[0] != '\0' && strcmp(uid, "0") != 0;
}

static void worker_poll(void *context ATTR_UNUSED)
{
	(void)worker_run_queue();
	worker_notify();
}

static bool worker_store_open(void)
{
	const char *error;

	if (job_store_open_config(&store_set, NULL, 0, &store, key,
				  &error) == 0) {
		if (store_failures > 0)
			e_info(worker_event, "The job store opens now");
		store_failures = 0;
		return TRUE;
	}
	if (store_failures++ % WORKER_STORE_RELOG_COUNT == 0) {
		e_error(worker_event, "%s (tried again every %u s)", error,
			WORKER_STORE_RETRY_MSECS / 1000);
	}
	return FALSE;
}

static void worker_store_retry(void *context ATTR_UNUSED)
{
	if (!worker_store_open())
		return;
	timeout_remove(&to_store_retry);
	to_poll = timeout_add(WORKER_POLL_MSECS, worker_poll, NULL);
}

int main(int argc, char *argv[])
{
	const char *store_uri = NULL, *key_file = NULL;
	const char *error;
	bool once = FALSE;
	int c;

	master_service = master_service_init("import-remote-worker", 0,
					     &argc, &argv, "s:K:t:1");
	while ((c = master_getopt(master_service)) > 0) {
		switch (c) {
		case 's':
			store_uri = optarg;
			break;
		case 'K':
			key_file = optarg;
			break;
		case 't':
			if (str_to_uint(optarg, &takeover_secs) < 0)
				i_fatal("Invalid -t: %s", optarg);
			break;
		case '1':
			once = TRUE;
			break;
		default:
			if (!master_service_parse_option(master_service, c, optarg))
				return FATAL_DEFAULT;
		}
	}

	master_service_init_log(master_service);
	master_service_init_finish(master_service);
	lib_signals_set_handler(SIGTERM, LIBSIG_FLAG_RESTART,
				worker_sig_stop, NULL);
	lib_signals_set_handler(SIGINT, LIBSIG_FLAG_RESTART,
				worker_sig_stop, NULL);
	worker_event = import_remote_event_create(NULL);

	/* reads Dovecot's settings first: standalone, that re-executes this
	   binary through doveconf, so nothing may be claimed before it */
	/* as root (by hand, or service user = root) every user's uid is
	   taken on and left again; as the service's own user (below) only
	   that uid's users can be served, so no temporary drop */
	storage_service = import_remote_compat_storage_service_init(
		MAIL_STORAGE_SERVICE_FLAG_USERDB_LOOKUP |
		MAIL_STORAGE_SERVICE_FLAG_NO_LOG_INIT |
		(worker_will_drop_root() ? 0 :
		 MAIL_STORAGE_SERVICE_FLAG_TEMP_PRIV_DROP));
	if (import_remote_compat_service_config(storage_service,
						WORKER_SERVICE_NAME,
						&worker_set, &error) < 0)
		i_fatal("import-remote: Reading the settings failed: %s", error);
	if (takeover_secs <= WORKER_SAFE_TAKEOVER_SECS) {
		/* safe, but its jobs may be taken over needlessly */
		e_warning(worker_event, "-t %u is not longer than the longest "
			  "wait of an import without a heartbeat (%u s: a lock "
			  "a killed worker left in a mailbox's index holds the "
			  "next run of its job until Dovecot breaks it, %u s "
			  "after it was made): such a job is taken over, its "
			  "worker stops without committing more, and three "
			  "takeovers in a row fail it",
			  takeover_secs, WORKER_SAFE_TAKEOVER_SECS,
			  WORKER_DOVECOT_STALE_LOCK_SECS);
	}
	store_set = *worker_set;
	if (store_uri != NULL)
		store_set.import_remote_store = store_uri;
	if (key_file != NULL)
		store_set.import_remote_key_file = key_file;
	/* under Dovecot's master, become the service's user (its "user"
	   setting: the mail uid in single-uid setups) so that the job store
	   and key are shared with doveadm, which works as the mail user */
	restrict_access_by_env(RESTRICT_ACCESS_FLAG_ALLOW_ROOT, NULL);


	worker_name = i_strdup_printf("%s:%s", my_hostname, my_pid);
	worker_deliverer_start();
	if (once) {
		if (job_store_open_config(&store_set, NULL, 0, &store, key,
					  &error) < 0)
			i_fatal("import-remote: %s", error);
		(void)worker_run_queue();
		worker_notify_drain();
	} else {
		if (worker_store_open()) {
			to_poll = timeout_add(WORKER_POLL_MSECS,
					      worker_poll, NULL);
		} else {
			to_store_retry = timeout_add(WORKER_STORE_RETRY_MSECS,
						     worker_store_retry, NULL);
		}
		master_service_run(master_service, NULL);
		timeout_remove(&to_poll);
		timeout_remove(&to_store_retry);
		worker_notify_drain();
	}

	mail_storage_service_deinit(&storage_service);
	if (store != NULL)
		job_store_close(&store);
	safe_memset(key, 0, sizeof(key));
	i_free(worker_name);
	event_unref(&worker_event);
	import_remote_event_deinit();
	import_remote_config_free(&worker_set);
	master_service_deinit(&master_service);
	return 0;
}
