/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "sql-api.h"
#include "secret-box.h"
#include "job-store-private.h"
#include "notify-outbox.h"

#include <unistd.h>

#define NOTIFY_COLUMNS \
	"id, batch_id, event, channel, sender, recipient, payload, attempts, mac"
#define NOTIFY_MAC_PURPOSE "import-remote notification"
/* the longest a retry waits */
#define NOTIFY_OUTBOX_MAX_DELAY_SECS (6*60*60)

int notify_outbox_email_check(const char *submission_host,
			      const char *sendmail_path, const char **error_r)
{
	if (submission_host != NULL && submission_host[0] != '\0')
		return 0;
	if (sendmail_path == NULL || sendmail_path[0] == '\0') {
		*error_r = "No way to send email: import_remote_submission_host "
			"is not set and import_remote_sendmail_path is empty "
			"(set import_remote_submission_host = host:port of "
			"an SMTP server)";
		return -1;
	}
	if (access(sendmail_path, X_OK) < 0) {
		*error_r = t_strdup_printf("No way to send email: "
			"import_remote_submission_host is not set and there "
			"is no MTA to hand mail to: access(%s) failed: %m "
			"(set import_remote_submission_host = host:port of "
			"an SMTP server, or install an MTA, or point "
			"import_remote_sendmail_path at its sendmail)",
			sendmail_path);
		return -1;
	}
	return 0;
}

static const char *notify_channel_name(enum notify_channel channel)
{
	return channel == NOTIFY_CHANNEL_EMAIL ? "email" : "webhook";
}

/* what the deliverer will send, where, as what: all of it authenticated */
static const char *
notify_outbox_mac(const unsigned char *key, const struct notify_message *msg)
{
	const char *parts[] = {
		notify_channel_name(msg->channel),
		msg->sender == NULL ? "" : msg->sender,
		msg->recipient, msg->payload, NULL
	};
	return secret_box_mac(key, NOTIFY_MAC_PURPOSE, parts);
}

bool notify_outbox_verify(struct job_store *store,
			  const struct notify_message *msg)
{
	const unsigned char *key = job_store_get_key(store);
	const char *parts[] = {
		notify_channel_name(msg->channel), msg->sender,
		msg->recipient, msg->payload, NULL
	};

	return key != NULL && secret_box_mac_verify(key, NOTIFY_MAC_PURPOSE,
						     parts, msg->mac);
}

int notify_outbox_add(struct job_store *store,
		      const struct notify_message *msg, const char **error_r)
{
	struct sql_transaction_context *trans;
	struct sql_statement *stmt;
	const unsigned char *key = job_store_get_key(store);

	if (key == NULL) {
		*error_r = "No key to authenticate the notification with";
		return -1;
	}
	trans = store_transaction_begin(store);
	stmt = store_stmt(store,
		"INSERT INTO import_remote_notifications (batch_id, event, "
		"channel, sender, recipient, payload, state, created, "
		"next_attempt, attempts, claimed_by, claimed_at, finished, "
		"last_error, mac) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, 0, "
		"'', 0, 0, '', ?)",
		STORE_NUM(msg->batch_id), STORE_STR(msg->event),
		STORE_STR(notify_channel_name(msg->channel)),
		STORE_STR(msg->sender == NULL ? "" : msg->sender),
		STORE_STR(msg->recipient), STORE_STR(msg->payload),
		STORE_NUM(ioloop_time), STORE_NUM(ioloop_time),
		STORE_STR(notify_outbox_mac(key, msg)));
	sql_update_stmt(trans, &stmt);
	return store_commit(store, &trans, error_r);
}

/* due: pending, its time come, not claimed by a live deliverer */
#define NOTIFY_DUE_WHERE \
	"state = 'pending' AND next_attempt <= ? AND " \
	"(claimed_by = '' OR claimed_at < ?)"

/* the parameters of NOTIFY_DUE_WHERE */
#define NOTIFY_DUE_PARAMS \
	STORE_NUM(ioloop_time), \
	STORE_NUM(ioloop_time - NOTIFY_OUTBOX_CLAIM_TIMEOUT_SECS)

static void notify_count_read(struct sql_result *result, int *count)
{
	*count = result_num(result, 0);
}

int notify_outbox_count_due(struct job_store *store, const char **error_r)
{
	struct sql_statement *stmt;
	int count = 0;

	stmt = store_stmt(store,
		"SELECT COUNT(*) FROM import_remote_notifications WHERE "
		NOTIFY_DUE_WHERE, NOTIFY_DUE_PARAMS);
	if (store_query(&stmt, notify_count_read, &count, error_r) < 0)
		return -1;
	return count;
}

struct notify_message_read {
	pool_t pool;
	ARRAY_TYPE(notify_message) *msgs;
};

