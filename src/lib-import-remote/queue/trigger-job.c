/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "mail-user.h"
#include "import-remote-config.h"
#include "import-remote-error.h"
#include "job-store.h"
#include "trigger-state.h"
#include "trigger-store.h"
#include "import-notice.h"
#include "import-remote-event.h"
#include "trigger-job.h"

struct trigger_job {
	pool_t pool;
	struct mail_user *user;
	struct event *event;
	const char *source_key;
	/* NULL: the user has no home for it */
	const char *state_path;
	/* a job of this trigger completed before (a sync's earlier run) */
	bool completed_before;
	/* the state file said this failure already (an earlier attempt) */
	const char *failed_before;
};

struct trigger_job *trigger_job_begin(struct job_store *store,
				      struct mail_user *user,
				      const struct job *job)
{
	struct trigger_job *tjob;
	struct trigger_state state;
	const char *source_key, *error;
	time_t completed;
	pool_t pool;
	int ret;

	pool = pool_alloconly_create("trigger job", 256);
	ret = trigger_store_find_job(store, pool, job->id, &source_key,
				     &completed, &error);
	if (ret <= 0) {
		if (ret < 0) {
			struct event *event =
				import_remote_event_create(user->event);

			e_error(event, "Job %llu: "
				"looking up its trigger failed: %s",
				job->id, error);
			event_unref(&event);
		}
		pool_unref(&pool);
		return NULL;
	}
	tjob = p_new(pool, struct trigger_job, 1);
	tjob->pool = pool;
	tjob->user = user;
	tjob->event = import_remote_event_create(user->event);
	tjob->source_key = source_key;
	tjob->state_path = p_strdup(pool, trigger_state_path(user));
	tjob->completed_before = completed != 0;
	if (tjob->state_path != NULL &&
	    trigger_state_read(tjob->state_path, pool, &state, &error) > 0 &&
	    state.state == TRIGGER_STATE_FAILED &&
	    strcmp(state.source_key, source_key) == 0)
		tjob->failed_before = state.error_code;
	return tjob;
}

static void
trigger_job_write_state(struct trigger_job *tjob, const struct job *job,
			enum trigger_state_kind kind, time_t next_due)
{
	struct trigger_state state;
	const char *error;

	if (tjob->state_path == NULL)
		return;
	i_zero(&state);
	state.source_key = tjob->source_key;
	state.state = kind;
	state.job_id = job->id;
	state.updated = ioloop_time;
	state.next_due = next_due;
	state.msgs_done = job->msgs_done;
	state.msgs_total = job->msgs_total;
	state.imported = job->imported;
	state.folders = job->folders_total;
	state.error_code = job->error_code;
	state.error_title = "";
	/* the folder being copied, while it runs */
	state.folder = kind == TRIGGER_STATE_RUNNING ? job->folder : NULL;
	if (job->error_code[0] != '\0') {
		enum import_remote_error_code code =
			import_remote_error_from_name(job->error_code);
		if (code != IMPORT_REMOTE_ERROR_COUNT)
			state.error_title =
				import_remote_error_get_info(code)->title;
	}
	if (trigger_state_write_user(tjob->user, tjob->state_path, &state,
				     &error) < 0) {
		e_error(tjob->event, "Job %llu: %s",
			job->id, error);
	}
}

void trigger_job_progress(struct trigger_job *tjob, const struct job *job)
{
	if (tjob != NULL)
		trigger_job_write_state(tjob, job, TRIGGER_STATE_RUNNING, 0);
}

void trigger_job_end(struct trigger_job **_tjob, struct job_store *store,
		     const struct import_remote_config *set,
		     const struct job *job, bool retry)
{
	struct trigger_job *tjob = *_tjob;
	const char *error;
	time_t next_due = 0;

	if (tjob == NULL)
		return;
	*_tjob = NULL;
	if (retry) {
		trigger_job_write_state(tjob, job, TRIGGER_STATE_QUEUED, 0);
		pool_unref(&tjob->pool);
		return;
	}
	if (job->status == JOB_STATUS_COMPLETED) {
		if (trigger_store_completed(store, job->username,
					    tjob->source_key, job->id,
					    &error) < 0) {
			e_error(tjob->event, "Job %llu: "
				"recording its completion failed: %s",
				job->id, error);
		}
		if (strcmp(set->import_remote_source_mode, "sync") == 0 &&
		    ioloop_time < set->parsed_sync_until)
			next_due = ioloop_time + set->import_remote_sync_interval;
	}
	trigger_job_write_state(tjob, job, job->status == JOB_STATUS_COMPLETED ?
				TRIGGER_STATE_COMPLETED : TRIGGER_STATE_FAILED,
				next_due);
	/* told once: the first completion (not a sync's later runs), a
	   failure (not the same one again at the next attempt), not an
	   admin's cancel */
	if (set->import_remote_notice &&
	    (job->status == JOB_STATUS_COMPLETED ? !tjob->completed_before :
	     job->status == JOB_STATUS_FAILED &&
	     (tjob->failed_before == NULL ||
	      strcmp(tjob->failed_before, job->error_code) != 0)) &&
	    import_notice_deliver(tjob->user, set, job, &error) < 0) {
		e_error(tjob->event, "Job %llu: %s",
			job->id, error);
	}
	pool_unref(&tjob->pool);
}

void trigger_job_free(struct trigger_job **_tjob)
{
	struct trigger_job *tjob = *_tjob;

	if (tjob == NULL)
		return;
	*_tjob = NULL;
	event_unref(&tjob->event);
	pool_unref(&tjob->pool);
}
