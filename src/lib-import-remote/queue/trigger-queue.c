/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "safe-memset.h"
#include "istream.h"
#include "str-sanitize.h"
#include "mail-user.h"
#include "import-remote-config.h"
#include "import-remote-settings.h"
#include "job-store-private.h"
#include "job-store-open.h"
#include "job-secret.h"
#include "oauth2-token.h"
#include "oauth2-jwt.h"
#include "trigger-state.h"
#include "trigger-store.h"
#include "import-remote-event.h"
#include "trigger-due.h"
#include "trigger-queue.h"

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

/* A service account key file: all of it (JSON), at most 16 kB */
#define TRIGGER_QUEUE_KEY_FILE_MAX (16*1024)

/* The whole of a secret file (a service account's key), or its first line
   (a client secret). Errors name the setting, never the content. */
static int
trigger_queue_read_secret(const char *setting, const char *path,
			  bool whole, pool_t pool, const char **secret_r,
			  const char **error_r)
{
	struct istream *input;
	const unsigned char *data;
	size_t size;
	ssize_t ret;
	int result = 0;

	input = i_stream_create_file(path, TRIGGER_QUEUE_KEY_FILE_MAX + 1);
	if (!whole) {
		if (import_remote_password_read_stream(input, pool, secret_r,
						       error_r) < 0) {
			*error_r = t_strdup_printf("%s: %s", setting,
						   *error_r);
			result = -1;
		}
		i_stream_unref(&input);
		return result;
	}
	while ((ret = i_stream_read(input)) > 0) {
		(void)i_stream_get_data(input, &size);
		if (size > TRIGGER_QUEUE_KEY_FILE_MAX)
			break;
	}
	data = i_stream_get_data(input, &size);
	if (input->stream_errno != 0) {
		*error_r = t_strdup_printf("%s: %s", setting,
					   i_stream_get_error(input));
		result = -1;
	} else if (size > TRIGGER_QUEUE_KEY_FILE_MAX || size == 0 ||
		   memchr(data, '\0', size) != NULL) {
		*error_r = t_strdup_printf("%s: not a %s file (empty, "
			"binary or over 16 kB)", setting,
			strstr(setting, "service_account") != NULL ?
			"service account key" : "PEM");
		result = -1;
	} else {
		*secret_r = p_strndup(pool, data, size);
	}
	if (size > 0)
		safe_memset((void *)data, 0, size);
	i_stream_unref(&input);
	return result;
}

static void trigger_queue_wipe(const char *secret)
{
	if (secret != NULL)
		safe_memset((char *)secret, 0, strlen(secret));
}

void trigger_queue_wipe_secrets(struct import_remote_settings *import_set)
{
	trigger_queue_wipe(import_set->password);
	trigger_queue_wipe(import_set->oauth2_refresh_token);
	trigger_queue_wipe(import_set->oauth2_client_secret);
	trigger_queue_wipe(import_set->oauth2_service_account);
	trigger_queue_wipe(import_set->oauth2_client_key);
}

int trigger_queue_read_grant(const struct import_remote_config *set,
			 pool_t pool, struct import_remote_settings *import_set,
			 const char **error_r)
{
	struct oauth2_service_account account;
	const char *path;

	if (import_set->oauth2_token_url != NULL &&
	    oauth2_token_url_check(import_set->oauth2_token_url,
				   error_r) < 0) {
		*error_r = t_strdup_printf(
			"import_remote_source_oauth2_token_url: %s", *error_r);
		return -1;
	}
	path = import_remote_config_str(
		set->import_remote_source_oauth2_client_secret_file);
	/* a certificate credential is used instead (trigger-due.c) */
	if (set->import_remote_source_oauth2_client_certificate_file[0] != '\0')
		path = NULL;
	if (path != NULL &&
	    trigger_queue_read_secret(
		"import_remote_source_oauth2_client_secret_file", path, FALSE,
		pool, &import_set->oauth2_client_secret, error_r) < 0)
		return -1;
	path = import_remote_config_str(
		set->import_remote_source_oauth2_client_certificate_file);
	if (path != NULL &&
	    trigger_queue_read_secret(
		"import_remote_source_oauth2_client_certificate_file", path,
		TRUE, pool, &import_set->oauth2_client_certificate,
		error_r) < 0)
		return -1;
	path = import_remote_config_str(
		set->import_remote_source_oauth2_client_key_file);
	if (path != NULL &&
	    trigger_queue_read_secret(
		"import_remote_source_oauth2_client_key_file", path, TRUE,
		pool, &import_set->oauth2_client_key, error_r) < 0)
		return -1;
	if (import_set->oauth2_client_certificate != NULL &&
	    import_set->oauth2_client_key != NULL &&
	    oauth2_jwt_cert_check(import_set->oauth2_client_certificate,
				  import_set->oauth2_client_key,
				  error_r) < 0) {
		*error_r = t_strdup_printf(
			"import_remote_source_oauth2_client_certificate_file, "
			"import_remote_source_oauth2_client_key_file: %s",
			*error_r);
		return -1;
	}
	path = import_remote_config_str(
		set->import_remote_source_oauth2_service_account_file);
	if (path != NULL) {
		if (trigger_queue_read_secret(
			"import_remote_source_oauth2_service_account_file",
			path, TRUE, pool, &import_set->oauth2_service_account,
			error_r) < 0)
			return -1;
		if (oauth2_service_account_parse(
			import_set->oauth2_service_account, pool, &account,
			error_r) < 0) {
			*error_r = t_strdup_printf(
				"import_remote_source_oauth2_service_account_file: %s",
				*error_r);
			return -1;
		}
		/* (only its address is wanted here: the worker signs) */
		trigger_queue_wipe(account.private_key);
		if (import_set->oauth2_token_url == NULL &&
		    account.token_uri != NULL &&
		    oauth2_token_url_check(account.token_uri, error_r) == 0)
			import_set->oauth2_token_url = account.token_uri;
	}
	return import_remote_settings_check(import_set, error_r);
}

