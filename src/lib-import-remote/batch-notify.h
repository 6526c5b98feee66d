#ifndef BATCH_NOTIFY_H
#define BATCH_NOTIFY_H

#include "batch-store.h"

/* Telling the admin about a batch: a log line for every event, and an
   email to the batch's --notify address with a summary (counts per
   status, the failed users with their error titles).

   Mail goes out through the plugin settings
     import_remote_submission_host = host[:port]   (SMTP), or
     import_remote_sendmail_path = /usr/sbin/sendmail (the default)
     import_remote_notify_from = address            (default postmaster@<host>)
   The caller makes sure each event is told once (batch_store_pause()'s or
   batch_store_mark_notified()'s result). */

struct mail_user;

/* The email's text (headers and body, '\n' line ends) */
const char *batch_notify_format(const struct batch *batch,
				const ARRAY_TYPE(job) *jobs,
				enum batch_event event, const char *from,
				unsigned int pause_percent);

/* Log the event and send the email, if the batch has an address. Returns
   0, or -1 if the email could not be sent (logged). */
int batch_notify(struct mail_user *user, struct job_store *store,
		 unsigned long long batch_id, enum batch_event event,
		 unsigned int pause_percent);

#endif
