/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "istream.h"
#include "safe-memset.h"
#include "write-full.h"
#include "str-sanitize.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "import-remote-error.h"
#include "import-remote-event.h"
#include "import-remote-settings.h"
#include "import-progress.h"
#include "outbound-guard.h"
#include "job-store.h"
#include "job-store-open.h"
#include "job-secret.h"
#include "job-runner.h"
#include "oauth2-token.h"
#include "trigger-due.h"
#include "trigger-queue.h"
#include "user-request.h"

#include "json-object.h"

#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>

/* the user's recent requests: one time a line, in the home */
#define USER_REQUEST_LOG_NAME ".import-remote.requests"
#define USER_REQUEST_LOG_MAX_SIZE 8192
#define USER_REQUEST_WINDOW_SECS (60*60)
/* members of a request */
#define USER_REQUEST_MAX_MEMBERS 16

enum user_request_value_type {
	USER_REQUEST_VALUE_STRING,
	USER_REQUEST_VALUE_NUMBER,
	USER_REQUEST_VALUE_BOOL,
};

struct user_request_member {
	const char *name;
	enum user_request_value_type type;
	/* a string's or number's text; a boolean's "1" or "0" */
	const char *value;
};
ARRAY_DEFINE_TYPE(user_request_member, struct user_request_member);

static int refuse(enum import_remote_error_code code, const char *detail,
		  const char **error_r)
{
	*error_r = t_strdup_printf("%s: %s",
		import_remote_error_get_title_detail(code, detail), detail);
	return 0;
}

/* --- the request's JSON: one object of strings, numbers, booleans --- */

static int
user_request_add_member(ARRAY_TYPE(user_request_member) *members,
			pool_t pool, const char *name,
			enum user_request_value_type type, const char *value,
			const char **error_r)
{
	struct user_request_member *member;

	if (array_count(members) >= USER_REQUEST_MAX_MEMBERS) {
		*error_r = "Too many members";
		return -1;
	}
	array_foreach_modifiable(members, member) {
		if (strcmp(member->name, name) == 0) {
			*error_r = t_strdup_printf("Member '%s' given twice",
				str_sanitize(name, 32));
			return -1;
		}
	}
	member = array_append_space(members);
	member->name = p_strdup(pool, name);
	member->type = type;
	member->value = p_strdup(pool, value);
	return 0;
}

struct user_request_parse_ctx {
	pool_t pool;
	ARRAY_TYPE(user_request_member) *members;
	const char *error;
};

static void
user_request_json_member(const char *name, enum json_object_value_type jtype,
			 const char *value, struct user_request_parse_ctx *ctx)
{
	enum user_request_value_type type;

	if (ctx->error != NULL)
		return;
	switch (jtype) {
	case JSON_OBJECT_VALUE_STRING:
		type = USER_REQUEST_VALUE_STRING;
		break;
	case JSON_OBJECT_VALUE_NUMBER:
		type = USER_REQUEST_VALUE_NUMBER;
		break;
	case JSON_OBJECT_VALUE_BOOLEAN:
		type = USER_REQUEST_VALUE_BOOL;
		value = strcmp(value, "true") == 0 ? "1" : "0";
		break;
	default:
		ctx->error = t_strdup_printf("Member '%s' is not a string, "
			"a whole number or a boolean", str_sanitize(name, 32));
		return;
	}
	(void)user_request_add_member(ctx->members, ctx->pool, name, type,
				      value, &ctx->error);
}

static int
user_request_parse_json(const char *json, pool_t pool,
			ARRAY_TYPE(user_request_member) *members,
			const char **error_r)
{
	struct user_request_parse_ctx ctx = {
		.pool = pool,
		.members = members,
	};
	const char *error;

	/* (not the parser's words: they may quote the request, its
	   password among it) */
	if (json_object_read(json, strlen(json), user_request_json_member,
			     &ctx, &error) < 0) {
		*error_r = "Not a JSON object";
		return -1;
	}
	if (ctx.error != NULL) {
		*error_r = ctx.error;
		return -1;
	}
	return 0;
}

