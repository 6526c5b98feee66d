#ifndef NOTIFY_DELIVER_H
#define NOTIFY_DELIVER_H

/* Delivering queued notifications (notify-outbox.h): emails through
   smtp-submit (SMTP or sendmail), webhook calls as HTTP POSTs with libcurl,
   signed with HMAC-SHA256. The worker runs this in a child process of its
   own, so that a slow or dead endpoint never holds up an import. */

struct job_store;
struct event;
struct import_remote_config;

/* how long an SMTP server or a webhook may take */
#define NOTIFY_DELIVER_TIMEOUT_SECS 10
/* the webhook's signature header: "sha256=<hex HMAC of the body>" */
#define NOTIFY_DELIVER_SIGNATURE_HEADER "X-Import-Remote-Signature"

/* Claim and deliver every due notification (logging to event), with the
   global settings' SMTP host or sendmail, webhook secret and retry
   interval. Returns how many were delivered, or -1 if the store failed. */
int notify_deliver_due(struct job_store *store, const char *deliverer,
		       const struct import_remote_config *set,
		       struct event *event);

#endif
