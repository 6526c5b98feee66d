#ifndef IMPORT_TEMPFILES_H
#define IMPORT_TEMPFILES_H

/* What a killed import leaves in the user's mailboxes: the files of the
   messages it had saved and not yet committed (up to a commit's worth,
   MESSAGE_SAVER_COMMIT_MSGS). Dovecot names them after the process that
   wrote them (sdbox ".temp.<time>.P<pid>Q<n>M<usecs>.<host>", maildir
   "tmp/<time>.M<usecs>P<pid>.<host>") and deletes such files only when
   they are 36 hours old.

   So each import marks itself: ~/.dovecot-import-remote/running/<host>.<pid>,
   removed when it ends. An import that finds a mark of this host whose
   process is gone deletes that process's temporary files in the user's
   mailboxes, then the mark. A mark of another host (shared storage) is
   left to an import on that host.

   A process killed in the middle of an sdbox commit may also leave mail
   files with their final names (u.N) that the index doesn't know; the
   next save of that UID would fail. An sdbox mailbox with a u.N beyond
   its UIDNEXT is rebuilt then (those messages become mail of the mailbox,
   and the duplicate check skips them). */

struct mail_user;
struct import_tempfiles;

/* Clean up after killed imports of this user and mark this one. Returns
   the mark (NULL if the user has no home); *cleaned_r is the number of
   files deleted. A problem does not stop the import: *error_r is set for a
   warning. */
struct import_tempfiles *
import_tempfiles_begin(struct mail_user *user, unsigned int *cleaned_r,
		       const char **error_r);
/* This import ended: remove its mark */
void import_tempfiles_end(struct import_tempfiles **tf);

/* TRUE if fname is a temporary file of process pid on host (sdbox or
   maildir naming) */
bool import_tempfiles_name_matches(const char *fname, const char *pid,
				   const char *host);

#endif
