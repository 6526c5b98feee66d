/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "hostpid.h"
#include "ioloop.h"
#include "guid.h"
#include "ostream.h"
#include "message-date.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "import-remote-error.h"
#include "notify-outbox.h"
#include "batch-notify.h"

static const char *batch_notify_what(const struct batch *batch,
				     enum batch_event event,
				     unsigned int pause_percent)
{
	switch (event) {
	case BATCH_EVENT_COMPLETED:
		return batch_status_title(batch_get_status(batch));
	case BATCH_EVENT_PAUSED_FOR_STORAGE:
		return t_strdup_printf("Paused: storage limit (%u%% reached)",
				       pause_percent);
	case BATCH_EVENT_HALF_FAILED:
		return "More than half of its jobs failed";
	case BATCH_EVENT_COUNT:
		break;
	}
	i_unreached();
}

static void batch_notify_append_next(string_t *str, const struct batch *batch,
				     enum batch_event event,
				     unsigned int pause_percent)
{
	switch (event) {
	case BATCH_EVENT_PAUSED_FOR_STORAGE:
		str_printfa(str, "The storage these users share reached %u%% "
			    "of its limit. Running imports stopped at a safe "
			    "point (what they copied is kept) and queued ones "
			    "wait.\nFree space or raise the limit, then:\n"
			    "  doveadm import-remote batch resume %llu"
			    "%s\n\n", pause_percent, batch->id,
			    batch->storage_limit > 0 ?
			    " [--storage-limit SIZE]" : "");
		break;
	case BATCH_EVENT_HALF_FAILED:
	case BATCH_EVENT_COMPLETED:
		if (batch->job_counts[JOB_STATUS_FAILED] > 0) {
			str_printfa(str, "After fixing the causes below, "
				    "queue the failed imports again (they "
				    "skip what they already copied):\n"
				    "  doveadm import-remote batch "
				    "retry-failed %llu\n\n", batch->id);
		}
		break;
	case BATCH_EVENT_COUNT:
		i_unreached();
	}
}

const char *batch_notify_format(const struct batch *batch,
				const ARRAY_TYPE(job) *jobs,
				enum batch_event event, const char *from,
				unsigned int pause_percent)
{
	string_t *str = t_str_new(1024);
	const char *what = batch_notify_what(batch, event, pause_percent);
	const struct job *job;
	guid_128_t guid;
	unsigned int i;

	guid_128_generate(guid);
	str_printfa(str, "From: %s\nTo: %s\n", from, batch->notify);
	str_printfa(str, "Subject: Import batch %llu: %s\n", batch->id, what);
	str_printfa(str, "Date: %s\n", message_date_create(ioloop_time));
	str_printfa(str, "Message-ID: <import-remote-batch-%llu-%s@%s>\n",
		    batch->id, guid_128_to_string(guid), my_hostname);
	str_append(str, "Auto-Submitted: auto-generated\n"
		   "MIME-Version: 1.0\n"
		   "Content-Type: text/plain; charset=utf-8\n"
		   "Content-Transfer-Encoding: 8bit\n\n");

	str_printfa(str, "Import batch %llu: %s\n\n", batch->id, what);
	str_printfa(str, "Status: %s\n",
		    batch_status_title(batch_get_status(batch)));
	str_printfa(str, "Jobs: %u\n", batch->jobs_total);
	for (i = 0; i < JOB_STATUS_COUNT; i++) {
		if (batch->job_counts[i] > 0) {
			str_printfa(str, "  %s: %u\n", job_status_name(i),
				    batch->job_counts[i]);
		}
	}
	if (batch->storage_limit > 0) {
		str_printfa(str, "Storage: %llu of %llu bytes used\n",
			    batch->quota_used, batch->storage_limit);
	}
	str_append_c(str, '\n');
	batch_notify_append_next(str, batch, event, pause_percent);

	if (batch->job_counts[JOB_STATUS_FAILED] > 0) {
		str_append(str, "Failed:\n");
		array_foreach(jobs, job) {
			enum import_remote_error_code code;
			const char *title;

			if (job->status != JOB_STATUS_FAILED)
				continue;
			code = import_remote_error_from_name(job->error_code);
			title = code < IMPORT_REMOTE_ERROR_COUNT ?
				import_remote_error_get_info(code)->title :
				job->error_code;
			/* the catalogue's title only: a server's own text
			   stays in batch status */
			str_printfa(str, "  %s (%s at %s): %s\n", job->username,
				    job->source_user, job->source_host, title);
		}
	}
	return str_c(str);
}

