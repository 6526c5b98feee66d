/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "istream.h"
#include "mail-storage.h"
#include "dedup-index.h"
#include "message-saver.h"

#include <time.h>

struct message_saver {
	struct mailbox *box;
	struct mailbox_transaction_context *trans;
	unsigned int uncommitted_count;
	uoff_t uncommitted_bytes;
	/* when the first uncommitted message was saved */
	time_t uncommitted_since;
	message_saver_commit_callback_t *commit_callback;
	void *commit_context;
	bool cache_dedup_fields;
};

struct message_saver *message_saver_init(struct mailbox *box,
					 bool cache_dedup_fields)
{
	struct message_saver *saver;

	saver = i_new(struct message_saver, 1);
	saver->box = box;
	saver->cache_dedup_fields = cache_dedup_fields;
	return saver;
}

static void message_saver_rollback(struct message_saver *saver)
{
	if (saver->trans != NULL)
		mailbox_transaction_rollback(&saver->trans);
	saver->uncommitted_count = 0;
	saver->uncommitted_bytes = 0;
}

void message_saver_deinit(struct message_saver **_saver)
{
	struct message_saver *saver = *_saver;

	*_saver = NULL;
	message_saver_rollback(saver);
	i_free(saver);
}

void message_saver_set_commit_callback(struct message_saver *saver,
				       message_saver_commit_callback_t *callback,
				       void *context)
{
	saver->commit_callback = callback;
	saver->commit_context = context;
}

static void
message_saver_set_storage_error(struct message_saver *saver,
				struct import_remote_error *error_r)
{
	enum mail_error mail_error;
	const char *errstr;

	errstr = mailbox_get_last_internal_error(saver->box, &mail_error);
	import_remote_error_set(error_r, mail_error == MAIL_ERROR_NOQUOTA ?
		IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED :
		IMPORT_REMOTE_ERROR_DEST_ERROR,
		t_strdup_printf("Saving to mailbox %s failed: %s",
				mailbox_get_vname(saver->box), errstr));
}

bool message_saver_want_commit(struct message_saver *saver)
{
	return saver->uncommitted_count >= MESSAGE_SAVER_COMMIT_MSGS ||
		saver->uncommitted_bytes >= MESSAGE_SAVER_COMMIT_BYTES ||
		(saver->uncommitted_count > 0 &&
		 time(NULL) - saver->uncommitted_since >=
		 MESSAGE_SAVER_COMMIT_SECS);
}

int message_saver_commit(struct message_saver *saver,
			 struct import_remote_error *error_r)
{
	if (saver->trans == NULL)
		return 0;
	if (saver->commit_callback != NULL &&
	    !saver->commit_callback(saver->uncommitted_count,
				    saver->uncommitted_bytes,
				    saver->commit_context)) {
		import_remote_error_set(error_r, IMPORT_REMOTE_ERROR_CANCELLED,
			t_strdup_printf("%u messages saved to mailbox %s were "
				"not committed: the import may no longer write",
				saver->uncommitted_count,
				mailbox_get_vname(saver->box)));
		message_saver_rollback(saver);
		return -1;
	}
	saver->uncommitted_count = 0;
	saver->uncommitted_bytes = 0;
	if (mailbox_transaction_commit(&saver->trans) < 0) {
		/* the transaction is gone, and its messages with it */
		message_saver_set_storage_error(saver, error_r);
		return -1;
	}
	/* the mailbox's view moves on to what was committed: otherwise it
	   keeps every transaction log file written since it was opened in
	   memory, and a big folder's import grows with it */
	(void)mailbox_sync(saver->box, MAILBOX_SYNC_FLAG_FAST);
	return 0;
}

int message_saver_save(struct message_saver *saver,
		       const struct message_saver_mail *mail,
		       struct istream *input,
		       struct import_remote_error *error_r)
{
	struct mail_save_context *save_ctx;
	struct mail_keywords *keywords = NULL;
	ssize_t ret;

	if (saver->trans == NULL) {
		saver->trans = mailbox_transaction_begin(saver->box,
			MAILBOX_TRANSACTION_FLAG_EXTERNAL |
			MAILBOX_TRANSACTION_FLAG_NO_NOTIFY, __func__);
	}

	save_ctx = mailbox_save_alloc(saver->trans);
	if (saver->cache_dedup_fields)
		dedup_index_want_cached(mailbox_save_get_dest_mail(save_ctx));
	if (mail->keywords != NULL && mail->keywords[0] != NULL)
		keywords = mailbox_keywords_create_valid(saver->box,
							 mail->keywords);
	mailbox_save_set_flags(save_ctx, mail->flags, keywords);
	if (keywords != NULL)
		mailbox_keywords_unref(&keywords);
	if (mail->received_date != (time_t)-1) {
		mailbox_save_set_received_date(save_ctx, mail->received_date,
					       mail->received_tz_offset);
	}

	/* the input knows its size, so the quota plugin refuses an
	   over-quota message before anything is written */
	if (mailbox_save_begin(&save_ctx, input) < 0)
		goto failed;
	do {
		if (mailbox_save_continue(save_ctx) < 0) {
			mailbox_save_cancel(&save_ctx);
			goto failed;
		}
	} while ((ret = i_stream_read(input)) > 0 || ret == -2);
	i_assert(ret == -1);
	if (input->stream_errno != 0) {
		/* the message's own (temporary) copy failed */
		mailbox_save_cancel(&save_ctx);
		goto failed;
	}
	if (mailbox_save_finish(&save_ctx) < 0)
		goto failed;
	if (saver->uncommitted_count++ == 0)
		saver->uncommitted_since = time(NULL);
	saver->uncommitted_bytes += input->v_offset;
	return 0;
failed:
	message_saver_set_storage_error(saver, error_r);
	if (input->stream_errno != 0) {
		error_r->detail = t_strdup_printf("%s (reading %s: %s)",
			error_r->detail, i_stream_get_name(input),
			i_stream_get_error(input));
	}
	message_saver_rollback(saver);
	return -1;
}