/* The request as the import's settings. Returns 0, or -1 with what is
   wrong. */
/* OAuth2 members: an access token, or a refresh token (a public client:
   the user has no client secret) with its client id and token endpoint
   (token_url, or a provider's preset). Returns 0, or -1. */
static int
user_request_oauth2_member(const struct user_request_member *member,
			   struct import_remote_settings *set,
			   const char **provider, const char **error_r)
{
	const char *error;

	if (strcmp(member->name, "access_token") == 0) {
		set->password = member->value;
		set->auth_mech = IMPORT_REMOTE_AUTH_OAUTH2;
	} else if (strcmp(member->name, "refresh_token") == 0) {
		set->oauth2_refresh_token = member->value;
		set->oauth2_grant = IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN;
		set->auth_mech = IMPORT_REMOTE_AUTH_OAUTH2;
	} else if (strcmp(member->name, "client_id") == 0) {
		set->oauth2_client_id = member->value;
	} else if (strcmp(member->name, "scope") == 0) {
		set->oauth2_scope = member->value;
	} else if (strcmp(member->name, "token_url") == 0) {
		if (oauth2_token_url_check(member->value, &error) < 0) {
			*error_r = t_strdup_printf("token_url: %s", error);
			return -1;
		}
		set->oauth2_token_url = member->value;
	} else if (strcmp(member->name, "provider") == 0) {
		if (strcmp(member->value, "google") != 0 &&
		    strcmp(member->value, "microsoft") != 0) {
			*error_r = "provider: google or microsoft";
			return -1;
		}
		*provider = member->value;
	} else {
		i_unreached();
	}
	return 0;
}

/* provider: what is known of it, where the request says nothing else */
static void
user_request_provider(const char *provider,
		      struct import_remote_settings *set)
{
	bool google = strcmp(provider, "google") == 0;

	if (set->host == NULL)
		set->host = google ? "imap.gmail.com" : "outlook.office365.com";
	if (set->oauth2_token_url == NULL) {
		set->oauth2_token_url = google ?
			"https://oauth2.googleapis.com/token" :
			"https://login.microsoftonline.com/common/oauth2/v2.0/token";
	}
	if (set->oauth2_scope == NULL && !google &&
	    set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN) {
		set->oauth2_scope = "https://outlook.office365.com/"
			"IMAP.AccessAsUser.All offline_access";
	}
}