static void json_append_str(string_t *json, const char *key,
			    const char *value)
{
	str_printfa(json, "\"%s\":\"", key);
	import_remote_compat_json_append_escaped(json, value);
	str_append_c(json, '"');
}

const char *batch_notify_format_json(const struct batch *batch,
				     const ARRAY_TYPE(job) *jobs,
				     enum batch_event event)
{
	enum batch_status status = batch_get_status(batch);
	string_t *json = t_str_new(512);
	const struct job *job;
	unsigned int i;
	bool first = TRUE;

	str_append_c(json, '{');
	json_append_str(json, "event", batch_event_name(event));
	str_printfa(json, ",\"batch\":%llu,", batch->id);
	json_append_str(json, "status", batch_status_name(status));
	str_append_c(json, ',');
	json_append_str(json, "status_title", batch_status_title(status));
	str_append_c(json, ',');
	json_append_str(json, "pause_reason", batch->pause_reason);
	str_printfa(json, ",\"time\":%ld,\"jobs\":{\"total\":%u",
		    (long)ioloop_time, batch->jobs_total);
	for (i = 0; i < JOB_STATUS_COUNT; i++) {
		str_printfa(json, ",\"%s\":%u", job_status_name(i),
			    batch->job_counts[i]);
	}
	str_printfa(json, "},\"storage_used\":%llu,\"storage_limit\":%llu,"
		    "\"failed\":[", batch->quota_used, batch->storage_limit);
	array_foreach(jobs, job) {
		enum import_remote_error_code code;

		if (job->status != JOB_STATUS_FAILED)
			continue;
		code = import_remote_error_from_name(job->error_code);
		if (!first)
			str_append_c(json, ',');
		first = FALSE;
		str_printfa(json, "{\"job\":%llu,", job->id);
		json_append_str(json, "destination", job->username);
		str_append_c(json, ',');
		json_append_str(json, "source", job->source_user);
		str_append_c(json, ',');
		json_append_str(json, "host", job->source_host);
		str_append_c(json, ',');
		json_append_str(json, "error", job->error_code);
		str_append_c(json, ',');
		json_append_str(json, "error_title",
				code < IMPORT_REMOTE_ERROR_COUNT ?
				import_remote_error_get_info(code)->title : "");
		str_append_c(json, '}');
	}
	str_append(json, "]}");
	return str_c(json);
}

/* The named event of what is told: a batch that finished (completed, with
   or without errors) or whose jobs half failed (a pause is the pausing
   runner's import_remote_batch_paused) */
static struct event_passthrough *
batch_notify_event(struct event *event, const struct batch *batch,
		   enum batch_event batch_event)
{
	struct event_passthrough *e;

	e = event_create_passthrough(event)->
		add_int("batch_id", batch->id)->
		add_str("batch_event", batch_event_name(batch_event))->
		add_str("batch_status",
			batch_status_name(batch_get_status(batch)))->
		add_int("jobs", batch->jobs_total)->
		add_int("jobs_completed",
			batch->job_counts[JOB_STATUS_COMPLETED])->
		add_int("jobs_failed", batch->job_counts[JOB_STATUS_FAILED])->
		add_int("jobs_cancelled",
			batch->job_counts[JOB_STATUS_CANCELLED]);
	switch (batch_event) {
	case BATCH_EVENT_COMPLETED:
		e->set_name("import_remote_batch_finished");
		break;
	case BATCH_EVENT_HALF_FAILED:
		e->set_name("import_remote_batch_half_failed");
		break;
	case BATCH_EVENT_PAUSED_FOR_STORAGE:
	case BATCH_EVENT_COUNT:
		break;
	}
	return e;
}

