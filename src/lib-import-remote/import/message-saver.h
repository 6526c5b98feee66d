#ifndef MESSAGE_SAVER_H
#define MESSAGE_SAVER_H

#include "mail-types.h"
#include "import-remote-error.h"

/* Saves messages into one local mailbox through the normal save path, so
   that the quota plugin checks every message. Only whole messages are
   given to it (the caller has the message in hand first): a save is never
   cancelled half-way, which Dovecot's storages do not survive inside a
   transaction that is then committed (sdbox unlinks every file of it).

   Saved messages are committed in batches: the caller commits when
   message_saver_want_commit() says so (every MESSAGE_SAVER_COMMIT_MSGS
   messages or MESSAGE_SAVER_COMMIT_BYTES bytes, or when the oldest
   uncommitted save is MESSAGE_SAVER_COMMIT_SECS old: on a slow link a
   killed import loses at most that much) and at the end. A save
   that fails leaves the transaction unsafe to commit (sdbox's cancel before
   its own save_begin ran aborts the wrong record), so, like Dovecot's IMAP
   APPEND, every uncommitted message is then rolled back: the caller saves
   them again. */
#define MESSAGE_SAVER_COMMIT_MSGS 1000
#define MESSAGE_SAVER_COMMIT_BYTES (64*1024*1024)
#define MESSAGE_SAVER_COMMIT_SECS 5

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

/* Asked before every commit of msgs messages of bytes bytes: FALSE rolls
   them back instead (whoever saves them may no longer write). */
typedef bool message_saver_commit_callback_t(unsigned int msgs, uoff_t bytes,
					     void *context);

/* cache_dedup_fields: have Dovecot cache what the duplicate index reads */
struct message_saver *message_saver_init(struct mailbox *box,
					 bool cache_dedup_fields);
/* Roll back whatever is not committed. */
void message_saver_deinit(struct message_saver **saver);
/* Ask callback before each commit (NULL: commit always) */
void message_saver_set_commit_callback(struct message_saver *saver,
				       message_saver_commit_callback_t *callback,
				       void *context);

/* Save one whole message (input: all of it, its size known). Returns 0
   when saved (not yet committed), -1 if the local save failed: error set
   (quota_exceeded, or dest_error), everything uncommitted rolled back. */
int message_saver_save(struct message_saver *saver,
		       const struct message_saver_mail *mail,
		       struct istream *input,
		       struct import_remote_error *error_r);

/* TRUE when enough is saved to commit */
bool message_saver_want_commit(struct message_saver *saver);
/* Commit what was saved. Returns 0, or -1 with error set ("cancelled"
   when the commit callback refused it): then nothing uncommitted landed. */
int message_saver_commit(struct message_saver *saver,
			 struct import_remote_error *error_r);

#endif
