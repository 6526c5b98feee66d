#ifndef IMPORT_RUN_CONTEXT_H
#define IMPORT_RUN_CONTEXT_H

#include "iostream-ssl.h"
#include "mail-types.h"
#include "imap-source.h"
#include "import-result.h"

/* The state of one import that every part of it shares: its settings and
   user, the source session (and getting it back when the connection is
   lost), the progress (and its callback, which can cancel), waiting, the
   warnings, the failed messages, the quota pre-flight and the run's error.
   The run (import-run.c) owns it; folder imports (folder-*.c) use
   it. */

struct dedup_index;
struct import_checkpoint;
struct folder_plan_labels;
struct import_tempfiles;
struct import_connections;
struct folder_plan_entry;
struct import_run_folder;

/* A message given up during the run (the connection kept breaking at the
   same place of it): tried once more at the end of the run */
struct import_run_deferred {
	const struct folder_plan_entry *entry;
	struct import_run_folder *result;
	uint32_t uidvalidity, uid;
	/* RFC822.SIZE, and the most bytes of it that ever arrived */
	uoff_t size, furthest;
	time_t received_date;
	int received_tz;
	enum mail_flags flags;
	const char *const *keywords;
	/* NULL if unknown */
	const char *message_id, *key;
	/* why it was given up */
	const char *reason;
};

struct import_run_ctx {
	pool_t pool;
	struct mail_user *user;
	/* the run's event (import-remote-event.h), a child of
	   set->event_parent or the user's; the current folder's, a child of
	   it (NULL between folders) */
	struct event *event, *folder_event;
	const struct import_remote_settings *set;
	struct import_run_result *result;
	struct import_progress *progress;
	import_run_progress_callback_t *progress_callback;
	import_run_commit_callback_t *commit_callback;
	void *context;
	struct timeval start_time;

	/* the session with the source server, and how to get a new one */
	struct imap_source *src;
	struct imap_source_settings src_set;
	const struct ssl_iostream_settings *ssl_set;
	struct outbound_guard *guard;
	/* an OAuth2 grant (set->oauth2_refresh_token): the refresh token in
	   use (a rotated one replaces it), the access token got with it, when
	   that expires (0: not said), and how many were asked for */
	char *oauth2_refresh_token;
	char *oauth2_access_token;
	time_t oauth2_expires;
	unsigned int oauth2_requests;
	/* reconnects since mail last moved on (--reconnects bounds it), and
	   where the progress stood at the last one */
	unsigned int reconnects_in_row;
	unsigned int progress_mark;
	/* breaks after which a cut message had got further than before
	   (resumed from there): mail moving on too */
	unsigned int resumed_further;
	/* --connections K > 1: the connections beyond the first and the
	   folders opened ahead on them (import-connections.h), else NULL */
	struct import_connections *conns;
	/* bytes of bodies received so far: how near the current folder's
	   round is to its end (import-connections.c lets the next folders'
	   bodies be asked for as it nears it) */
	uoff_t body_bytes_read;
	/* [THROTTLED] in an OK reply: wait this long between body fetches */
	unsigned int pace_msecs;

	/* --dedup account: one index over every local mailbox */
	struct dedup_index *account_index;
	/* NULL when the user has no home (or --newest-first) */
	struct import_checkpoint *checkpoint;
	/* this import's mark for cleaning up after it if it is killed */
	struct import_tempfiles *tempfiles;

	/* quota pre-flight: what the user may still fill, and how far a
	   last message may go beyond it */
	uint64_t quota_remaining, quota_grace;
	bool quota_limited, quota_warned;

	/* Gmail: the message lists tell each message's labels (X-GM-LABELS) */
	bool gmail_labels;
	/* ... and these labels' folders are copied: a message of All Mail
	   that has one of them is copied there, not again */
	struct folder_plan_labels *gmail_copied_labels;
	/* Gmail without X-GM-LABELS: the identities of the user's mail and of
	   what this run copies; All Mail brings only what is not in it (the
	   same as account_index with --dedup account) */
	struct dedup_index *gmail_index;

	/* import_remote_max_folders (0 = no limit), import_remote_run_timeout
	   (0 = none) */
	unsigned int max_folders;
	unsigned int run_timeout_secs;

	/* messages given up in this pass, to try again at its end */
	ARRAY(struct import_run_deferred) deferred;

