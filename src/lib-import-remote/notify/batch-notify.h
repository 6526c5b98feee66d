#ifndef BATCH_NOTIFY_H
#define BATCH_NOTIFY_H

#include "batch-store.h"

struct import_remote_config;

/* Telling the admin about a batch: a log line for every event, an email
   to the batch's --notify address with a summary (counts per status, the
   failed users with their error titles), and the same as JSON to
   import_remote_webhook_url if that is set. Both are queued in the outbox
   (notify-outbox.h) with their text fixed at the event; the worker delivers
   them outside the imports (notify-deliver.c).

   The caller makes sure each event is told once (batch_store_pause()'s or
   batch_store_mark_notified()'s result). */

struct event;

/* The email's text (headers and body, '\n' line ends) */
const char *batch_notify_format(const struct batch *batch,
				const ARRAY_TYPE(job) *jobs,
				enum batch_event event, const char *from,
				unsigned int pause_percent);

/* The webhook's JSON body */
const char *batch_notify_format_json(const struct batch *batch,
				     const ARRAY_TYPE(job) *jobs,
				     enum batch_event event);

/* Log the event and queue its email (if the batch has an address) and its
   webhook call (if import_remote_webhook_url is set). The sender, the
   webhook and the pause percent come from set. Returns 0, or -1
   (logged). */
int batch_notify(struct event *event, struct job_store *store,
		 unsigned long long batch_id, enum batch_event batch_event,
		 const struct import_remote_config *set);
/* After one of the batch's jobs ended: tell when the batch completed and
   when more than half of its jobs failed, once each. */
void batch_notify_job_ended(struct event *event, struct job_store *store,
			    unsigned long long batch_id,
			    const struct import_remote_config *set);

#endif