static int
user_request_settings(const ARRAY_TYPE(user_request_member) *members,
		      pool_t pool, struct import_remote_settings *set,
		      bool *server_grant_r, const char **error_r)
{
	static const char *const known[] = {
		"host", "port", "security", "user", "password", "since",
		"before", "newest_first", "access_token", "refresh_token",
		"client_id", "scope", "token_url", "provider", "oauth2", NULL
	};
	const struct user_request_member *member;
	const char *provider = NULL;
	unsigned int i, port;
	bool have_password = FALSE, have_source = FALSE;

	*server_grant_r = FALSE;
	import_remote_settings_init(pool, set);
	array_foreach(members, member) {
		for (i = 0; known[i] != NULL; i++) {
			if (strcmp(member->name, known[i]) == 0)
				break;
		}
		if (known[i] == NULL) {
			*error_r = t_strdup_printf("Unknown member '%s'",
				str_sanitize(member->name, 32));
			return -1;
		}
		if (strcmp(member->name, "newest_first") == 0) {
			if (member->type != USER_REQUEST_VALUE_BOOL) {
				*error_r = "newest_first: true or false";
				return -1;
			}
			set->newest_first = member->value[0] == '1';
			continue;
		}
		if (strcmp(member->name, "port") == 0) {
			if (str_to_uint(member->value, &port) < 0 ||
			    port == 0 || port > 65535) {
				*error_r = "port: a number from 1 to 65535";
				return -1;
			}
			set->port = port;
			continue;
		}
		if (member->type != USER_REQUEST_VALUE_STRING) {
			*error_r = t_strdup_printf("%s: a string",
						   member->name);
			return -1;
		}
		if (strcmp(member->name, "host") == 0 ||
		    strcmp(member->name, "user") == 0 ||
		    strcmp(member->name, "password") == 0 ||
		    strcmp(member->name, "security") == 0)
			have_source = TRUE;
		if (strcmp(member->name, "password") == 0 ||
		    strcmp(member->name, "access_token") == 0 ||
		    strcmp(member->name, "refresh_token") == 0) {
			if (have_password) {
				*error_r = "Give one of password, "
					"access_token and refresh_token";
				return -1;
			}
			have_password = TRUE;
		}
		if (strcmp(member->name, "oauth2") == 0) {
			/* the server's own provider credentials */
			if (strcmp(member->value, "server") != 0) {
				*error_r = "oauth2: \"server\" (the server's "
					"sign-in with your provider)";
				return -1;
			}
			*server_grant_r = TRUE;
		} else if (strcmp(member->name, "access_token") == 0 ||
			   strcmp(member->name, "refresh_token") == 0 ||
			   strcmp(member->name, "client_id") == 0 ||
			   strcmp(member->name, "scope") == 0 ||
			   strcmp(member->name, "token_url") == 0 ||
			   strcmp(member->name, "provider") == 0) {
			have_source = TRUE;
			if (user_request_oauth2_member(member, set, &provider,
						       error_r) < 0)
				return -1;
		} else if (strcmp(member->name, "host") == 0)
			set->host = member->value;
		else if (strcmp(member->name, "user") == 0)
			set->username = member->value;
		else if (strcmp(member->name, "password") == 0)
			set->password = member->value;
		else if (strcmp(member->name, "security") == 0) {
			if (import_remote_ssl_parse(member->value,
						    &set->ssl) < 0) {
				*error_r = "security: imaps, starttls or none";
				return -1;
			}
		} else if (strcmp(member->name, "since") == 0) {
			if (member->value[0] != '\0' &&
			    import_remote_date_parse(member->value,
						     &set->since) < 0) {
				*error_r = "since: a date as YYYY-MM-DD";
				return -1;
			}
		} else if (strcmp(member->name, "before") == 0) {
			if (member->value[0] != '\0' &&
			    import_remote_date_parse(member->value,
						     &set->before) < 0) {
				*error_r = "before: a date as YYYY-MM-DD";
				return -1;
			}
		}
	}
	if (*server_grant_r) {
		/* the source and its grant are the server's: the request
		   says only when */
		if (have_source || have_password || set->port != 0) {
			*error_r = "oauth2 \"server\" imports the address "
				"your account names: give no source, user, "
				"password or token";
			return -1;
		}
		return 0;
	}
	if (provider != NULL)
		user_request_provider(provider, set);
	if (set->password != NULL && strpbrk(set->password, "\r\n") != NULL) {
		*error_r = "The password has a line break";
		return -1;
	}
	if (set->oauth2_refresh_token != NULL &&
	    strpbrk(set->oauth2_refresh_token, "\r\n") != NULL) {
		*error_r = "The refresh token has a line break";
		return -1;
	}
	if (set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_NONE &&
	    (set->oauth2_client_id != NULL || set->oauth2_token_url != NULL ||
	     set->oauth2_scope != NULL)) {
		*error_r = "client_id, token_url and scope go with a "
			"refresh_token";
		return -1;
	}
	return import_remote_settings_check(set, error_r);
}

/* --- the hourly limit --- */

static const char *user_request_log_path(struct mail_user *user)
{
	const char *home;

	if (mail_user_get_home(user, &home) <= 0)
		return NULL;
	return t_strconcat(home, "/"USER_REQUEST_LOG_NAME, NULL);
}

/* Count this request, unless the user asked limit times in the last hour.
   Returns 1 if counted, 0 if over the limit, -1. */
