/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "safe-memset.h"
#include "str-sanitize.h"
#include "mail-user.h"
#include "import-remote-config.h"
#include "import-remote-settings.h"
#include "job-store-private.h"
#include "job-store-open.h"
#include "job-secret.h"
#include "trigger-state.h"
#include "trigger-store.h"
#include "trigger-queue.h"

/* The import the user's settings ask for, as "start" would take it */
static int
trigger_import_settings(const struct import_remote_config *set, pool_t pool,
			struct import_remote_settings *import_set_r,
			const char **error_r)
{
	import_remote_settings_init(pool, import_set_r);
	import_set_r->host = p_strdup(pool, set->import_remote_source_host);
	import_set_r->port = set->import_remote_source_port;
	import_set_r->username = p_strdup(pool, set->import_remote_source_user);
	import_set_r->password =
		p_strdup(pool, set->import_remote_source_password);
	if (import_remote_ssl_parse(set->import_remote_source_ssl,
				    &import_set_r->ssl) < 0)
		i_unreached(); /* checked with the settings */
	return import_remote_settings_check(import_set_r, error_r);
}

static const char *
trigger_key(const struct import_remote_settings *import_set)
{
	return trigger_source_key(import_set->host,
		import_remote_settings_get_port(import_set),
		import_remote_ssl_name(import_set->ssl), import_set->username);
}

/* Need the store not be asked: the state file, about this source, says
   the import is done (or under way, recently), or not due yet? */
static bool
trigger_state_is_settled(const struct trigger_state *state, const char *key,
			 const struct import_remote_config *set, time_t now)
{
	bool sync = strcmp(set->import_remote_source_mode, "sync") == 0;

	if (strcmp(state->source_key, key) != 0)
		return FALSE;
	switch (state->state) {
	case TRIGGER_STATE_NONE:
		break;
	case TRIGGER_STATE_QUEUED:
	case TRIGGER_STATE_RUNNING:
		return now < state->updated + TRIGGER_QUEUE_RECHECK_SECS;
	case TRIGGER_STATE_COMPLETED:
		return !sync || now >= set->parsed_sync_until ||
			now < state->next_due;
	case TRIGGER_STATE_FAILED:
		/* tried again after the interval (a fixed password changes
		   nothing the state file knows of) */
		return now < state->updated +
			(time_t)set->import_remote_sync_interval;
	}
	return FALSE;
}

int trigger_queue_needed(struct mail_user *user, const char **error_r)
{
	const struct import_remote_config *set;
	struct import_remote_settings import_set;
	struct trigger_state state;
	const char *path;
	pool_t pool;
	int ret;

	if (import_remote_config_get_user(user, &set, error_r) < 0)
		return -1;
	if (set->import_remote_source_host[0] == '\0') {
		import_remote_config_free(&set);
		return 0;
	}
	pool = pool_alloconly_create("import-remote trigger", 512);
	path = trigger_state_path(user);
	ret = trigger_import_settings(set, pool, &import_set, error_r);
	if (ret == 0 && path != NULL) {
		ret = trigger_state_read(path, pool, &state, error_r);
		if (ret > 0) {
			ret = trigger_state_is_settled(&state,
				trigger_key(&import_set), set, ioloop_time) ?
				0 : 1;
		} else if (ret == 0) {
			ret = 1;
		}
	} else if (ret == 0) {
		/* no home for a state file: the store is asked every time */
		ret = 1;
	}
	if (ret < 0) {
		*error_r = t_strdup_printf("Automatic import: %s", *error_r);
	}
	pool_unref(&pool);
	import_remote_config_free(&set);
	return ret;
}

/* The job a trigger row names, followed to its newest retry. Returns 1,
   0 if there is none, -1. */
static int
trigger_queue_get_job(struct job_store *store, pool_t pool,
		      unsigned long long job_id, struct job *job_r,
		      const char **error_r)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; job_id != 0 && i < 1000; i++) {
		ret = job_store_get(store, pool, job_id, job_r, error_r);
		if (ret <= 0 || job_r->superseded_by == 0)
			return ret;
		job_id = job_r->superseded_by;
	}
	return ret;
}

/* What the store says of the trigger: its state (queued/running/done/
   failed, next due), and whether a job is due. */
