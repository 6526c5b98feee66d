/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "import-remote-config.h"
#include "job-store.h"
#include "job-secret.h"
#include "job-store-open.h"

#include <unistd.h>
#include <sys/stat.h>

int job_store_open_parse(const char *uri, const char **driver_r,
			 const char **connect_r, const char **error_r)
{
	const char *p = strchr(uri, ':');

	if (p == NULL || p == uri || p[1] == '\0') {
		*error_r = t_strdup_printf("Invalid import_remote_store '%s': "
			"use sqlite:<path> or pgsql:<connect string>", uri);
		return -1;
	}
	*driver_r = t_strdup_until(uri, p);
	*connect_r = p + 1;
	return 0;
}

/* Take on the owner of the directory path lives in, while opening.
   Returns TRUE if the effective ids changed. */
static bool job_store_become_dir_owner(const char *path)
{
	const char *slash = strrchr(path, '/'), *dir;
	struct stat st;

	if (geteuid() != 0 || slash == NULL)
		return FALSE;
	dir = slash == path ? "/" : t_strdup_until(path, slash);
	if (stat(dir, &st) < 0 || st.st_uid == 0)
		return FALSE;
	if (setegid(st.st_gid) < 0 || seteuid(st.st_uid) < 0) {
		i_error("import-remote: seteuid(%s owner) failed: %m", dir);
		if (setegid(0) < 0)
			i_fatal("import-remote: setegid(0) failed: %m");
		return FALSE;
	}
	return TRUE;
}

static void job_store_become_root_again(bool changed)
{
	if (!changed)
		return;
	if (seteuid(0) < 0 || setegid(0) < 0)
		i_fatal("import-remote: Returning to root failed: %m");
}

int job_store_open_config(const struct import_remote_config *set,
			  struct event *event, enum job_store_open_flags flags,
			  struct job_store **store_r,
			  unsigned char key_r[SECRET_BOX_KEY_LEN],
			  const char **error_r)
{
	bool as_owner = (flags & JOB_STORE_OPEN_FLAG_AS_DIR_OWNER) != 0;
	const char *driver, *connect;
	bool changed;
	int ret;

	if (job_store_open_parse(set->import_remote_store, &driver, &connect,
				 error_r) < 0)
		return -1;
	changed = as_owner && strcmp(driver, "sqlite") == 0 &&
		job_store_become_dir_owner(connect);
	ret = job_store_open(driver, connect, event, store_r, error_r);
	job_store_become_root_again(changed);
	if (ret < 0 || key_r == NULL)
		return ret;

	changed = as_owner &&
		job_store_become_dir_owner(set->import_remote_key_file);
	ret = secret_box_key_load(set->import_remote_key_file, TRUE, key_r,
				  error_r);
	job_store_become_root_again(changed);
	/* passwords stored before they were bound to their jobs are bound
	   now, by the first one with the key */
	if (ret == 0 && job_secret_upgrade(*store_r, key_r, error_r) < 0)
		ret = -1;
	if (ret == 0)
		job_store_set_key(*store_r, key_r);
	if (ret < 0)
		job_store_close(store_r);
	return ret;
}
