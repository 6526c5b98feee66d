/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "strescape.h"
#include "istream.h"
#include "mkdir-parents.h"
#include "write-full.h"
#include "mail-user.h"
#include "import-remote-settings.h"
#include "import-checkpoint.h"

#include <ctype.h>
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>

#define IMPORT_CHECKPOINT_VERSION "1"

struct import_checkpoint_folder {
	const char *remote_name;
	uint32_t uidvalidity, last_uid;
};

struct import_checkpoint {
	pool_t pool;
	const char *path;
	/* what the numbers mean depends on these settings */
	const char *signature;
	ARRAY(struct import_checkpoint_folder) folders;
};

static const char *
import_checkpoint_signature(const struct import_remote_settings *set)
{
	/* (--mirror only when given: older checkpoints stay valid) */
	return t_strdup_printf("since=%ld\tbefore=%ld\tdedup=%d\tparent=%s%s",
			       (long)set->since, (long)set->before,
			       (int)set->dedup,
			       set->dest_parent == NULL ? "" :
			       str_tabescape(set->dest_parent),
			       set->mirror ? "\tmirror=1" : "");
}

static const char *import_checkpoint_file_name(const char *host,
					       in_port_t port,
					       const char *username)
{
	string_t *str = t_str_new(128);
	const char *p;

	/* host and user are checked input, but keep the name to a safe
	   alphabet anyway */
	for (p = t_strdup_printf("%s_%u_%s", host, port, username); *p != '\0'; p++) {
		if (i_isalnum(*p) || *p == '.' || *p == '-' || *p == '_' ||
		    *p == '@')
			str_append_c(str, *p);
		else
			str_printfa(str, "%%%02x", (unsigned char)*p);
	}
	if (str_c(str)[0] == '.')
		str_insert(str, 0, "_");
	str_append(str, ".checkpoint");
	return str_c(str);
}

static void import_checkpoint_load(struct import_checkpoint *cp)
{
	struct import_checkpoint_folder *folder;
	struct istream *input;
	const char *line, *const *args;
	bool header_ok = FALSE;
	int fd;

	fd = open(cp->path, O_RDONLY);
	if (fd == -1)
		return;
	input = i_stream_create_fd_autoclose(&fd, 4096);
	if ((line = i_stream_read_next_line(input)) != NULL &&
	    strcmp(line, IMPORT_CHECKPOINT_VERSION) == 0 &&
	    (line = i_stream_read_next_line(input)) != NULL &&
	    strcmp(line, cp->signature) == 0)
		header_ok = TRUE;
	while (header_ok && (line = i_stream_read_next_line(input)) != NULL) {
		args = t_strsplit_tabescaped(line);
		if (str_array_length(args) != 3)
			continue;
		folder = array_append_space(&cp->folders);
		if (str_to_uint32(args[0], &folder->uidvalidity) < 0 ||
		    str_to_uint32(args[1], &folder->last_uid) < 0) {
			array_pop_back(&cp->folders);
			continue;
		}
		folder->remote_name = p_strdup(cp->pool, args[2]);
	}
	i_stream_unref(&input);
}

int import_checkpoint_open(struct mail_user *user,
			   const struct import_remote_settings *set,
			   struct import_checkpoint **cp_r, const char **error_r)
{
	const char *home, *dir;
	int ret;

	ret = mail_user_get_home(user, &home);
	if (ret < 0) {
		*error_r = "Cannot find the user's home directory";
		return -1;
	}
	if (ret == 0 || home == NULL || home[0] == '\0')
		return 0;
	dir = t_strconcat(home, "/"IMPORT_REMOTE_HOME_DIR, NULL);
	if (mkdir_parents(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = t_strdup_printf("mkdir(%s) failed: %m", dir);
		return -1;
	}

	*cp_r = import_checkpoint_init_path(t_strdup_printf("%s/%s", dir,
		import_checkpoint_file_name(set->host,
			import_remote_settings_get_port(set), set->username)),
		set);
	return 1;
}

struct import_checkpoint *
import_checkpoint_init_path(const char *path,
			    const struct import_remote_settings *set)
{
	struct import_checkpoint *cp;
	pool_t pool;

	pool = pool_alloconly_create("import checkpoint", 1024);
	cp = p_new(pool, struct import_checkpoint, 1);
	cp->pool = pool;
	cp->path = p_strdup(pool, path);
	cp->signature = p_strdup(pool, import_checkpoint_signature(set));
	p_array_init(&cp->folders, pool, 16);
	import_checkpoint_load(cp);
	return cp;
}

void import_checkpoint_deinit(struct import_checkpoint **_cp)
{
	struct import_checkpoint *cp = *_cp;

	*_cp = NULL;
	pool_unref(&cp->pool);
}

static struct import_checkpoint_folder *
import_checkpoint_find(struct import_checkpoint *cp, const char *remote_name)
{
	struct import_checkpoint_folder *folder;

	array_foreach_modifiable(&cp->folders, folder) {
		if (strcmp(folder->remote_name, remote_name) == 0)
			return folder;
	}
	return NULL;
}

bool import_checkpoint_get(struct import_checkpoint *cp,
			   const char *remote_name, uint32_t uidvalidity,
			   uint32_t *last_uid_r)
{
	struct import_checkpoint_folder *folder;

	folder = import_checkpoint_find(cp, remote_name);
	if (folder == NULL || folder->uidvalidity != uidvalidity)
		return FALSE;
	*last_uid_r = folder->last_uid;
	return TRUE;
}

static int import_checkpoint_write(struct import_checkpoint *cp,
				   const char **error_r)
{
	const struct import_checkpoint_folder *folder;
	const char *temp_path;
	string_t *str;
	int fd;

	str = t_str_new(1024);
	str_append(str, IMPORT_CHECKPOINT_VERSION"\n");
	str_append(str, cp->signature);
	str_append_c(str, '\n');
	array_foreach(&cp->folders, folder) {
		str_printfa(str, "%u\t%u\t", folder->uidvalidity,
			    folder->last_uid);
		str_append_tabescaped(str, folder->remote_name);
		str_append_c(str, '\n');
	}

	temp_path = t_strconcat(cp->path, ".tmp", NULL);
	fd = open(temp_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", temp_path);
		return -1;
	}
	if (write_full(fd, str_data(str), str_len(str)) < 0 ||
	    fdatasync(fd) < 0) {
		*error_r = t_strdup_printf("write(%s) failed: %m", temp_path);
		i_close_fd(&fd);
		i_unlink(temp_path);
		return -1;
	}
	i_close_fd(&fd);
	if (rename(temp_path, cp->path) < 0) {
		*error_r = t_strdup_printf("rename(%s, %s) failed: %m",
					   temp_path, cp->path);
		i_unlink(temp_path);
		return -1;
	}
	return 0;
}

int import_checkpoint_set(struct import_checkpoint *cp,
			  const char *remote_name, uint32_t uidvalidity,
			  uint32_t last_uid, const char **error_r)
{
	struct import_checkpoint_folder *folder;

	folder = import_checkpoint_find(cp, remote_name);
	if (folder == NULL) {
		folder = array_append_space(&cp->folders);
		folder->remote_name = p_strdup(cp->pool, remote_name);
	}
	folder->uidvalidity = uidvalidity;
	folder->last_uid = last_uid;
	return import_checkpoint_write(cp, error_r);
}
