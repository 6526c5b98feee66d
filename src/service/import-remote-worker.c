/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The import worker: claims queued jobs from the job store and runs them,
   one at a time. Dovecot's master keeps process_min_avail of them running
   (service import-remote-worker); each polls the store every couple of
   seconds. import_remote_workers (default 4) is the number of slots: no
   more jobs than that are live at once in the whole store, however many
   workers (or Dovecot backends sharing a PostgreSQL store) poll it. Run by
   hand with -1 it works through the queue once and exits (tests, cron).

   import-remote-worker [-c dovecot.conf] [-s <driver:connect>]
                        [-K <key file>] [-t <stale secs>] [-1] */

#include "lib.h"
#include "ioloop.h"
#include "hostpid.h"
#include "restrict-access.h"
#include "safe-memset.h"
#include "settings-parser.h"
#include "master-service.h"
#include "mail-storage-service.h"
#include "mail-user.h"
#include "secret-box.h"
#include "job-store.h"
#include "job-runner.h"
#include "batch-notify.h"
#include "notify-outbox.h"
#include "notify-deliver.h"

#include <unistd.h>
#include <sys/wait.h>

#define WORKER_SERVICE_NAME "import-remote"
#define WORKER_POLL_MSECS 2000
/* a live job whose worker hasn't updated it this long is taken over */
#define WORKER_DEFAULT_STALE_SECS 120
#define WORKER_DEFAULT_SLOTS 4

static struct mail_storage_service_ctx *storage_service;
static struct job_store *store;
static unsigned char key[SECRET_BOX_KEY_LEN];
static unsigned int stale_secs = WORKER_DEFAULT_STALE_SECS;
/* how many jobs may be live at once in the whole store */
static unsigned int slots = WORKER_DEFAULT_SLOTS;
static char *worker_name;
static struct timeout *to_poll;
/* the store again, for the notification deliverer's own connection */
static const char *store_driver, *store_connect;
static struct notify_deliver_settings notify_set;
/* for a batch's events told without a user (its job failed before one) */
static struct batch_notify_settings batch_notify_set;
static struct event *worker_event;
static pid_t notify_pid = 0;
/* what lives as long as the process: settings */
static pool_t worker_pool;

static void worker_fail_job(struct job *job, const char *why)
{
	const char *error;

	i_error("import-remote: Job %llu (%s): %s", job->id, job->username, why);
	job->status = JOB_STATUS_FAILED;
	job->finished = ioloop_time;
	job->error_code = "dest_error";
	job->error_detail = why;
	if (job_store_update(store, job, &error) < 0)
		i_error("import-remote: Job %llu: %s", job->id, error);
	else if (job->batch_id != 0) {
		batch_notify_job_ended(worker_event, store, job->batch_id,
				       &batch_notify_set);
	}
}

static void worker_run_job(struct job *job)
{
	struct mail_storage_service_input input;
	struct mail_storage_service_user *service_user;
	struct mail_user *user;
	const char *error;
	int ret;

	i_zero(&input);
	input.service = WORKER_SERVICE_NAME;
	input.username = job->username;
	ret = mail_storage_service_lookup_next(storage_service, &input,
					       &service_user, &user, &error);
	if (ret <= 0) {
		worker_fail_job(job, ret == 0 ? "No such user" :
				t_strdup_printf("User lookup failed: %s", error));
		return;
	}
	i_info("import-remote: Job %llu: importing %s@%s into %s",
	       job->id, job->source_user, job->source_host, job->username);
	(void)job_runner_run(user, store, job, key);
	mail_user_deinit(&user);
	mail_storage_service_user_unref(&service_user);
}

/* The deliverer: a child process with a store connection of its own (the
   parent's must not be shared across fork), ending without cleaning up
   what it inherited */
static void ATTR_NORETURN worker_notify_child(void)
{
	struct job_store *child_store;
	const char *error;

	if (job_store_open(store_driver, store_connect, NULL, &child_store,
			   &error) < 0) {
		i_error("import-remote: Notifications: %s", error);
		_exit(1);
	}
	_exit(notify_deliver_due(child_store, worker_name, &notify_set,
				 worker_event) < 0 ? 1 : 0);
}

/* Deliver due notifications in the background, one deliverer at a time:
   an import never waits for a mail server or a webhook. Returns TRUE if a
   deliverer was started. */