static int
user_request_count(struct mail_user *user, unsigned int limit,
		   const char **error_r)
{
	const char *path, *temp_path, *const *lines;
	char buf[USER_REQUEST_LOG_MAX_SIZE];
	ARRAY_TYPE(const_string) recent;
	string_t *str;
	unsigned int i, count;
	ssize_t ret;
	time_t t;
	int fd;

	if (limit == 0)
		return 0;
	path = user_request_log_path(user);
	if (path == NULL) {
		*error_r = "The user has no home directory (the request "
			"limit is kept there)";
		return -1;
	}
	t_array_init(&recent, 16);
	fd = open(path, O_RDONLY);
	if (fd == -1 && errno != ENOENT) {
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}
	if (fd != -1) {
		ret = read(fd, buf, sizeof(buf) - 1);
		i_close_fd(&fd);
		if (ret < 0) {
			*error_r = t_strdup_printf("read(%s) failed: %m", path);
			return -1;
		}
		buf[ret] = '\0';
		lines = t_strsplit(buf, "\n");
		for (i = 0; lines[i] != NULL; i++) {
			if (str_to_time(lines[i], &t) == 0 &&
			    t > ioloop_time - USER_REQUEST_WINDOW_SECS &&
			    t <= ioloop_time)
				array_push_back(&recent, &lines[i]);
		}
	}
	count = array_count(&recent);
	if (count >= limit)
		return 0;
	/* those of the last hour (fewer than limit), and this one */
	str = t_str_new(128);
	for (i = 0; i < count; i++)
		str_printfa(str, "%s\n", array_idx_elem(&recent, i));
	str_printfa(str, "%ld\n", (long)ioloop_time);
	temp_path = t_strconcat(path, ".tmp", NULL);
	fd = open(temp_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", temp_path);
		return -1;
	}
	if (write_full(fd, str_data(str), str_len(str)) < 0 ||
	    close(fd) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m", temp_path);
		i_unlink_if_exists(temp_path);
		return -1;
	}
	if (rename(temp_path, path) < 0) {
		*error_r = t_strdup_printf("rename(%s, %s) failed: %m",
					   temp_path, path);
		i_unlink_if_exists(temp_path);
		return -1;
	}
	return 1;
}

/* The text of the request's member name, NULL if it has none */
static const char *
user_request_member_value(const ARRAY_TYPE(user_request_member) *members,
			  const char *name)
{
	const struct user_request_member *member;

	array_foreach(members, member) {
		if (strcmp(member->name, name) == 0)
			return member->value;
	}
	return NULL;
}

/* --- the source's address --- */

/* May imports connect to host (a name is resolved here to answer at once;
   the worker checks the address it connects to again)? what: how the user
   named it. Returns 1 if allowed, 0 if not (error_r for the user), -1. */
static int
user_request_check_host(const struct import_remote_config *config,
			const char *what, const char *host,
			const char **error_r)
{
	struct outbound_guard *guard;
	struct ip_addr *ips, ip;
	unsigned int i, ips_count;
	const char *kind, *error;
	int ret;

	if (outbound_guard_init(config->import_remote_allowed_networks,
				&guard, &error) < 0) {
		*error_r = error;
		return -1;
	}
	outbound_guard_add_own_addresses(guard);
	if (net_addr2ip(host, &ip) == 0) {
		ips = &ip;
		ips_count = 1;
	} else if ((ret = net_gethostbyname(host, &ips, &ips_count)) != 0) {
		outbound_guard_deinit(&guard);
		return refuse(IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
			t_strdup_printf("%s%s: %s", what,
					str_sanitize(host, 64),
					net_gethosterror(ret)), error_r);
	}
	ret = 1;
	for (i = 0; i < ips_count; i++) {
		if (!outbound_guard_allows(guard, &ips[i], &kind)) {
			ret = refuse(IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED,
				t_strdup_printf("%s%s is %s", what,
					str_sanitize(host, 64), kind),
				error_r);
			break;
		}
	}
	outbound_guard_deinit(&guard);
	return ret;
}

/* Is the source one imports may connect to, and the token endpoint the
   user named (token_url, NULL: none, a provider's or the server's own)?
   Returns 1 if allowed, 0 if not (error_r for the user), -1. */
