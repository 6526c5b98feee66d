/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "str.h"
#include "hex-binary.h"
#include "sha2.h"
#include "strescape.h"
#include "str-sanitize.h"
#include "safe-mkstemp.h"
#include "write-full.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "import-remote-error.h"
#include "trigger-state.h"

#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>

/* a state file is a few lines: anything bigger is not one */
#define TRIGGER_STATE_MAX_SIZE 4096
/* the current folder's name, bytes ("..." included), as the job store keeps
   it (JOB_FOLDER_MAX_BYTES) */
#define TRIGGER_STATE_FOLDER_MAX_BYTES 200

static const char *const trigger_state_names[] = {
	[TRIGGER_STATE_NONE] = "none",
	[TRIGGER_STATE_QUEUED] = "queued",
	[TRIGGER_STATE_RUNNING] = "running",
	[TRIGGER_STATE_COMPLETED] = "completed",
	[TRIGGER_STATE_FAILED] = "failed",
};

const char *trigger_state_name(enum trigger_state_kind state)
{
	i_assert(state < N_ELEMENTS(trigger_state_names));
	return trigger_state_names[state];
}

const char *trigger_state_path(struct mail_user *user)
{
	const char *home;

	if (mail_user_get_home(user, &home) <= 0)
		return NULL;
	return t_strconcat(home, "/"TRIGGER_STATE_FILE_NAME, NULL);
}

const char *trigger_source_key(const char *host, unsigned int port,
			       const char *ssl, const char *user)
{
	unsigned char digest[SHA256_RESULTLEN];
	struct sha256_ctx ctx;
	const char *id;

	/* each part with its length: none can pass for another's */
	id = t_strdup_printf("%zu:%s;%u;%zu:%s;%zu:%s", strlen(host), host,
			     port, strlen(ssl), ssl, strlen(user), user);
	sha256_init(&ctx);
	sha256_loop(&ctx, id, strlen(id));
	sha256_result(&ctx, digest);
	return binary_to_hex(digest, 16);
}

static bool trigger_state_parse(const char *name, enum trigger_state_kind *state_r)
{
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(trigger_state_names); i++) {
		if (strcmp(trigger_state_names[i], name) == 0) {
			*state_r = i;
			return TRUE;
		}
	}
	return FALSE;
}

/* "key=value" lines; FALSE if one is not understood */
static bool
trigger_state_parse_line(const char *line, pool_t pool,
			 struct trigger_state *state)
{
	const char *value = strchr(line, '='), *key;
	unsigned long long num;

	if (value == NULL)
		return FALSE;
	key = t_strdup_until(line, value++);
	value = t_str_tabunescape(value);
	if (strcmp(key, "source") == 0)
		state->source_key = p_strdup(pool, value);
	else if (strcmp(key, "state") == 0)
		return trigger_state_parse(value, &state->state);
	else if (strcmp(key, "error") == 0)
		state->error_code = p_strdup(pool, value);
	else if (strcmp(key, "error_title") == 0)
		state->error_title = p_strdup(pool, value);
	else if (strcmp(key, "folder") == 0)
		state->folder = p_strdup(pool, value);
	else if (str_to_ullong(value, &num) < 0)
		return FALSE;
	else if (strcmp(key, "job") == 0)
		state->job_id = num;
	else if (num > (unsigned long long)LONG_MAX)
		/* no time (written as a long) */
		return FALSE;
	else if (strcmp(key, "updated") == 0)
		state->updated = num;
	else if (strcmp(key, "next_due") == 0)
		state->next_due = num;
	else if (num > UINT_MAX)
		return FALSE;
	else if (strcmp(key, "messages_done") == 0)
		state->msgs_done = num;
	else if (strcmp(key, "messages_total") == 0)
		state->msgs_total = num;
	else if (strcmp(key, "imported") == 0)
		state->imported = num;
	else if (strcmp(key, "folders") == 0)
		state->folders = num;
	/* unknown keys (a later version's) are skipped */
	return TRUE;
}

/* A failure's title: the one given, else the catalogue's for its code
   (the plugin rewrites the state at a login knowing only the code) */
static const char *trigger_state_error_title(const struct trigger_state *state)
{
	enum import_remote_error_code code;

	if (state->error_code == NULL || state->error_code[0] == '\0')
		return "";
	if (state->error_title != NULL && state->error_title[0] != '\0')
		return state->error_title;
	code = import_remote_error_from_name(state->error_code);
	return code == IMPORT_REMOTE_ERROR_COUNT ? "" :
		import_remote_error_get_info(code)->title;
}

int trigger_state_read(const char *path, pool_t pool,
		       struct trigger_state *state_r, const char **error_r)
{
	char buf[TRIGGER_STATE_MAX_SIZE + 1];
	const char *const *lines;
	ssize_t ret;
	int fd;

