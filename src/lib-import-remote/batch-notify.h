#ifndef BATCH_NOTIFY_H
#define BATCH_NOTIFY_H

#include "batch-store.h"

/* Telling the admin about a batch: a log line for every event, an email
   to the batch's --notify address with a summary (counts per status, the
   failed users with their error titles), and the same as JSON to
   import_remote_webhook_url if that is set. Both are queued in the outbox
   (notify-outbox.h) with their text fixed at the event; the worker delivers
   them outside the imports (notify-deliver.c).

   The caller makes sure each event is told once (batch_store_pause()'s or
   batch_store_mark_notified()'s result). */

struct event;

/* What the notifications need of the settings (plugin { }) */
struct batch_notify_settings {
	/* import_remote_notify_from; NULL = postmaster@<hostname> */
	const char *from;
	/* import_remote_webhook_url; NULL = no webhook */
	const char *webhook_url;
	/* import_remote_pause_percent (default 90) */
	unsigned int pause_percent;
};
#define BATCH_NOTIFY_DEFAULT_PAUSE_PERCENT 90

/* Fill the settings with getenv(name, context), e.g. a user's or the
   global plugin settings. Returns -1 (and defaults) if
   import_remote_pause_percent is invalid. */
int batch_notify_settings_read(const char *(*getenv)(const char *name,
						      void *context),
			       void *context, pool_t pool,
			       struct batch_notify_settings *set_r,
			       const char **error_r);

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
   webhook call (if import_remote_webhook_url is set). Returns 0, or -1
   (logged). */
int batch_notify(struct event *event, struct job_store *store,
		 unsigned long long batch_id, enum batch_event batch_event,
		 const struct batch_notify_settings *set);
/* After one of the batch's jobs ended: tell when the batch completed and
   when more than half of its jobs failed, once each. */
void batch_notify_job_ended(struct event *event, struct job_store *store,
			    unsigned long long batch_id,
			    const struct batch_notify_settings *set);

#endif