static int
user_request_check_source(const struct import_remote_config *config,
			  const struct import_remote_settings *set,
			  const char *token_url, const char **error_r)
{
	const char *host, *error;
	int ret;

	if (set->ssl == IMPORT_REMOTE_SSL_NONE &&
	    !config->import_remote_allow_plaintext) {
		return refuse(IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED,
			      IMPORT_REMOTE_DETAIL_PLAINTEXT
			      ": use SSL/TLS (port 993) or STARTTLS", error_r);
	}
	if ((ret = user_request_check_host(config, "", set->host,
					   error_r)) <= 0)
		return ret;
	if (token_url == NULL)
		return 1;
	if (oauth2_token_url_host(token_url, &host, &error) < 0)
		return refuse(IMPORT_REMOTE_ERROR_REQUEST_INVALID, error,
			      error_r);
	return user_request_check_host(config, "the token endpoint ", host,
				       error_r);
}

/* --- the requests --- */

/* The user's jobs, newest first; *live_r: the newest not yet ended, or
   NULL */
static int
user_request_jobs(struct job_store *store, pool_t pool,
		  struct mail_user *user, ARRAY_TYPE(job) *jobs,
		  const struct job **live_r, const char **error_r)
{
	const struct job *job;

	p_array_init(jobs, pool, 16);
	if (job_store_list_user(store, pool, user->username, jobs,
				error_r) < 0)
		return -1;
	*live_r = NULL;
	array_foreach(jobs, job) {
		if (!job_status_is_final(job->status)) {
			*live_r = job;
			break;
		}
	}
	return 0;
}

/* {"oauth2":"server"}: the import of the user's old address (their
   import_remote_source_user, else their own name: a domain that moves
   keeps its addresses) with the server's provider
   credentials (import_remote_source_oauth2_*), when the admin allows it
   (import_remote_user_request_oauth2). The user names no source, so
   can't aim the server's grant at someone else's mailbox. Returns 1, 0
   if refused (error_r for the user), -1. */
static int
user_request_server_grant(struct mail_user *user,
			  const struct import_remote_config *config,
			  pool_t pool, struct import_remote_settings *set,
			  const char **error_r)
{
	struct import_remote_settings request = *set;
	struct import_remote_config own;
	const char *error;

	if (!config->import_remote_user_request_oauth2 ||
	    !trigger_due_has_oauth2(config) ||
	    config->import_remote_source_host[0] == '\0') {
		return refuse(IMPORT_REMOTE_ERROR_REQUEST_INVALID,
			"This server does not sign in to your old provider "
			"for you: give your old server and password", error_r);
	}
	own = *config;
	if (own.import_remote_source_user[0] == '\0')
		own.import_remote_source_user = user->username;
	if (trigger_due_import_settings(&own, pool, set, &error) < 0 ||
	    trigger_queue_read_grant(&own, pool, set, &error) < 0) {
		*error_r = t_strdup_printf("Provider sign-in: %s", error);
		return -1;
	}
	set->since = request.since;
	set->before = request.before;
	set->newest_first = request.newest_first;
	return 1;
}

