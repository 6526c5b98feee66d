#ifndef IMPORT_NOTICE_H
#define IMPORT_NOTICE_H

/* The message an automatic import leaves in the user's INBOX when it ends:
   completed (how many messages, folders), or failed with the error
   catalogue's title and hint. Never server text, never a password. The
   wording is built in, or comes from a template file
   (import_remote_notice_template): its first line "Subject: ...", then the
   body, with %{status} %{title} %{hint} %{host} %{source_user}
   %{imported} %{skipped} %{folders} %{until} replaced. */

struct job;
struct mail_user;
struct import_remote_config;

/* The message's subject and body (UTF-8, '\n' line ends). sync_until is
   "" unless the import repeats until then. template_text NULL: built in. */
void import_notice_format(const struct job *job, const char *sync_until,
			  const char *template_text,
			  const char **subject_r, const char **body_r);

/* Save it into the user's INBOX, from import_remote_notify_from (else
   postmaster@<hostname>). Returns 0, or -1 with an error. */
int import_notice_deliver(struct mail_user *user,
			  const struct import_remote_config *set,
			  const struct job *job, const char **error_r);

#endif
