/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "hostpid.h"
#include "hex-binary.h"
#include "hmac.h"
#include "istream.h"
#include "istream-crlf.h"
#include "ostream.h"
#include "smtp-address.h"
#include "smtp-submit.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "notify-outbox.h"
#include "notify-deliver.h"

#include <curl/curl.h>

/* claimed at a time; the loop goes on while there are more */
#define NOTIFY_DELIVER_CLAIM_COUNT 20

static int notify_deliver_email(const struct notify_message *msg,
				const struct import_remote_config *set,
				struct event *event, const char **error_r)
{
	struct smtp_submit_settings smtp_set;
	struct smtp_submit_input submit_input;
	struct smtp_submit *submit;
	struct smtp_address *mail_from, *rcpt_to;
	struct istream *data, *input;
	struct ostream *output;
	int ret;

	if (smtp_address_parse_mailbox(pool_datastack_create(), msg->sender,
				       0, &mail_from, error_r) < 0) {
		*error_r = t_strdup_printf("Invalid sender %s: %s",
					   msg->sender, *error_r);
		return -1;
	}
	if (smtp_address_parse_mailbox(pool_datastack_create(),
				       msg->recipient, 0, &rcpt_to,
				       error_r) < 0) {
		*error_r = t_strdup_printf("Invalid recipient %s: %s",
					   msg->recipient, *error_r);
		return -1;
	}
	/* a missing sendmail would fail in the forked child, with only
	   "execvp(...) failed" to tell why */
	if (notify_outbox_email_check(set->import_remote_submission_host,
				      set->import_remote_sendmail_path,
				      error_r) < 0)
		return -1;
	i_zero(&smtp_set);
	smtp_set.hostname = my_hostname;
	smtp_set.submission_host = set->import_remote_submission_host;
	smtp_set.sendmail_path = set->import_remote_sendmail_path;
	smtp_set.submission_timeout = NOTIFY_DELIVER_TIMEOUT_SECS;
	smtp_set.submission_ssl = "no";
	i_zero(&submit_input);
	submit_input.event_parent = event;
	/* a worker run by hand as root hands mail to sendmail as root, as
	   cron does; the service's workers run as the mail user */
	import_remote_compat_smtp_submit_allow_root(&submit_input);

	submit = smtp_submit_init_simple(&submit_input, &smtp_set, mail_from);
	smtp_submit_add_rcpt(submit, rcpt_to);
	output = smtp_submit_send(submit);
	/* the outbox keeps '\n'; SMTP wants CRLF */
	data = i_stream_create_from_data(msg->payload, strlen(msg->payload));
	input = i_stream_create_crlf(data);
	o_stream_nsend_istream(output, input);
	i_stream_unref(&input);
	i_stream_unref(&data);
	ret = smtp_submit_run(submit, error_r);
	smtp_submit_deinit(&submit);
	return ret > 0 ? 0 : -1;
}

static size_t notify_deliver_discard(char *ptr ATTR_UNUSED, size_t size,
				     size_t nmemb, void *context ATTR_UNUSED)
{
	return size * nmemb;
}

static const char *
notify_deliver_signature(const char *secret, const char *body)
{
	buffer_t *digest = t_hmac_str(&hash_method_sha256,
		(const unsigned char *)secret, strlen(secret), body);

	return t_strconcat("sha256=",
			   binary_to_hex(digest->data, digest->used), NULL);
}

static int notify_deliver_webhook(const struct notify_message *msg,
				  const struct import_remote_config *set,
				  const char **error_r)
{
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode res;
	CURL *curl;

	curl = curl_easy_init();
	if (curl == NULL) {
		*error_r = "curl_easy_init() failed";
		return -1;
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, t_strconcat(
		"X-Import-Remote-Event: ", msg->event, NULL));
	/* the same id on every attempt: the receiver can drop a repeat */
	headers = curl_slist_append(headers, t_strdup_printf(
		"X-Import-Remote-Delivery: %llu", msg->id));
	if (import_remote_config_str(set->import_remote_webhook_secret) != NULL) {
		headers = curl_slist_append(headers, t_strconcat(
			NOTIFY_DELIVER_SIGNATURE_HEADER": ",
			notify_deliver_signature(set->import_remote_webhook_secret,
						 msg->payload), NULL));
	}
	curl_easy_setopt(curl, CURLOPT_URL, msg->recipient);
	/* a webhook is HTTP(S), and follows no redirects */
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, msg->payload);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
			 (long)strlen(msg->payload));
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "dovecot-import-remote");
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)NOTIFY_DELIVER_TIMEOUT_SECS);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, notify_deliver_discard);

	res = curl_easy_perform(curl);
	if (res == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (res != CURLE_OK) {
		*error_r = t_strdup_printf("POST %s failed: %s", msg->recipient,
			errbuf[0] != '\0' ? errbuf : curl_easy_strerror(res));
		return -1;
	}
	if (status < 200 || status > 299) {
		*error_r = t_strdup_printf("POST %s: HTTP status %ld",
					   msg->recipient, status);
		return -1;
	}
	return 0;
}