static int
user_request_start(struct mail_user *user,
		   const struct import_remote_config *config,
		   struct job_store *store,
		   const unsigned char key[SECRET_BOX_KEY_LEN],
		   const char *value, pool_t pool, const char **error_r)
{
	ARRAY_TYPE(user_request_member) members;
	struct import_remote_settings set;
	ARRAY_TYPE(job) jobs;
	const struct job *live;
	struct event *event;
	struct job job;
	unsigned long long id;
	const char *error, *secret;
	bool server_grant;
	int ret;

	p_array_init(&members, pool, 8);
	if (user_request_parse_json(value, pool, &members, &error) < 0 ||
	    user_request_settings(&members, pool, &set, &server_grant,
				  &error) < 0)
		return refuse(IMPORT_REMOTE_ERROR_REQUEST_INVALID, error,
			      error_r);
	if (server_grant) {
		ret = user_request_server_grant(user, config, pool, &set,
						 error_r);
		if (ret <= 0)
			return ret;
	}
	if ((ret = user_request_check_source(config, &set,
			user_request_member_value(&members, "token_url"),
			error_r)) <= 0)
		return ret;
	if (user_request_jobs(store, pool, user, &jobs, &live, error_r) < 0)
		return -1;
	if (live != NULL) {
		return refuse(IMPORT_REMOTE_ERROR_IMPORT_BUSY,
			t_strdup_printf("job %llu is %s", live->id,
					job_status_name(live->status)),
			error_r);
	}
	/* as "doveadm import-remote start" queues it */
	i_zero(&job);
	job.username = user->username;
	job.source_host = set.host;
	job.source_port = import_remote_settings_get_port(&set);
	job.source_ssl = import_remote_ssl_name(set.ssl);
	job.source_user = set.username;
	job.options = import_remote_settings_export(&set);
	/* the password, access token or grant's secrets, as start packs
	   them */
	secret = import_remote_settings_export_secret(&set);
	job.source_password = job_secret_encrypt(key, &job, secret);
	if (secret != set.password)
		safe_memset((char *)secret, 0, strlen(secret));
	trigger_queue_wipe_secrets(&set);
	if (job_store_create(store, &job, &id, error_r) < 0)
		return -1;
	event = import_remote_event_create(user->event);
	e_debug(import_remote_event_job_queued(event, "request", id, 0,
			job.username, job.source_host, job.source_port,
			job.source_user)->event(), "Job %llu: queued", id);
	e_info(event, "Job %llu: import of %s@%s queued at the user's request",
	       id, str_sanitize(job.source_user, 64),
	       str_sanitize(job.source_host, 64));
	event_unref(&event);
	return 1;
}

/* The job value names: an id of the user's, or "" / "last" for want */
static int
user_request_find_job(struct mail_user *user, struct job_store *store,
		      pool_t pool, const char *value, bool live_only,
		      const struct job **job_r, const char **error_r)
{
	ARRAY_TYPE(job) jobs;
	const struct job *job, *live;
	unsigned long long id = 0;

	if (value[0] != '\0' && strcmp(value, "last") != 0 &&
	    str_to_ullong(value, &id) < 0) {
		return refuse(IMPORT_REMOTE_ERROR_REQUEST_INVALID,
			      "Name the job by its number, or 'last'",
			      error_r);
	}
	if (user_request_jobs(store, pool, user, &jobs, &live, error_r) < 0)
		return -1;
	*job_r = NULL;
	if (id == 0) {
		if (live_only)
			*job_r = live;
		else if (array_count(&jobs) > 0)
			*job_r = array_front(&jobs);
	} else {
		/* only the user's own jobs are listed */
		array_foreach(&jobs, job) {
			if (job->id == id)
				*job_r = job;
		}
	}
	if (*job_r == NULL) {
		return refuse(IMPORT_REMOTE_ERROR_REQUEST_INVALID,
			      id != 0 ? "You have no such import" :
			      live_only ? "No import is queued or running" :
			      "You have no import yet", error_r);
	}
	return 1;
}

static int
user_request_cancel(struct mail_user *user, struct job_store *store,
		    const char *value, pool_t pool, const char **error_r)
{
	const struct job *job;
	struct event *event;
	int ret;

	ret = user_request_find_job(user, store, pool, value, TRUE, &job,
				    error_r);
	if (ret <= 0)
		return ret;
	if (job_status_is_final(job->status)) {
		return refuse(IMPORT_REMOTE_ERROR_REQUEST_INVALID,
			t_strdup_printf("Job %llu has ended (%s)", job->id,
					job_status_name(job->status)),
			error_r);
	}
	if (job_store_cancel(store, job->id, error_r) < 0)
		return -1;
	event = import_remote_event_create(user->event);
	e_info(event, "Job %llu: cancelled at the user's request", job->id);
	event_unref(&event);
	return 1;
}