static void notify_message_read(struct sql_result *result,
				struct notify_message_read *ctx)
{
	struct notify_message msg;

	i_zero(&msg);
	msg.id = result_num(result, 0);
	msg.batch_id = result_num(result, 1);
	msg.event = result_str(result, ctx->pool, 2);
	msg.channel = null_strcmp(sql_result_get_field_value(result, 3),
				  "email") == 0 ? NOTIFY_CHANNEL_EMAIL :
		NOTIFY_CHANNEL_WEBHOOK;
	msg.sender = result_str(result, ctx->pool, 4);
	msg.recipient = result_str(result, ctx->pool, 5);
	msg.payload = result_str(result, ctx->pool, 6);
	msg.attempts = result_num(result, 7);
	msg.mac = result_str(result, ctx->pool, 8);
	array_push_back(ctx->msgs, &msg);
}

int notify_outbox_claim(struct job_store *store, pool_t pool,
			const char *deliverer, unsigned int max,
			ARRAY_TYPE(notify_message) *msgs, const char **error_r)
{
	struct notify_message_read ctx = { .pool = pool, .msgs = msgs };
	struct sql_transaction_context *trans;
	struct sql_statement *stmt;
	const char *claim = t_strdup_printf("%s/%s", deliverer,
					    job_store_new_token());

	trans = store_transaction_begin(store);
	stmt = store_stmt(store, t_strdup_printf(
		"UPDATE import_remote_notifications SET claimed_by = ?, "
		"claimed_at = ? WHERE id IN (SELECT id FROM "
		"import_remote_notifications WHERE "NOTIFY_DUE_WHERE
		" ORDER BY id LIMIT %u) AND "NOTIFY_DUE_WHERE, max),
		STORE_STR(claim), STORE_NUM(ioloop_time),
		NOTIFY_DUE_PARAMS, NOTIFY_DUE_PARAMS);
	sql_update_stmt(trans, &stmt);
	if (store_commit(store, &trans, error_r) < 0)
		return -1;

	stmt = store_stmt(store, "SELECT "NOTIFY_COLUMNS
		" FROM import_remote_notifications WHERE claimed_by = ? "
		"ORDER BY id", STORE_STR(claim));
	return store_query(&stmt, notify_message_read, &ctx, error_r) < 0 ?
		-1 : 0;
}

int notify_outbox_finish(struct job_store *store,
			 const struct notify_message *msg, const char *error,
			 unsigned int retry_secs, bool give_up,
			 const char **error_r)
{
	struct sql_statement *stmt;
	unsigned int attempts = msg->attempts + 1;
	unsigned long long delay = retry_secs;
	const char *state;

	if (error == NULL)
		state = "sent";
	else if (attempts >= NOTIFY_OUTBOX_MAX_ATTEMPTS || give_up)
		state = "failed";
	else
		state = "pending";
	/* 1, 2, 4, ... times retry_secs */
	if (attempts > 1)
		delay <<= (attempts - 1);
	if (delay > NOTIFY_OUTBOX_MAX_DELAY_SECS)
		delay = NOTIFY_OUTBOX_MAX_DELAY_SECS;

	stmt = store_stmt(store,
		"UPDATE import_remote_notifications SET state = ?, "
		"attempts = ?, next_attempt = ?, claimed_by = '', "
		"finished = ?, last_error = ? WHERE id = ?",
		STORE_STR(state), STORE_NUM(attempts),
		STORE_NUM(ioloop_time + delay),
		STORE_NUM(error == NULL ? ioloop_time : 0),
		STORE_STR(error == NULL ? "" : error), STORE_NUM(msg->id));
	return store_update(store, stmt, error_r) < 0 ? -1 : 0;
}

static void notify_state_count_read(struct sql_result *result,
				    struct notify_outbox_counts *counts)
{
	const char *state = sql_result_get_field_value(result, 0);
	unsigned int count = result_num(result, 1);

	if (state == NULL)
		return;
	if (strcmp(state, "sent") == 0)
		counts->sent += count;
	else if (strcmp(state, "failed") == 0)
		counts->failed += count;
	else
		counts->pending += count;
}

int notify_outbox_count_batch(struct job_store *store,
			      unsigned long long batch_id,
			      struct notify_outbox_counts *counts_r,
			      const char **error_r)
{
	struct sql_statement *stmt;

	i_zero(counts_r);
	stmt = store_stmt(store,
		"SELECT state, COUNT(*) FROM import_remote_notifications "
		"WHERE batch_id = ? GROUP BY state", STORE_NUM(batch_id));
	return store_query(&stmt, notify_state_count_read, counts_r,
			   error_r) < 0 ? -1 : 0;
}