static int
trigger_queue_job(struct job_store *store, struct mail_user *user,
		  const unsigned char key[SECRET_BOX_KEY_LEN],
		  const struct import_remote_settings *import_set,
		  const char *source_key, const struct trigger_row *row,
		  unsigned long long *job_id_r, const char **error_r)
{
	const char *claim = job_store_new_token();
	const char *secret;
	struct event *event;
	struct job job;
	int ret;

	ret = trigger_store_claim(store, user->username, source_key,
				  row->job_id, claim,
				  TRIGGER_DUE_RECHECK_SECS, error_r);
	if (ret <= 0)
		return ret;
	i_zero(&job);
	job.username = user->username;
	job.source_host = import_set->host;
	job.source_port = import_remote_settings_get_port(import_set);
	job.source_ssl = import_remote_ssl_name(import_set->ssl);
	job.source_user = import_set->username;
	job.options = import_remote_settings_export(import_set);
	/* the password, or an OAuth2 grant's secrets, as start packs
	   them */
	secret = import_remote_settings_export_secret(import_set);
	job.source_password = job_secret_encrypt(key, &job, secret);
	if (secret != NULL && secret != import_set->password)
		trigger_queue_wipe(secret);
	if (job_store_create(store, &job, job_id_r, error_r) < 0 ||
	    trigger_store_set_job(store, user->username, source_key, claim,
				  *job_id_r, error_r) < 0)
		return -1;
	event = import_remote_event_create(user->event);
	e_debug(import_remote_event_job_queued(event, "login", *job_id_r, 0,
			job.username, job.source_host, job.source_port,
			job.source_user)->event(), "Job %llu: queued", *job_id_r);
	e_info(event_create_passthrough(event)->
	       set_name("import_remote_login_queued")->
	       add_int("job_id", *job_id_r)->
	       add_str("user", job.username)->
	       add_str("source_host", job.source_host)->
	       add_str("service", user->service)->event(),
	       "Job %llu: automatic import of "
	       "%s@%s queued", *job_id_r, str_sanitize(job.source_user, 64),
	       str_sanitize(job.source_host, 64));
	event_unref(&event);
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
	ret = trigger_due_import_settings(set, pool, &import_set, error_r);
	if (ret == 0 && trigger_due_has_oauth2(set))
		ret = trigger_queue_read_grant(set, pool, &import_set, error_r);
	if (ret == 0)
		ret = job_store_open_config(set, user->event, 0, &store, key,
					    error_r);
	if (ret < 0) {
		trigger_queue_wipe_secrets(&import_set);
		pool_unref(&pool);
		import_remote_config_free(&set);
		return -1;
	}
	source_key = trigger_due_source_key(&import_set);
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
	trigger_queue_wipe_secrets(&import_set);
	job_store_close(&store);
	if (ret == 0 && state.state != TRIGGER_STATE_NONE &&
	    (path = trigger_state_path(user)) != NULL) {
		if (state.updated == 0)
			state.updated = ioloop_time;
		if (trigger_state_write_user(user, path, &state, error_r) < 0)
			ret = -1;
	}
	pool_unref(&pool);
	import_remote_config_free(&set);
	return ret;
}