static int
user_request_retry(struct mail_user *user, struct job_store *store,
		   const char *value, pool_t pool, const char **error_r)
{
	ARRAY_TYPE(job) jobs;
	const struct job *job, *live;
	struct event *event;
	unsigned long long new_id;
	int ret;

	ret = user_request_find_job(user, store, pool, value, FALSE, &job,
				    error_r);
	if (ret <= 0)
		return ret;
	if (user_request_jobs(store, pool, user, &jobs, &live, error_r) < 0)
		return -1;
	if (live != NULL) {
		return refuse(IMPORT_REMOTE_ERROR_IMPORT_BUSY,
			t_strdup_printf("job %llu is %s", live->id,
					job_status_name(live->status)),
			error_r);
	}
	if (job->status != JOB_STATUS_FAILED || job->superseded_by != 0) {
		/* a completed or cancelled job's password is erased */
		return refuse(IMPORT_REMOTE_ERROR_REQUEST_INVALID,
			t_strdup_printf("Job %llu is %s%s: only the newest "
				"failed import can be retried; send a new "
				"request with the password", job->id,
				job_status_name(job->status),
				job->superseded_by != 0 ?
				" and was retried already" : ""), error_r);
	}
	ret = job_store_retry(store, job->id, &new_id, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		return refuse(IMPORT_REMOTE_ERROR_REQUEST_INVALID,
			      "You have no such import", error_r);
	}
	event = import_remote_event_create(user->event);
	e_info(event, "Job %llu: retried as job %llu at the user's request",
	       job->id, new_id);
	event_unref(&event);
	return 1;
}

static int
user_request_store_open(struct mail_user *user,
			const struct import_remote_config **config_r,
			struct job_store **store_r,
			unsigned char key_r[SECRET_BOX_KEY_LEN],
			const char **error_r)
{
	if (import_remote_config_get_user(user, config_r, error_r) < 0)
		return -1;
	if (job_store_open_config(*config_r, user->event, 0, store_r, key_r,
				  error_r) < 0) {
		import_remote_config_free(config_r);
		return -1;
	}
	return 0;
}

int user_request(struct mail_user *user, enum user_request_action action,
		 char *value, const char **error_r)
{
	const struct import_remote_config *config;
	unsigned char key[SECRET_BOX_KEY_LEN];
	struct job_store *store;
	unsigned int limit;
	pool_t pool;
	int ret;

	if (import_remote_config_get_user(user, &config, error_r) < 0) {
		safe_memset(value, 0, strlen(value));
		return -1;
	}
	if (!config->import_remote_user_requests) {
		import_remote_config_free(&config);
		safe_memset(value, 0, strlen(value));
		return refuse(IMPORT_REMOTE_ERROR_REQUEST_INVALID,
			      "Imports are not requested this way here "
			      "(import_remote_user_requests)", error_r);
	}
	limit = config->import_remote_user_request_limit;
	import_remote_config_free(&config);
	ret = user_request_count(user, limit, error_r);
	if (ret == 0) {
		ret = refuse(IMPORT_REMOTE_ERROR_REQUEST_LIMIT,
			t_strdup_printf("at most %u an hour", limit), error_r);
	}
	if (ret <= 0) {
		safe_memset(value, 0, strlen(value));
		return ret;
	}
	if (user_request_store_open(user, &config, &store, key,
				    error_r) < 0) {
		safe_memset(value, 0, strlen(value));
		return -1;
	}
	pool = pool_alloconly_create("import-remote user request", 2048);
	switch (action) {
	case USER_REQUEST_START:
		ret = user_request_start(user, config, store, key, value,
					 pool, error_r);
		break;
	case USER_REQUEST_CANCEL:
		ret = user_request_cancel(user, store, value, pool, error_r);
		break;
	case USER_REQUEST_RETRY:
		ret = user_request_retry(user, store, value, pool, error_r);
		break;
	default:
		i_unreached();
	}
	safe_memset(key, 0, sizeof(key));
	safe_memset(value, 0, strlen(value));
	/* the request's strings: the password among them */
	pool_unref(&pool);
	job_store_close(&store);
	import_remote_config_free(&config);
	return ret;
}

/* --- the history --- */

static void json_member_str(string_t *json, const char *name,
			    const char *value)
{
	str_printfa(json, "\"%s\":\"", name);
	import_remote_compat_json_append_escaped(json, value == NULL ? "" :
						 value);
	str_append(json, "\",");
}