static bool
trigger_queue_decide(const struct import_remote_config *set,
		     const struct trigger_row *row, const struct job *job,
		     bool have_job, struct trigger_state *state)
{
	bool sync = strcmp(set->import_remote_source_mode, "sync") == 0;
	time_t now = ioloop_time;

	if (have_job) {
		state->job_id = job->id;
		state->msgs_done = job->msgs_done;
		state->msgs_total = job->msgs_total;
		state->imported = job->imported;
		state->folders = job->folders_total;
	}
	if (have_job && !job_status_is_final(job->status)) {
		state->state = job->status == JOB_STATUS_QUEUED ?
			TRIGGER_STATE_QUEUED : TRIGGER_STATE_RUNNING;
		return FALSE;
	}
	if (row->completed != 0) {
		state->state = TRIGGER_STATE_COMPLETED;
		if (!sync || now >= set->parsed_sync_until)
			return FALSE;
		state->next_due = row->completed +
			set->import_remote_sync_interval;
		return now >= state->next_due;
	}
	if (have_job) {
		/* failed or cancelled: tried again after the interval */
		state->state = TRIGGER_STATE_FAILED;
		state->error_code = job->error_code;
		state->updated = job->finished;
		return now >= job->finished +
			(time_t)set->import_remote_sync_interval;
	}
	return !sync || now < set->parsed_sync_until;
}

static int
trigger_queue_job(struct job_store *store, struct mail_user *user,
		  const unsigned char key[SECRET_BOX_KEY_LEN],
		  const struct import_remote_settings *import_set,
		  const char *source_key, const struct trigger_row *row,
		  unsigned long long *job_id_r, const char **error_r)
{
	const char *claim = job_store_new_token();
	struct job job;
	int ret;

	ret = trigger_store_claim(store, user->username, source_key,
				  row->job_id, claim,
				  TRIGGER_QUEUE_RECHECK_SECS, error_r);
	if (ret <= 0)
		return ret;
	i_zero(&job);
	job.username = user->username;
	job.source_host = import_set->host;
	job.source_port = import_remote_settings_get_port(import_set);
	job.source_ssl = import_remote_ssl_name(import_set->ssl);
	job.source_user = import_set->username;
	job.options = import_remote_settings_export(import_set);
	job.source_password = job_secret_encrypt(key, &job,
						 import_set->password);
	if (job_store_create(store, &job, job_id_r, error_r) < 0 ||
	    trigger_store_set_job(store, user->username, source_key, claim,
				  *job_id_r, error_r) < 0)
		return -1;
	e_info(user->event, "import-remote: Job %llu: automatic import of "
	       "%s@%s queued", *job_id_r, str_sanitize(job.source_user, 64),
	       str_sanitize(job.source_host, 64));
	return 1;
}

int trigger_queue(struct mail_user *user, const char **error_r)
{
	const struct import_remote_config *set;
	struct import_remote_settings import_set;
	unsigned char key[SECRET_BOX_KEY_LEN];
	struct trigger_state state;
	struct trigger_row row;
	struct job_store *store;
	struct job job;
	const char *source_key, *path;
	unsigned long long job_id;
	bool have_job = FALSE;
	pool_t pool;
	int ret;

	if (import_remote_config_get_user(user, &set, error_r) < 0)
		return -1;
	pool = pool_alloconly_create("import-remote trigger", 1024);
	ret = trigger_import_settings(set, pool, &import_set, error_r);
	if (ret == 0)
		ret = job_store_open_config(set, user->event, 0, &store, key,
					    error_r);
	if (ret < 0) {
		pool_unref(&pool);
		import_remote_config_free(&set);
		return -1;
	}
	source_key = trigger_key(&import_set);
	i_zero(&state);
	state.source_key = source_key;
	state.error_code = state.error_title = "";
	ret = trigger_store_get(store, pool, user->username, source_key, &row,
				error_r);
	if (ret == 0 && row.job_id != 0) {
		ret = trigger_queue_get_job(store, pool, row.job_id, &job,
					    error_r);
		have_job = ret > 0;
		ret = ret < 0 ? -1 : 0;
	}
	if (ret == 0 && trigger_queue_decide(set, &row, &job, have_job,
					     &state)) {
		ret = trigger_queue_job(store, user, key, &import_set,
					source_key, &row, &job_id, error_r);
		if (ret > 0) {
			i_zero(&state);
			state.source_key = source_key;
			state.state = TRIGGER_STATE_QUEUED;
			state.job_id = job_id;
		}
		/* 0: another login queued it */
		ret = ret < 0 ? -1 : 0;
	}
	safe_memset(key, 0, sizeof(key));
	job_store_close(&store);
	if (ret == 0 && state.state != TRIGGER_STATE_NONE &&
	    (path = trigger_state_path(user)) != NULL) {
		if (state.updated == 0)
			state.updated = ioloop_time;
		if (trigger_state_write(path, &state, error_r) < 0)
			ret = -1;
	}
	pool_unref(&pool);
	import_remote_config_free(&set);
	return ret;
}
