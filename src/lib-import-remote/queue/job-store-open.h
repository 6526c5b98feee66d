#ifndef JOB_STORE_OPEN_H
#define JOB_STORE_OPEN_H

#include "secret-box.h"

/* Opening the queue as the settings say: the job store
   (import_remote_store) and the key that encrypts its source passwords
   (import_remote_key_file, created on first use). One function for the
   doveadm commands and the worker. */

struct event;
struct job_store;
struct import_remote_config;

enum job_store_open_flags {
	/* an admin command running as root on behalf of the mail users: a
	   SQLite file and the key file are opened (so created) as the owner
	   of the directory they live in, so that the workers and the
	   per-user commands, running as the mail user, can use them */
	JOB_STORE_OPEN_FLAG_AS_DIR_OWNER = 0x01,
};

/* Split import_remote_store's "driver:connect" */
int job_store_open_parse(const char *uri, const char **driver_r,
			 const char **connect_r, const char **error_r);

/* Can this process create (or read and write) the file at path (and
   files beside it)? If not, returns -1 with one error naming the path, the
   uid and the fix (setting: the setting that names the path). */
int job_store_check_access(const char *what, const char *path,
			   const char *setting, const char **error_r);

/* Open the store and, unless key_r is NULL, load the key. Returns 0, or -1
   with an error to show. */
int job_store_open_config(const struct import_remote_config *set,
			  struct event *event, enum job_store_open_flags flags,
			  struct job_store **store_r,
			  unsigned char key_r[SECRET_BOX_KEY_LEN],
			  const char **error_r);

#endif
