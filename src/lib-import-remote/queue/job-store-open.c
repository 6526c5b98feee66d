/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "ipwd.h"
#include "import-remote-config.h"
#include "job-store.h"
#include "job-secret.h"
#include "import-remote-event.h"
#include "job-store-open.h"
#include "job-caps.h"

#include <unistd.h>
#include <fcntl.h>
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
		e_error(import_remote_event(),
			"seteuid(%s owner) failed: %m", dir);
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

/* "uid 5000 (vmail)" */
static const char *job_store_euid_name(const char **user_r)
{
	struct passwd pw;
	uid_t uid = geteuid();

	if (i_getpwuid(uid, &pw) > 0) {
		*user_r = t_strdup(pw.pw_name);
		return t_strdup_printf("uid %s (%s)", dec2str(uid), pw.pw_name);
	}
	*user_r = dec2str(uid);
	return t_strdup_printf("uid %s", dec2str(uid));
}

/* Can this process create (or read and write) the file at path, and the
   files SQLite keeps beside it? If not, one error that names the path, the
   uid and the fix. Returns 0 if it can (or if it can't tell). */
int job_store_check_access(const char *what, const char *path,
			   const char *setting, const char **error_r)
{
	const char *slash = strrchr(path, '/'), *dir, *problem, *who, *user;
	const char *fix, *name;
	bool file_problem = FALSE;
	struct stat st;

	if (slash == NULL)
		return 0;
	dir = slash == path ? "/" : t_strdup_until(path, slash);
	name = slash + 1;
	if (stat(dir, &st) < 0) {
		if (errno != ENOENT)
			return 0;
		problem = t_strdup_printf("its directory %s does not exist",
					  dir);
	} else if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0) {
		if (errno != EACCES && errno != EPERM)
			return 0;
		problem = t_strdup_printf("its directory %s (owner uid %s, "
			"mode %04o) is not writable by that user", dir,
			dec2str(st.st_uid), (unsigned int)(st.st_mode & 07777));
	} else if (faccessat(AT_FDCWD, path, R_OK | W_OK, AT_EACCESS) < 0 &&
		   errno != ENOENT) {
		if (errno != EACCES && errno != EPERM)
			return 0;
		if (stat(path, &st) < 0)
			return 0;
		problem = t_strdup_printf("the file (owner uid %s, mode %04o) "
			"is not readable and writable by that user",
			dec2str(st.st_uid), (unsigned int)(st.st_mode & 07777));
		file_problem = TRUE;
	} else {
		return 0;
	}
	who = job_store_euid_name(&user);
	slash = strrchr(dir, '/');
	if (file_problem) {
		/* the directory is right, the file was made by another user
		   (e.g. root, before the directory was given away) */
		fix = t_strdup_printf("chown %s: %s", user, path);
	} else if (slash != NULL && strcmp(slash + 1, "import-remote") == 0) {
		/* a directory of its own, e.g. the default's */
		fix = t_strdup_printf("install -d -o %s -m 0750 %s", user, dir);
	} else {
		fix = t_strdup_printf("install -d -o %s -m 0750 "
			"%s/import-remote and set %s to %s/import-remote/%s",
			user, dir, setting, dir, name);
	}
	*error_r = t_strdup_printf("The %s %s cannot be %s by %s: %s. "
		"Fix: %s (the user the workers and doveadm's commands run "
		"as must own it)", what, path,
		stat(path, &st) < 0 ? "created" : "opened", who, problem, fix);
	return -1;
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
	if (strcmp(driver, "sqlite") == 0 &&
	    job_store_check_access("job store", connect, "import_remote_store",
				   error_r) < 0)
		ret = -1;
	else
		ret = job_store_open(driver, connect, event, store_r, error_r);
	job_store_become_root_again(changed);
	if (ret == 0) {
		struct job_caps caps;

		/* the caps on connections to a source host its claims
		   apply, and its listings show jobs waiting for */
		job_caps_from_config(set, &caps);
		job_store_set_caps(*store_r, &caps);
	}
	if (ret < 0 || key_r == NULL)
		return ret;

	changed = as_owner &&
		job_store_become_dir_owner(set->import_remote_key_file);
	/* an existing key is only read */
	if (faccessat(AT_FDCWD, set->import_remote_key_file, R_OK,
		      AT_EACCESS) < 0 &&
	    job_store_check_access("key file", set->import_remote_key_file,
				   "import_remote_key_file", error_r) < 0)
		ret = -1;
	else {
		ret = secret_box_key_load(set->import_remote_key_file, TRUE,
					  key_r, error_r);
	}
	job_store_become_root_again(changed);
	/* passwords stored before they were bound to their jobs (v1) are
	   not bound now: nothing says which job they were stored for. Their
	   jobs fail with password_unusable (job-secret.h). */
	if (ret == 0)
		job_store_set_key(*store_r, key_r);
	if (ret < 0)
		job_store_close(store_r);
	return ret;
}