	i_zero(state_r);
	state_r->error_code = state_r->error_title = state_r->folder = "";
	fd = open(path, O_RDONLY);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_strdup_printf("open(%s) failed: %m", path);
		return -1;
	}
	ret = read(fd, buf, sizeof(buf));
	i_close_fd(&fd);
	if (ret < 0) {
		*error_r = t_strdup_printf("read(%s) failed: %m", path);
		return -1;
	}
	if (ret == 0 || ret > TRIGGER_STATE_MAX_SIZE ||
	    memchr(buf, '\0', ret) != NULL)
		return 0;
	buf[ret] = '\0';
	for (lines = t_strsplit(buf, "\n"); *lines != NULL; lines++) {
		if (**lines != '\0' &&
		    !trigger_state_parse_line(*lines, pool, state_r)) {
			i_zero(state_r);
			return 0;
		}
	}
	if (state_r->source_key == NULL || state_r->state == TRIGGER_STATE_NONE) {
		i_zero(state_r);
		return 0;
	}
	return 1;
}

static int
trigger_state_write_file(const char *path, const struct trigger_state *state,
			 bool *no_dir_r, const char **error_r)
{
	string_t *str, *temp_path;
	int fd, ret = 0;

	str = t_str_new(256);
	/* (escaped as the reader unescapes it: a key read from a file may
	   hold anything) */
	str_printfa(str, "source=%s\nstate=%s\njob=%llu\nupdated=%ld\n"
		    "next_due=%ld\nmessages_done=%u\nmessages_total=%u\n"
		    "imported=%u\nfolders=%u\n", str_tabescape(state->source_key),
		    trigger_state_name(state->state), state->job_id,
		    (long)state->updated, (long)state->next_due,
		    state->msgs_done, state->msgs_total, state->imported,
		    state->folders);
	if (state->error_code != NULL && state->error_code[0] != '\0') {
		str_printfa(str, "error=%s\nerror_title=%s\n",
			    str_tabescape(state->error_code),
			    str_tabescape(trigger_state_error_title(state)));
	}
	if (state->folder != NULL && state->folder[0] != '\0') {
		str_printfa(str, "folder=%s\n", str_tabescape(
			str_sanitize(state->folder, TRIGGER_STATE_FOLDER_MAX_BYTES)));
	}
	temp_path = t_str_new(256);
	str_append(temp_path, path);
	str_append_c(temp_path, '.');
	*no_dir_r = FALSE;
	fd = safe_mkstemp_hostpid(temp_path, 0600, (uid_t)-1, (gid_t)-1);
	if (fd == -1) {
		*no_dir_r = errno == ENOENT;
		*error_r = t_strdup_printf("safe_mkstemp(%s) failed: %m",
					   str_c(temp_path));
		return -1;
	}
	if (write_full(fd, str_data(str), str_len(str)) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m",
					   str_c(temp_path));
		ret = -1;
	}
	i_close_fd(&fd);
	if (ret == 0 && rename(str_c(temp_path), path) < 0) {
		*error_r = t_strdup_printf("rename(%s, %s) failed: %m",
					   str_c(temp_path), path);
		ret = -1;
	}
	if (ret < 0)
		i_unlink_if_exists(str_c(temp_path));
	return ret;
}

int trigger_state_write(const char *path, const struct trigger_state *state,
			const char **error_r)
{
	bool no_dir;

	return trigger_state_write_file(path, state, &no_dir, error_r);
}

int trigger_state_write_user(struct mail_user *user, const char *path,
			     const struct trigger_state *state,
			     const char **error_r)
{
	bool no_dir;

	if (trigger_state_write_file(path, state, &no_dir, error_r) == 0)
		return 0;
	if (!no_dir)
		return -1;
	/* a new user's home does not exist yet (Dovecot makes it when
	   something is first written there): make it the way Dovecot does,
	   with the permissions of the user's mail root, and try again */
	if (mail_user_home_mkdir(user) < 0) {
		*error_r = t_strdup_printf("%s (creating the home failed)",
					   *error_r);
		return -1;
	}
	return trigger_state_write_file(path, state, &no_dir, error_r);
}

static void trigger_json_str(string_t *json, const char *key,
			     const char *value)
{
	str_printfa(json, "\"%s\":\"", key);
	import_remote_compat_json_append_escaped(json, value);
	str_append(json, "\",");
}

const char *trigger_state_json(const struct trigger_state *state)
{
	string_t *json = t_str_new(256);

	str_append_c(json, '{');
	trigger_json_str(json, "state", trigger_state_name(state->state));
	str_printfa(json, "\"job\":%llu,\"updated\":%ld,\"messages_done\":%u,"
		    "\"messages_total\":%u,\"imported\":%u,\"folders\":%u,",
		    state->job_id, (long)state->updated, state->msgs_done,
		    state->msgs_total, state->imported, state->folders);
	if (state->next_due != 0)
		str_printfa(json, "\"next_due\":%ld,", (long)state->next_due);
	trigger_json_str(json, "error", state->error_code == NULL ? "" :
			 state->error_code);
	trigger_json_str(json, "error_title", trigger_state_error_title(state));
	/* the source's name: bounded, escaped (a webmail shows it as text) */
	trigger_json_str(json, "folder", state->folder == NULL ? "" :
			 str_sanitize(state->folder, TRIGGER_STATE_FOLDER_MAX_BYTES));
	str_truncate(json, str_len(json) - 1);
	str_append_c(json, '}');
	return str_c(json);
}
