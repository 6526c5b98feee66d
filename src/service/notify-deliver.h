#ifndef NOTIFY_DELIVER_H
#define NOTIFY_DELIVER_H

/* Delivering queued notifications (notify-outbox.h): emails through
   smtp-submit (SMTP or sendmail), webhook calls as HTTP POSTs with libcurl,
   signed with HMAC-SHA256. The worker runs this in a child process of its
   own, so that a slow or dead endpoint never holds up an import. */

struct job_store;
struct event;

/* From the global plugin { } settings */
struct notify_deliver_settings {
	/* SMTP host[:port]; NULL = sendmail_path */
	const char *submission_host;
	const char *sendmail_path;
	/* the webhook's HMAC key; NULL = unsigned */
	const char *webhook_secret;
	/* the first retry's delay; each later one doubles */
	unsigned int retry_secs;
	unsigned int timeout_secs;
};

#define NOTIFY_DELIVER_DEFAULT_SENDMAIL "/usr/sbin/sendmail"
#define NOTIFY_DELIVER_DEFAULT_RETRY_SECS 30
#define NOTIFY_DELIVER_DEFAULT_TIMEOUT_SECS 10
/* the webhook's signature header: "sha256=<hex HMAC of the body>" */
#define NOTIFY_DELIVER_SIGNATURE_HEADER "X-Import-Remote-Signature"

/* Claim and deliver every due notification (logging to event). Returns
   how many were delivered, or -1 if the store failed. */
int notify_deliver_due(struct job_store *store, const char *deliverer,
		       const struct notify_deliver_settings *set,
		       struct event *event);

#endif