static void user_request_job_json(string_t *json, const struct job *job)
{
	const struct import_remote_error_info *info;
	enum import_remote_error_code code;
	struct import_progress progress;
	int eta;

	job_runner_get_progress(job, ioloop_time, &progress);
	eta = job_status_is_final(job->status) ? -1 :
		import_progress_get_eta_secs(&progress);
	str_append_c(json, '{');
	str_printfa(json, "\"job\":%llu,", job->id);
	json_member_str(json, "status", job_status_name(job->status));
	json_member_str(json, "host", job->source_host);
	str_printfa(json, "\"port\":%u,", job->source_port);
	json_member_str(json, "security", job->source_ssl);
	json_member_str(json, "user", job->source_user);
	str_printfa(json, "\"created\":%ld,\"started\":%ld,\"finished\":%ld,"
		    "\"updated\":%ld,", (long)job->created, (long)job->started,
		    (long)job->finished, (long)job->updated);
	str_printfa(json, "\"folders_done\":%u,\"folders_total\":%u,"
		    "\"messages_done\":%u,\"messages_total\":%u,"
		    "\"bytes_done\":%llu,\"bytes_total\":%llu,"
		    "\"imported\":%u,\"skipped\":%u,\"filtered\":%u,"
		    "\"failed\":%u,\"rate\":%llu,\"eta\":%d,",
		    job->folders_done, job->folders_total, job->msgs_done,
		    job->msgs_total, job->bytes_done, job->bytes_total,
		    job->imported, job->skipped, job->filtered, job->failed,
		    (unsigned long long)import_progress_get_rate(&progress),
		    eta);
	/* the folder a live job copies now: the source server's name (the
	   store's copy is sanitized already; a row written otherwise is
	   bounded here too), escaped for JSON; a webmail shows it as text */
	json_member_str(json, "folder", progress.folder == NULL ? "" :
			str_sanitize(progress.folder, JOB_FOLDER_MAX_BYTES));
	str_printfa(json, "\"retried_as\":%llu,", job->superseded_by);
	code = import_remote_error_from_name(job->error_code == NULL ? "" :
					     job->error_code);
	if (code != IMPORT_REMOTE_ERROR_COUNT &&
	    code != IMPORT_REMOTE_ERROR_NONE) {
		info = import_remote_error_get_info(code);
		json_member_str(json, "error", info->name);
		json_member_str(json, "error_title",
			import_remote_error_get_title_detail(code,
				job->error_detail));
		json_member_str(json, "error_hint",
			import_remote_error_get_hint_detail(code,
				job->error_detail, job->source_host));
	} else {
		json_member_str(json, "error", "");
	}
	str_truncate(json, str_len(json) - 1);
	str_append_c(json, '}');
}

int user_request_history(struct mail_user *user, const char **json_r,
			 const char **error_r)
{
	const struct import_remote_config *config;
	struct job_store *store;
	ARRAY_TYPE(job) jobs;
	const struct job *job;
	unsigned int count = 0;
	string_t *json;
	pool_t pool;
	int ret;

	if (import_remote_config_get_user(user, &config, error_r) < 0)
		return -1;
	ret = job_store_open_config(config, user->event, 0, &store, NULL,
				    error_r);
	import_remote_config_free(&config);
	if (ret < 0)
		return -1;
	pool = pool_alloconly_create("import-remote history", 4096);
	p_array_init(&jobs, pool, 16);
	ret = job_store_list_user(store, pool, user->username, &jobs,
				  error_r);
	job_store_close(&store);
	if (ret < 0) {
		pool_unref(&pool);
		return -1;
	}
	json = t_str_new(1024);
	str_append_c(json, '[');
	array_foreach(&jobs, job) {
		if (count++ == USER_REQUEST_HISTORY_JOBS)
			break;
		if (count > 1)
			str_append_c(json, ',');
		user_request_job_json(json, job);
	}
	str_append_c(json, ']');
	pool_unref(&pool);
	*json_r = str_c(json);
	return 0;
}