	/* received-date window of the current pass (0 = open) */
	time_t since, before;

	/* why the run failed (the first cause); the session's own error is
	   taken when nothing else is known (import_run_ctx_source_failed()) */
	struct import_remote_error error;
};

void import_run_ctx_init(struct import_run_ctx *ctx, pool_t pool,
			 struct mail_user *user,
			 const struct import_remote_settings *set,
			 import_run_progress_callback_t *progress_callback,
			 void *context, struct import_run_result *result);
void import_run_ctx_deinit(struct import_run_ctx *ctx);

/* With an OAuth2 grant: a fresh access token for the next login when
   there is none yet, the one there is ends within a minute, or force (the
   server refused it). Returns 0, or -1 with error_r (the token endpoint's
   failure). (import-run-oauth2.c) */
int import_run_ctx_oauth2_token(struct import_run_ctx *ctx, bool force,
				struct import_remote_error *error_r);

/* Connect to the source (reconnecting if the first try is cut off), if the
   administrator's settings allow it (outbound-guard.h,
   import_remote_allow_plaintext). Returns 0, or -1 with the run's error
   set. */
int import_run_ctx_connect(struct import_run_ctx *ctx);
/* The session failed: if a new connection may fix it and --reconnects
   allows, wait (1, 2, 4 ... 60 s after the first try, see the .c) and
   connect again. Returns TRUE with a new ctx->src, FALSE with the run's
   error set (the session's, a cancel, or what a reconnect ran into). */
bool import_run_ctx_reconnect(struct import_run_ctx *ctx);

/* The connect and login timeout of a connection beyond the first, at most */
#define IMPORT_RUN_EXTRA_CONNECT_TIMEOUT_MSECS (10*1000)
/* Start opening count more connections to the source, to the address
   ctx->src reached, to be logged in like it (imap_source_open_start(); no
   retry: a server that refuses one is not asked again; each has at most
   IMPORT_RUN_EXTRA_CONNECT_TIMEOUT_MSECS). Returns FALSE with error_r if
   none can be (the run's error is not set). */
bool import_run_ctx_open_extra(struct import_run_ctx *ctx, unsigned int count,
			       struct imap_source **srcs_r,
			       struct import_remote_error *error_r);

/* Set the progress's elapsed time */
void import_run_ctx_update_elapsed(struct import_run_ctx *ctx);
/* Report progress. Returns FALSE if the import was cancelled, the
   process is stopping (SIGTERM, SIGINT) or the run is over its deadline
   (the run's error is then set). */
bool import_run_ctx_progress(struct import_run_ctx *ctx, bool final);
/* Wait msecs, reporting progress every second (a cancel ends the wait),
   in an ioloop (a job's heartbeat timer beats meanwhile).
   With keepalive the session is sent a NOOP every few seconds so that an
   idle timeout doesn't end it; untagged replies that arrive meanwhile go
   to the callbacks. Returns 0, or -1 if cancelled (error set) or the
   session failed. */
int import_run_ctx_sleep(struct import_run_ctx *ctx, unsigned int msecs,
			 bool keepalive,
			 imap_source_untagged_callback_t *untagged_callback,
			 imap_source_literal_callback_t *literal_callback,
			 void *context);

/* The current folder's event, or the run's between folders */
struct event *import_run_ctx_event(struct import_run_ctx *ctx);

void import_run_ctx_warning(struct import_run_ctx *ctx, const char *text);
/* Record a message that could not be imported (and count it) */
void import_run_ctx_message_failed(struct import_run_ctx *ctx,
				   const struct import_failed_message *msg);
/* Set the run's error unless one is set already (the first is the
   cause). */
void import_run_ctx_set_error(struct import_run_ctx *ctx,
			      enum import_remote_error_code code,
			      const char *detail);
/* A call to the session failed: its error becomes the run's, unless the
   run already knows why (e.g. a callback that aborted). */
void import_run_ctx_source_failed(struct import_run_ctx *ctx);

/* Learn what the user's quota leaves (warns if that can't be read) */
void import_run_ctx_quota_preflight(struct import_run_ctx *ctx);
/* Warn (once) when what is selected so far exceeds the remaining quota */
void import_run_ctx_check_quota(struct import_run_ctx *ctx);

#endif
