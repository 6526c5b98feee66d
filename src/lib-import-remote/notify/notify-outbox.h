#ifndef NOTIFY_OUTBOX_H
#define NOTIFY_OUTBOX_H

#include "job-store.h"

/* Notifications waiting to be delivered, in the job store: an event adds
   one row per channel (email, webhook) with its text fixed at that moment;
   a worker claims due rows atomically and delivers them outside the
   imports. A failed delivery is retried later, with a doubling delay, up
   to NOTIFY_OUTBOX_MAX_ATTEMPTS times. */

#define NOTIFY_OUTBOX_MAX_ATTEMPTS 8
/* a claim older than this is assumed dead (its deliverer crashed) */
#define NOTIFY_OUTBOX_CLAIM_TIMEOUT_SECS 600

enum notify_channel {
	NOTIFY_CHANNEL_EMAIL = 0,
	NOTIFY_CHANNEL_WEBHOOK,
};

struct notify_message {
	unsigned long long id;
	unsigned long long batch_id;
	const char *event;
	enum notify_channel channel;
	/* email: envelope sender and recipient; webhook: the URL in recipient */
	const char *sender, *recipient;
	/* email: the message; webhook: the JSON body */
	const char *payload;
	unsigned int attempts;
	/* their authenticator (notify_outbox_verify()) */
	const char *mac;
};
ARRAY_DEFINE_TYPE(notify_message, struct notify_message);

/* How a batch's notifications stand */
struct notify_outbox_counts {
	unsigned int sent, pending, failed;
};

/* Queue it, authenticated with the store's key (job_store_set_key()):
   without one it fails. */
int notify_outbox_add(struct job_store *store,
		      const struct notify_message *msg, const char **error_r);
/* Was it queued by one with the key, unchanged since? (Whoever can write
   the store but not read the key can't make the deliverer send or sign a
   text of their own.) */
bool notify_outbox_verify(struct job_store *store,
			  const struct notify_message *msg);
/* Rows due now. Returns their number, or -1. */
int notify_outbox_count_due(struct job_store *store, const char **error_r);
/* Claim up to max due rows for this deliverer. Returns 0, or -1. */
int notify_outbox_claim(struct job_store *store, pool_t pool,
			const char *deliverer, unsigned int max,
			ARRAY_TYPE(notify_message) *msgs, const char **error_r);
/* After a delivery attempt: sent, or (error != NULL) retried after
   retry_secs * 2^(attempts-1) until the attempts run out, or given up at
   once (give_up). Returns 0, or -1. */
int notify_outbox_finish(struct job_store *store,
			 const struct notify_message *msg, const char *error,
			 unsigned int retry_secs, bool give_up,
			 const char **error_r);

/* Can email be sent at all: through submission_host (an SMTP server), or,
   when it is empty, the sendmail binary at sendmail_path? Returns 0, or -1
   with an error that names import_remote_submission_host (checked before
   the deliverer would exec a missing binary). */
int notify_outbox_email_check(const char *submission_host,
			      const char *sendmail_path, const char **error_r);

/* Count a batch's notifications by state. Returns 0, or -1. */
int notify_outbox_count_batch(struct job_store *store,
			      unsigned long long batch_id,
			      struct notify_outbox_counts *counts_r,
			      const char **error_r);

#endif
