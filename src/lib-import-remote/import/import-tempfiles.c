/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "hostpid.h"
#include "mkdir-parents.h"
#include "mail-namespace.h"
#include "mail-user.h"
#include "mailbox-list-iter.h"
#include "mail-storage-private.h"
#include "mail-index.h"
#include "import-remote-event.h"
#include "import-checkpoint.h"
#include "import-tempfiles.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#define IMPORT_TEMPFILES_DIR IMPORT_REMOTE_HOME_DIR"/running"

struct import_tempfiles {
	char *mark_path;
};

/* A killed process of this host whose temporary files are to go */
struct import_tempfiles_dead {
	const char *pid;
	const char *mark_path;
};

static bool import_tempfiles_ends_with(const char *str, const char *suffix)
{
	size_t len = strlen(str), slen = strlen(suffix);

	return len >= slen && strcmp(str + len - slen, suffix) == 0;
}

bool import_tempfiles_name_matches(const char *fname, const char *pid,
				   const char *host)
{
	const char *p;
	size_t pid_len = strlen(pid);

	if (!import_tempfiles_ends_with(fname, t_strconcat(".", host, NULL)))
		return FALSE;
	if (fname[0] == '.')
		fname++;
	if (strncmp(fname, "temp.", 5) == 0) {
		/* sdbox: .temp.<time>.P<pid>Q<n>M<usecs>.<host> */
		return strstr(fname, t_strconcat(".P", pid, "Q", NULL)) != NULL;
	}
	/* maildir: <time>.M<usecs>P<pid>.<host> */
	p = strstr(fname, ".M");
	if (p == NULL)
		return FALSE;
	for (p += 2; i_isdigit(*p); p++) ;
	return *p == 'P' && strncmp(p + 1, pid, pid_len) == 0 &&
		p[1 + pid_len] == '.';
}

/* Delete what the dead processes left in one directory; *max_sdbox_uid_r
   is the highest N of the sdbox mail files u.N there (0: none) */