/* Queued by one with the key, unchanged since, and a webhook call to the
   configured URL only: whoever can write the store can't make this send
   or sign a text of their own, or send it elsewhere. */
static bool
notify_deliver_is_authentic(struct job_store *store,
			    const struct notify_message *msg,
			    const struct import_remote_config *set,
			    const char **error_r)
{
	if (!notify_outbox_verify(store, msg)) {
		*error_r = "Not authentic: changed in the store, or queued "
			"without the key file's key; not sent";
		return FALSE;
	}
	if (msg->channel == NOTIFY_CHANNEL_WEBHOOK &&
	    strcmp(msg->recipient, set->import_remote_webhook_url) != 0) {
		*error_r = "The webhook URL is not import_remote_webhook_url "
			"(any more); not sent";
		return FALSE;
	}
	return TRUE;
}

/* The fields of a notification's named events */
static struct event_passthrough *
notify_deliver_event(struct event *event, const struct notify_message *msg)
{
	return event_create_passthrough(event)->
		add_int("batch_id", msg->batch_id)->
		add_str("batch_event", msg->event)->
		add_str("channel", msg->channel == NOTIFY_CHANNEL_EMAIL ?
			"email" : "webhook")->
		add_int("attempt", msg->attempts + 1);
}

int notify_deliver_due(struct job_store *store, const char *deliverer,
		       const struct import_remote_config *set,
		       struct event *event)
{
	ARRAY_TYPE(notify_message) msgs;
	const struct notify_message *msg;
	const char *error, *store_error;
	unsigned int delivered = 0, claimed;
	pool_t pool;
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	pool = pool_alloconly_create("notifications", 4096);
	do {
		p_clear(pool);
		p_array_init(&msgs, pool, NOTIFY_DELIVER_CLAIM_COUNT);
		if (notify_outbox_claim(store, pool, deliverer,
					NOTIFY_DELIVER_CLAIM_COUNT, &msgs,
					&store_error) < 0) {
			e_error(event, "Claiming notifications "
				"failed: %s", store_error);
			pool_unref(&pool);
			return -1;
		}
		claimed = array_count(&msgs);
		array_foreach(&msgs, msg) T_BEGIN {
			bool give_up = FALSE;

			if (!notify_deliver_is_authentic(store, msg, set,
							 &error)) {
				/* never sent, however often tried */
				give_up = TRUE;
				ret = -1;
			} else if (msg->channel == NOTIFY_CHANNEL_EMAIL) {
				ret = notify_deliver_email(msg, set, event,
							   &error);
			} else {
				ret = notify_deliver_webhook(msg, set, &error);
			}
			if (ret == 0) {
				delivered++;
				e_info(notify_deliver_event(event, msg)->
				       set_name("import_remote_notification_sent")->
				       event(), "Batch %llu: %s "
				       "notification delivered (%s)",
				       msg->batch_id, msg->event,
				       msg->channel == NOTIFY_CHANNEL_EMAIL ?
				       msg->recipient : "webhook");
			} else {
				e_error(notify_deliver_event(event, msg)->
					set_name("import_remote_notification_failed")->
					add_str("error", error)->
					add_int("give_up", give_up || msg->attempts + 1 >=
						NOTIFY_OUTBOX_MAX_ATTEMPTS ? 1 : 0)->
					event(), "Batch %llu: %s "
					"notification: %s%s", msg->batch_id,
					msg->event, error,
					give_up || msg->attempts + 1 >=
					NOTIFY_OUTBOX_MAX_ATTEMPTS ?
					" (giving up)" : " (will retry)");
			}
			if (notify_outbox_finish(store, msg,
						 ret == 0 ? NULL : error,
						 set->import_remote_notify_retry_interval,
						 give_up, &store_error) < 0) {
				e_error(event, "Storing a notification's "
					"result failed: %s", store_error);
			}
		} T_END;
	} while (claimed == NOTIFY_DELIVER_CLAIM_COUNT);
	pool_unref(&pool);
	curl_global_cleanup();
	return delivered;
}
