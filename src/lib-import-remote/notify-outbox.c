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
	trans = sql_transaction_begin(store->db);
	stmt = sql_statement_init(store->db,
		"INSERT INTO import_remote_notifications (batch_id, event, "
		"channel, sender, recipient, payload, state, created, "
		"next_attempt, attempts, claimed_by, claimed_at, finished, "
		"last_error, mac) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, 0, "
		"'', 0, 0, '', ?)");
	sql_statement_bind_int64(stmt, 0, msg->batch_id);
	sql_statement_bind_str(stmt, 1, msg->event);
	sql_statement_bind_str(stmt, 2, notify_channel_name(msg->channel));
	sql_statement_bind_str(stmt, 3, msg->sender == NULL ? "" : msg->sender);
	sql_statement_bind_str(stmt, 4, msg->recipient);
	sql_statement_bind_str(stmt, 5, msg->payload);
	sql_statement_bind_int64(stmt, 6, ioloop_time);
	sql_statement_bind_int64(stmt, 7, ioloop_time);
	sql_statement_bind_str(stmt, 8, notify_outbox_mac(key, msg));
	sql_update_stmt(trans, &stmt);
	return job_store_commit(store, &trans, error_r);
}

/* due: pending, its time come, not claimed by a live deliverer */
#define NOTIFY_DUE_WHERE \
	"state = 'pending' AND next_attempt <= ? AND " \
	"(claimed_by = '' OR claimed_at < ?)"

int notify_outbox_count_due(struct job_store *store, const char **error_r)
{
	struct sql_statement *stmt;
	struct sql_result *result;
	int ret;

	stmt = sql_statement_init(store->db,
		"SELECT COUNT(*) FROM import_remote_notifications WHERE "
		NOTIFY_DUE_WHERE);
	sql_statement_bind_int64(stmt, 0, ioloop_time);
	sql_statement_bind_int64(stmt, 1,
		ioloop_time - NOTIFY_OUTBOX_CLAIM_TIMEOUT_SECS);
	result = sql_statement_query_s(&stmt);
	ret = sql_result_next_row(result);
	if (ret < 0)
		*error_r = t_strdup(sql_result_get_error(result));
	else
		ret = ret == 0 ? 0 : (int)result_num(result, 0);
	sql_result_unref(result);
	return ret;
}

int notify_outbox_claim(struct job_store *store, pool_t pool,
			const char *deliverer, unsigned int max,
			ARRAY_TYPE(notify_message) *msgs, const char **error_r)
{
	struct sql_transaction_context *trans;
	struct sql_statement *stmt;
	struct sql_result *result;
	struct notify_message msg;
	const char *claim = t_strdup_printf("%s/%s", deliverer,
					    job_store_new_token());
	int ret;

	trans = sql_transaction_begin(store->db);
	stmt = sql_statement_init(store->db, t_strdup_printf(
		"UPDATE import_remote_notifications SET claimed_by = ?, "
		"claimed_at = ? WHERE id IN (SELECT id FROM "
		"import_remote_notifications WHERE "NOTIFY_DUE_WHERE
		" ORDER BY id LIMIT %u) AND "NOTIFY_DUE_WHERE, max));
	sql_statement_bind_str(stmt, 0, claim);
	sql_statement_bind_int64(stmt, 1, ioloop_time);
	sql_statement_bind_int64(stmt, 2, ioloop_time);
	sql_statement_bind_int64(stmt, 3,
		ioloop_time - NOTIFY_OUTBOX_CLAIM_TIMEOUT_SECS);
	sql_statement_bind_int64(stmt, 4, ioloop_time);
	sql_statement_bind_int64(stmt, 5,
		ioloop_time - NOTIFY_OUTBOX_CLAIM_TIMEOUT_SECS);
	sql_update_stmt(trans, &stmt);
	if (job_store_commit(store, &trans, error_r) < 0)
		return -1;

	stmt = sql_statement_init(store->db, "SELECT "NOTIFY_COLUMNS
		" FROM import_remote_notifications WHERE claimed_by = ? "
		"ORDER BY id");
	sql_statement_bind_str(stmt, 0, claim);
	result = sql_statement_query_s(&stmt);
	while ((ret = sql_result_next_row(result)) > 0) {
		i_zero(&msg);
		msg.id = result_num(result, 0);
		msg.batch_id = result_num(result, 1);
		msg.event = result_str(result, pool, 2);
		msg.channel = strcmp(sql_result_get_field_value(result, 3),
				     "email") == 0 ? NOTIFY_CHANNEL_EMAIL :
			NOTIFY_CHANNEL_WEBHOOK;
		msg.sender = result_str(result, pool, 4);
		msg.recipient = result_str(result, pool, 5);
		msg.payload = result_str(result, pool, 6);
		msg.attempts = result_num(result, 7);
		msg.mac = result_str(result, pool, 8);
		array_push_back(msgs, &msg);
	}
	if (ret < 0)
		*error_r = t_strdup(sql_result_get_error(result));
	sql_result_unref(result);
	return ret < 0 ? -1 : 0;
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

	stmt = sql_statement_init(store->db,
		"UPDATE import_remote_notifications SET state = ?, "
		"attempts = ?, next_attempt = ?, claimed_by = '', "
		"finished = ?, last_error = ? WHERE id = ?");
	sql_statement_bind_str(stmt, 0, state);
	sql_statement_bind_int64(stmt, 1, attempts);
	sql_statement_bind_int64(stmt, 2, ioloop_time + delay);
	sql_statement_bind_int64(stmt, 3, error == NULL ? ioloop_time : 0);
	sql_statement_bind_str(stmt, 4, error == NULL ? "" : error);
	sql_statement_bind_int64(stmt, 5, msg->id);
	return job_store_update_rows(store, stmt, error_r) < 0 ? -1 : 0;
}

int notify_outbox_count_batch(struct job_store *store,
			      unsigned long long batch_id,
			      struct notify_outbox_counts *counts_r,
			      const char **error_r)
{
	struct sql_statement *stmt;
	struct sql_result *result;
	const char *state;
	unsigned int count;
	int ret;

	i_zero(counts_r);
	stmt = sql_statement_init(store->db,
		"SELECT state, COUNT(*) FROM import_remote_notifications "
		"WHERE batch_id = ? GROUP BY state");
	sql_statement_bind_int64(stmt, 0, batch_id);
	result = sql_statement_query_s(&stmt);
	while ((ret = sql_result_next_row(result)) > 0) {
		state = sql_result_get_field_value(result, 0);
		count = result_num(result, 1);
		if (state == NULL)
			continue;
		if (strcmp(state, "sent") == 0)
			counts_r->sent += count;
		else if (strcmp(state, "failed") == 0)
			counts_r->failed += count;
		else
			counts_r->pending += count;
	}
	if (ret < 0)
		*error_r = t_strdup(sql_result_get_error(result));
	sql_result_unref(result);
	return ret < 0 ? -1 : 0;
}