static unsigned int
import_tempfiles_clean_dir(const char *dir,
			   const ARRAY_TYPE(const_string) *dead_pids,
			   uint32_t *max_sdbox_uid_r)
{
	DIR *dirp;
	struct dirent *d;
	const char *pid;
	unsigned int count = 0;
	uint32_t uid;

	*max_sdbox_uid_r = 0;
	dirp = opendir(dir);
	if (dirp == NULL)
		return 0;
	while ((d = readdir(dirp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (strncmp(d->d_name, "u.", 2) == 0 &&
		    str_to_uint32(d->d_name + 2, &uid) == 0 &&
		    uid > *max_sdbox_uid_r)
			*max_sdbox_uid_r = uid;
		array_foreach_elem(dead_pids, pid) {
			if (import_tempfiles_name_matches(d->d_name, pid,
							  my_hostname)) {
				if (i_unlink_if_exists(t_strdup_printf("%s/%s",
						dir, d->d_name)) > 0)
					count++;
				break;
			}
		}
	}
	(void)closedir(dirp);
	return count;
}

/* A process killed in the middle of an sdbox commit may have given its
   files their final names (u.N) without the index knowing them: the next
   save of that UID then fails ("already exists, rebuilding index"), and a
   rebuild would make them mail without the flags, keywords and dates that
   were only in the lost index transaction. They were never committed, so
   they are deleted - under the index's lock, which every commit holds
   while it names its files, so that no live delivery's files are among
   them. The import then copies those messages again, whole. Returns how
   many were deleted. */
static unsigned int
import_tempfiles_sdbox_drop_uncommitted(const struct mailbox_info *info,
					const char *dir)
{
	struct mailbox *box;
	struct mail_index_sync_ctx *sync_ctx;
	struct mail_index_view *view;
	struct mail_index_transaction *trans;
	struct event *event;
	DIR *dirp;
	struct dirent *d;
	uint32_t uid, next_uid;
	unsigned int count = 0;

	event = import_remote_event_create(info->ns->user->event);
	box = mailbox_alloc(info->ns->list, info->vname, 0);
	if (mailbox_open(box) < 0 ||
	    strcmp(box->storage->name, "sdbox") != 0) {
		mailbox_free(&box);
		event_unref(&event);
		return 0;
	}
	if (mail_index_sync_begin(box->index, &sync_ctx, &view, &trans,
				  0) <= 0) {
		e_warning(event, "Mailbox %s: "
			  "looking for mail files a killed import left failed: "
			  "%s", info->vname,
			  mailbox_get_last_internal_error(box, NULL));
		mailbox_free(&box);
		event_unref(&event);
		return 0;
	}
	next_uid = mail_index_get_header(view)->next_uid;
	if ((dirp = opendir(dir)) != NULL) {
		while ((d = readdir(dirp)) != NULL) {
			if (strncmp(d->d_name, "u.", 2) == 0 &&
			    str_to_uint32(d->d_name + 2, &uid) == 0 &&
			    uid >= next_uid &&
			    i_unlink_if_exists(t_strdup_printf("%s/%s",
					dir, d->d_name)) > 0)
				count++;
		}
		(void)closedir(dirp);
	}
	mail_index_sync_rollback(&sync_ctx);
	if (count > 0) {
		e_warning(event, "Mailbox %s: "
			  "deleted %u mail file(s) a killed import had not "
			  "committed (from u.%u on): they are copied again",
			  info->vname, count, next_uid);
	}
	mailbox_free(&box);
	event_unref(&event);
	return count;
}

static unsigned int
import_tempfiles_clean_mailboxes(struct mail_user *user,
				 const ARRAY_TYPE(const_string) *dead_pids,
				 const char **error_r)
{
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	const char *path;
	unsigned int count = 0;
	uint32_t max_uid, max_tmp_uid;

	iter = mailbox_list_iter_init_namespaces(user->namespaces,
		(const char *const []){ "*", NULL }, MAIL_NAMESPACE_TYPE_PRIVATE,
		MAILBOX_LIST_ITER_RETURN_NO_FLAGS |
		MAILBOX_LIST_ITER_NO_AUTO_BOXES);
	while ((info = mailbox_list_iter_next(iter)) != NULL) T_BEGIN {
		if (mailbox_list_get_path(info->ns->list,
				mailbox_list_get_storage_name(info->ns->list,
							      info->vname),
				MAILBOX_LIST_PATH_TYPE_MAILBOX, &path) > 0) {
			/* sdbox writes them among the mails, maildir in
			   tmp/ */
			count += import_tempfiles_clean_dir(path, dead_pids,
							    &max_uid);
			count += import_tempfiles_clean_dir(
				t_strconcat(path, "/tmp", NULL), dead_pids,
				&max_tmp_uid);
			if (max_uid > 0) {
				count += import_tempfiles_sdbox_drop_uncommitted(
					info, path);
			}
		}
	} T_END;
	if (mailbox_list_iter_deinit(&iter) < 0)
		*error_r = "Listing the local mailboxes failed";
	return count;
}

/* "<host>.<pid>" of a process of this host that is gone */
static bool import_tempfiles_mark_is_dead(const char *name, const char **pid_r)
{
	const char *host_dot = t_strconcat(my_hostname, ".", NULL);
	pid_t pid;

	if (strncmp(name, host_dot, strlen(host_dot)) != 0)
		return FALSE;
	*pid_r = name + strlen(host_dot);
	if (str_to_pid(*pid_r, &pid) < 0 || pid <= 0)
		return FALSE;
	if (strcmp(*pid_r, my_pid) == 0) {
		/* an earlier process with our pid: it is gone */
		return TRUE;
	}
	return kill(pid, 0) < 0 && errno == ESRCH;
}

struct import_tempfiles *
import_tempfiles_begin(struct mail_user *user, unsigned int *cleaned_r,
		       const char **error_r)
{
	struct import_tempfiles *tf;
	ARRAY_TYPE(const_string) dead_pids, dead_marks;
	const char *home, *dir, *pid, *mark;
	DIR *dirp;
	struct dirent *d;
	int fd;

	*cleaned_r = 0;
	*error_r = NULL;
	if (mail_user_get_home(user, &home) <= 0 || home == NULL ||
	    home[0] == '\0')
		return NULL;
	dir = t_strconcat(home, "/"IMPORT_TEMPFILES_DIR, NULL);
	if (mkdir_parents(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = t_strdup_printf("mkdir(%s) failed: %m", dir);
		return NULL;
	}

	t_array_init(&dead_pids, 4);
	t_array_init(&dead_marks, 4);
	dirp = opendir(dir);
	if (dirp == NULL) {
		*error_r = t_strdup_printf("opendir(%s) failed: %m", dir);
		return NULL;
	}
	while ((d = readdir(dirp)) != NULL) {
		if (d->d_name[0] == '.' ||
		    !import_tempfiles_mark_is_dead(d->d_name, &pid))
			continue;
		pid = t_strdup(pid);
		mark = t_strdup_printf("%s/%s", dir, d->d_name);
		array_push_back(&dead_pids, &pid);
		array_push_back(&dead_marks, &mark);
	}
	(void)closedir(dirp);
	if (array_count(&dead_pids) > 0) {
		*cleaned_r = import_tempfiles_clean_mailboxes(user, &dead_pids,
							      error_r);
		array_foreach_elem(&dead_marks, mark)
			i_unlink_if_exists(mark);
	}

	tf = i_new(struct import_tempfiles, 1);
	tf->mark_path = i_strdup_printf("%s/%s.%s", dir, my_hostname, my_pid);
	fd = open(tf->mark_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1) {
		*error_r = t_strdup_printf("open(%s) failed: %m", tf->mark_path);
		i_free(tf->mark_path);
		i_free(tf);
		return NULL;
	}
	i_close_fd(&fd);
	return tf;
}

void import_tempfiles_end(struct import_tempfiles **_tf)
{
	struct import_tempfiles *tf = *_tf;

	*_tf = NULL;
	i_unlink_if_exists(tf->mark_path);
	i_free(tf->mark_path);
	i_free(tf);
}