int batch_notify(struct event *event, struct job_store *store,
		 unsigned long long batch_id, enum batch_event batch_event,
		 const struct import_remote_config *set)
{
	struct notify_message msg;
	struct batch batch;
	ARRAY_TYPE(job) jobs;
	const char *from, *error;
	pool_t pool;
	int ret = 0;

	pool = pool_alloconly_create("batch notify", 4096);
	p_array_init(&jobs, pool, 64);
	if (batch_store_get(store, pool, batch_id, &batch, &error) <= 0 ||
	    batch_store_list_jobs(store, pool, batch_id, &jobs, &error) < 0) {
		e_error(event, "Batch %llu: "
			"reading it for its notification failed: %s",
			batch_id, error);
		pool_unref(&pool);
		return -1;
	}
	e_info(batch_notify_event(event, &batch, batch_event)->event(),
	       "Batch %llu: %s (event %s)", batch_id,
	       batch_notify_what(&batch, batch_event,
				 set->import_remote_pause_percent),
	       batch_event_name(batch_event));

	/* the text is fixed now, delivered by a worker between imports */
	i_zero(&msg);
	msg.batch_id = batch_id;
	msg.event = batch_event_name(batch_event);
	if (batch.notify[0] != '\0' &&
	    !batch_store_notify_is_authentic(store, &batch)) {
		e_error(event, "Batch %llu: its notify address "
			"was changed in the store, not by batch create: no "
			"email", batch_id);
	} else if (batch.notify[0] != '\0') {
		from = import_remote_config_notify_from(set, NULL);
		msg.channel = NOTIFY_CHANNEL_EMAIL;
		msg.sender = from;
		msg.recipient = batch.notify;
		msg.payload = batch_notify_format(&batch, &jobs, batch_event,
						  from, set->import_remote_pause_percent);
		if (notify_outbox_add(store, &msg, &error) < 0)
			ret = -1;
	}
	if (import_remote_config_str(set->import_remote_webhook_url) != NULL &&
	    ret == 0) {
		msg.channel = NOTIFY_CHANNEL_WEBHOOK;
		msg.sender = "";
		msg.recipient = set->import_remote_webhook_url;
		msg.payload = batch_notify_format_json(&batch, &jobs,
						       batch_event);
		if (notify_outbox_add(store, &msg, &error) < 0)
			ret = -1;
	}
	if (ret < 0) {
		e_error(event, "Batch %llu: "
			"queueing its notification failed: %s",
			batch_id, error);
	}
	pool_unref(&pool);
	return ret;
}

void batch_notify_job_ended(struct event *event, struct job_store *store,
			    unsigned long long batch_id,
			    const struct import_remote_config *set)
{
	struct batch batch;
	enum batch_status status;
	const char *error;
	pool_t pool;

	pool = pool_alloconly_create("batch events", 1024);
	if (batch_store_get(store, pool, batch_id, &batch, &error) <= 0) {
		pool_unref(&pool);
		return;
	}
	status = batch_get_status(&batch);
	if (batch_is_half_failed(&batch) && !batch.notified_half_failed &&
	    batch_store_mark_notified(store, batch.id,
				      BATCH_EVENT_HALF_FAILED, &error) > 0) {
		(void)batch_notify(event, store, batch.id,
				   BATCH_EVENT_HALF_FAILED, set);
	}
	if ((status == BATCH_STATUS_COMPLETED ||
	     status == BATCH_STATUS_COMPLETED_WITH_ERRORS) &&
	    !batch.notified_completed &&
	    batch_store_mark_notified(store, batch.id,
				      BATCH_EVENT_COMPLETED, &error) > 0) {
		(void)batch_notify(event, store, batch.id,
				   BATCH_EVENT_COMPLETED, set);
	}
	pool_unref(&pool);
}
