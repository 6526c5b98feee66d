#ifndef MESSAGE_SAVER_H
#define MESSAGE_SAVER_H

#include "mail-types.h"
#include "import-remote-error.h"

/* Saves messages streamed from the source into one local mailbox through
   the normal save path, so that the quota plugin checks every message.
   Saves are committed in batches: a commit every MESSAGE_SAVER_COMMIT_MSGS
   messages or MESSAGE_SAVER_COMMIT_BYTES bytes, whichever comes first, and
   at message_saver_commit(). */
#define MESSAGE_SAVER_COMMIT_MSGS 1000
#define MESSAGE_SAVER_COMMIT_BYTES (64*1024*1024)

struct mailbox;
struct istream;
struct message_saver;

struct message_saver_mail {
	enum mail_flags flags;
	/* NULL-terminated, or NULL */
	const char *const *keywords;
	/* INTERNALDATE; (time_t)-1 if unknown */
	time_t received_date;
	int received_tz_offset;
};

/* Called when the message stream has no more data right now; returns 0
   when more is available, -1 if the source failed. */
typedef int message_saver_wait_callback_t(void *context);
/* Asked before every commit of msgs messages of bytes bytes: FALSE rolls
   them back instead (whoever saves them may no longer write). */
typedef bool message_saver_commit_callback_t(unsigned int msgs, uoff_t bytes,
					     void *context);

/* cache_dedup_fields: have Dovecot cache what the duplicate index reads */
struct message_saver *message_saver_init(struct mailbox *box,
					 bool cache_dedup_fields);
/* Roll back whatever is not committed yet. */
void message_saver_deinit(struct message_saver **saver);
/* Ask callback before each commit (NULL: commit always) */
void message_saver_set_commit_callback(struct message_saver *saver,
				       message_saver_commit_callback_t *callback,
				       void *context);

/* Save one message of size bytes read from input, which ends where the
   message ends. A message that arrives short is not saved. Returns 1 when saved (not yet committed), 0 if the input failed (the
   caller knows why), -1 if the local save failed (error set). */
int message_saver_save(struct message_saver *saver,
		       const struct message_saver_mail *mail,
		       struct istream *input, uoff_t size,
		       message_saver_wait_callback_t *wait_callback,
		       void *context, struct import_remote_error *error_r);
/* Commit saved messages. Returns 0 or -1 with error set ("cancelled"
   when the commit callback refused it). */
int message_saver_commit(struct message_saver *saver,
			 struct import_remote_error *error_r);
/* Number of saved messages that a failed commit dropped */
unsigned int message_saver_get_lost_count(struct message_saver *saver);

#endif