static bool worker_notify(void)
{
	const char *error;
	int status, ret;
	pid_t pid;

	if (notify_pid != 0) {
		ret = waitpid(notify_pid, &status, WNOHANG);
		if (ret == 0)
			return FALSE;
		notify_pid = 0;
	}
	io_loop_time_refresh();
	ret = notify_outbox_count_due(store, &error);
	if (ret < 0)
		i_error("import-remote: Reading the notifications failed: %s", error);
	if (ret <= 0)
		return FALSE;
	pid = fork();
	if (pid < 0) {
		i_error("import-remote: fork() failed: %m");
		return FALSE;
	}
	if (pid == 0)
		worker_notify_child();
	notify_pid = pid;
	return TRUE;
}

static void worker_notify_wait(void)
{
	int status;

	if (notify_pid != 0 && waitpid(notify_pid, &status, 0) < 0 &&
	    errno != ECHILD)
		i_error("import-remote: waitpid() failed: %m");
	notify_pid = 0;
}

/* -1 ends after the notifications it caused went out, also those that
   came up while a deliverer was busy (a failed one waits for its retry) */
static void worker_notify_drain(void)
{
	do {
		worker_notify_wait();
	} while (worker_notify());
}

/* Run claimable jobs until there are none. Returns how many ran. */
static unsigned int worker_run_queue(void)
{
	struct job job;
	const char *error;
	unsigned int count = 0;
	pool_t pool;
	int ret;

	pool = pool_alloconly_create("import job", 2048);
	for (;;) {
		io_loop_time_refresh();
		p_clear(pool);
		ret = job_store_claim(store, pool, worker_name, stale_secs,
				      slots, &job, &error);
		if (ret < 0) {
			i_error("import-remote: Claiming a job failed: %s", error);
			break;
		}
		if (ret == 0)
			break;
		T_BEGIN {
			worker_run_job(&job);
		} T_END;
		(void)worker_notify();
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

static const char *
worker_plugin_setting(const struct mail_user_settings *user_set,
		      const char *name)
{
	const char *value = mail_user_set_plugin_getenv(user_set, name);

	return value == NULL || value[0] == '\0' ? NULL :
		p_strdup(worker_pool, value);
}

static const char *worker_getenv(const char *name, void *context)
{
	const struct mail_user_settings *user_set = context;

	return mail_user_set_plugin_getenv(user_set, name);
}

/* How batch notifications are made and delivered */
static int worker_notify_settings(const struct mail_user_settings *user_set,
				  const char **error_r)
{
	const char *value, *error;
	unsigned int secs;

	if (batch_notify_settings_read(worker_getenv, (void *)user_set,
				       worker_pool, &batch_notify_set,
				       &error) < 0)
		i_error("import-remote: %s", error);

	notify_set.submission_host = worker_plugin_setting(user_set,
		"import_remote_submission_host");
	notify_set.sendmail_path = worker_plugin_setting(user_set,
		"import_remote_sendmail_path");
	if (notify_set.sendmail_path == NULL)
		notify_set.sendmail_path = NOTIFY_DELIVER_DEFAULT_SENDMAIL;
	notify_set.webhook_secret = worker_plugin_setting(user_set,
		"import_remote_webhook_secret");
	notify_set.timeout_secs = NOTIFY_DELIVER_DEFAULT_TIMEOUT_SECS;
	notify_set.retry_secs = NOTIFY_DELIVER_DEFAULT_RETRY_SECS;
	value = mail_user_set_plugin_getenv(user_set,
					    "import_remote_notify_retry_interval");
	if (value != NULL && value[0] != '\0') {
		if (settings_get_time(value, &secs, &error) < 0 || secs == 0) {
			*error_r = t_strdup_printf("Invalid "
				"import_remote_notify_retry_interval: %s",
				value);
			return -1;
		}
		notify_set.retry_secs = secs;
	}
	return 0;
}

/* The store, the key and the slots: the global plugin { } settings, unless
   -s / -K gave them */
static int worker_plugin_settings(const struct mail_user_settings *user_set,
				  const char **store_uri, const char **key_file,
				  const char **error_r)
{
	const char *value;

	if (*store_uri == NULL) {
		value = mail_user_set_plugin_getenv(user_set,
						    "import_remote_store");
		*store_uri = value == NULL ? JOB_RUNNER_DEFAULT_STORE :
			t_strdup(value);
	}
	if (*key_file == NULL) {
		value = mail_user_set_plugin_getenv(user_set,
						    "import_remote_key_file");
		*key_file = value == NULL ? JOB_RUNNER_DEFAULT_KEY_FILE :
			t_strdup(value);
	}
	value = mail_user_set_plugin_getenv(user_set, "import_remote_workers");
	if (value != NULL && (str_to_uint(value, &slots) < 0 || slots == 0)) {
		*error_r = t_strdup_printf("Invalid import_remote_workers: %s",
					   value);
		return -1;
	}
	return worker_notify_settings(user_set, error_r);
}

/* Read the mail settings as a user lookup will (same service name). Run
   standalone with -c, this is where Dovecot re-executes the binary through
   doveconf; it must happen before any job is claimed. */
static int worker_read_settings(const char **store_uri,
				const char **key_file, const char **error_r)
{
	struct mail_storage_service_input input;
	const struct setting_parser_info *user_info;
	const struct setting_parser_info *const *roots;
	const struct setting_parser_context *parser;
	const struct mail_user_settings *user_set = NULL;
	void **sets;
	unsigned int i;
	pool_t pool;
	int ret;

	i_zero(&input);
	input.service = WORKER_SERVICE_NAME;
	/* the settings may live in the pool: read them before freeing it */
	pool = pool_alloconly_create("worker settings", 1024);
	ret = mail_storage_service_read_settings(storage_service, &input, pool,
						 &user_info, &parser, error_r);
	if (ret == 0) {
		roots = settings_parser_get_roots(parser);
		sets = settings_parser_get_list(parser);
		for (i = 0; roots[i] != NULL; i++) {
			if (roots[i] == user_info)
				user_set = sets[i];
		}
		i_assert(user_set != NULL);
		ret = worker_plugin_settings(user_set, store_uri, key_file,
					     error_r);
	}
	pool_unref(&pool);
	return ret;
}

static void worker_poll(void *context ATTR_UNUSED)
{
	(void)worker_run_queue();
	(void)worker_notify();
}

int main(int argc, char *argv[])
{
	const char *store_uri = NULL, *key_file = NULL, *driver, *connect;
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
			if (str_to_uint(optarg, &stale_secs) < 0)
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
	worker_pool = pool_alloconly_create("import-remote-worker", 1024);
	worker_event = event_create(NULL);

	/* reads Dovecot's settings first: standalone, that re-executes this
	   binary through doveconf, so nothing may be claimed before it */
	/* as root (by hand, or service user = root) every user's uid is
	   taken on and left again; as the service's own user (below) only
	   that uid's users can be served, so no temporary drop */
	storage_service = mail_storage_service_init(master_service, NULL,
		MAIL_STORAGE_SERVICE_FLAG_USERDB_LOOKUP |
		MAIL_STORAGE_SERVICE_FLAG_NO_LOG_INIT |
		(worker_will_drop_root() ? 0 :
		 MAIL_STORAGE_SERVICE_FLAG_TEMP_PRIV_DROP));
	if (worker_read_settings(&store_uri, &key_file, &error) < 0)
		i_fatal("import-remote: Reading the settings failed: %s", error);
	/* under Dovecot's master, become the service's user (its "user"
	   setting: the mail uid in single-uid setups) so that the job store
	   and key are shared with doveadm, which works as the mail user */
	restrict_access_by_env(RESTRICT_ACCESS_FLAG_ALLOW_ROOT, NULL);


	worker_name = i_strdup_printf("%s:%s", my_hostname, my_pid);
	if (job_runner_parse_store(store_uri, &driver, &connect, &error) < 0)
		i_fatal("%s", error);
	store_driver = p_strdup(worker_pool, driver);
	store_connect = p_strdup(worker_pool, connect);
	if (secret_box_key_load(key_file, TRUE, key, &error) < 0)
		i_fatal("import-remote: %s", error);
	if (job_store_open(driver, connect, NULL,
			   &store, &error) < 0)
		i_fatal("import-remote: %s", error);

	if (once) {
		(void)worker_run_queue();
		worker_notify_drain();
	} else {
		to_poll = timeout_add(WORKER_POLL_MSECS, worker_poll, NULL);
		master_service_run(master_service, NULL);
		timeout_remove(&to_poll);
	}

	mail_storage_service_deinit(&storage_service);
	job_store_close(&store);
	safe_memset(key, 0, sizeof(key));
	i_free(worker_name);
	event_unref(&worker_event);
	pool_unref(&worker_pool);
	master_service_deinit(&master_service);
	return 0;
}
